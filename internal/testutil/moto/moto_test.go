package moto_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"flashsale/internal/testutil/moto"
)

func TestStartServesSNS(t *testing.T) {
	s := moto.Start(t)
	client := sns.NewFromConfig(s.Config(t))
	out, err := client.CreateTopic(context.Background(), &sns.CreateTopicInput{Name: new("orders")})
	if err != nil {
		t.Fatalf("create topic on moto: %v", err)
	}
	if out.TopicArn == nil || *out.TopicArn == "" {
		t.Fatal("no topic ARN")
	}
}
