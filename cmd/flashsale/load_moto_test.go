package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"flashsale/internal/testutil/moto"
)

type motoQueue struct {
	endpoint, queueURL string
}

// motoStart starts moto_server with one empty queue and points the SDK's
// region and credentials at it for the test.
func motoStart(t *testing.T) motoQueue {
	t.Helper()
	srv := moto.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if k != "AWS_ENDPOINT_URL" {
			t.Setenv(k, v)
		}
	}
	client := awssqs.NewFromConfig(srv.Config(t))
	q, err := client.CreateQueue(context.Background(), &awssqs.CreateQueueInput{QueueName: aws.String("load-depth")})
	if err != nil {
		t.Fatal(err)
	}
	return motoQueue{endpoint: srv.Endpoint, queueURL: *q.QueueUrl}
}
