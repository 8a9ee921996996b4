package sqs_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"flashsale/internal/queue/queuetest"
	"flashsale/internal/queue/sns"
	"flashsale/internal/queue/sns/snstest"
	"flashsale/internal/queue/sqs"
	"flashsale/internal/testutil/moto"
)

var queueSeq atomic.Int64

// TestContract runs the queue contract on a moto_server: orders published to
// an SNS topic by the SNS publisher, received from the SQS queue subscribed
// to it, with raw message delivery and with SNS envelopes.
func TestContract(t *testing.T) {
	srv := moto.Start(t)
	cfg := srv.Config(t)
	for _, raw := range []bool{true, false} {
		t.Run(fmt.Sprintf("raw=%v", raw), func(t *testing.T) {
			queuetest.Run(t, func(t *testing.T) queuetest.Harness {
				name := fmt.Sprintf("contract-%d", queueSeq.Add(1))
				fx := snstest.NewTopicWithQueue(t, cfg, name, raw)
				pub, err := sns.New(awssns.NewFromConfig(cfg), fx.TopicARN)
				if err != nil {
					t.Fatal(err)
				}
				c, err := sqs.New(t.Context(), fx.SQS, sqs.Config{QueueURL: fx.QueueURL, Logger: quiet})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := c.Close(ctx); err != nil {
						t.Errorf("close: %v", err)
					}
				})
				return queuetest.Harness{Publisher: pub, Consumer: c, Redelivery: 2 * time.Second}
			})
		})
	}
}
