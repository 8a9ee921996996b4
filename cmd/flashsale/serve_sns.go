package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"flashsale/internal/queue/sns"
	"flashsale/internal/server"
)

// serve --topic-arn: the API alone, publishing async orders to SNS (the
// worker service or the processor Lambda consumes them).
func init() {
	var (
		topicARN, endpoint string
		publishTimeout     time.Duration
	)
	serveExtensions = append(serveExtensions, serveExtension{
		flags: func(fs flagSet) {
			fs.StringVar(&topicARN, "topic-arn", "", "publish async orders to this SNS topic and run the API alone: no in-process queue, no workers\n(AWS settings from the SDK's environment: AWS_REGION, credentials, AWS_ENDPOINT_URL)")
			fs.StringVar(&endpoint, "endpoint-url", "", "with --topic-arn or --orders-table: AWS endpoint, e.g. http://127.0.0.1:5000 for moto_server (default: the SDK's, AWS_ENDPOINT_URL)")
			fs.DurationVar(&publishTimeout, "publish-timeout", sns.DefaultTimeout, "with --topic-arn: the longest one SNS publish may take before the order is answered 503")
			serveStore.registerTable(fs)
		},
		apply: func(ctx context.Context, cfg *server.Config, log *slog.Logger) error {
			if serveStore.table != "" {
				awsCfg, err := loadAWSConfig(ctx, endpoint)
				if err != nil {
					return err
				}
				store, err := serveStore.openTable(ctx, awsCfg)
				if err != nil {
					return err
				}
				cfg.Store = store
				log.Info("orders are recorded in DynamoDB", "orders_table", serveStore.table)
			}
			if topicARN == "" {
				if endpoint != "" && serveStore.table == "" {
					return usageError{errors.New("--endpoint-url needs --topic-arn or --orders-table")}
				}
				return nil
			}
			if publishTimeout <= 0 {
				return usageError{fmt.Errorf("--publish-timeout %v: must be positive", publishTimeout)}
			}
			pub, err := snsPublisher(ctx, topicARN, endpoint, publishTimeout)
			if err != nil {
				return err
			}
			cfg.Publisher = pub
			log.Info("async orders go to SNS; the API runs alone", "topic_arn", topicARN)
			return nil
		},
	})
}

// snsPublisher builds the SNS publisher of topicARN and checks that the
// topic can be reached, so that a wrong ARN, endpoint or credentials fail at
// start-up rather than as 503s on every order. Each publish then lasts at
// most publishTimeout.
func snsPublisher(ctx context.Context, topicARN, endpoint string, publishTimeout time.Duration) (*sns.Publisher, error) {
	awsCfg, err := loadAWSConfig(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	client := awssns.NewFromConfig(awsCfg)
	pub, err := sns.New(client, topicARN, sns.WithTimeout(publishTimeout))
	if err != nil {
		return nil, usageError{fmt.Errorf("--topic-arn: %w", err)}
	}
	checkCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := client.GetTopicAttributes(checkCtx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(topicARN)}); err != nil {
		return nil, fmt.Errorf("SNS topic %s cannot be reached at %s: %w", topicARN, endpointOf(awsCfg), err)
	}
	return pub, nil
}
