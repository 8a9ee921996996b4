// Package sns is the Amazon SNS backend of the async path: a queue.Publisher
// that publishes each order, as the JSON of order.Order, to one SNS topic with
// an order_id message attribute. SNS only fans out: the orders are consumed
// from what is subscribed to the topic (the processor Lambda, or an SQS queue
// drained by the worker service).
//
// The client comes from the SDK's default configuration, so the SDK's own
// settings (AWS_REGION, credentials, AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_SNS)
// point it at AWS or at a local emulator such as moto_server without any code
// of ours.
package sns

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"flashsale/internal/order"
	"flashsale/internal/queue"
)

// AttributeOrderID is the message attribute that carries the order's ID, so
// that subscriptions can filter on it and consumers can log it without
// decoding the body.
const AttributeOrderID = "order_id"

// API is the part of the SNS client the publisher uses; *sns.Client
// implements it.
type API interface {
	Publish(ctx context.Context, in *awssns.PublishInput, optFns ...func(*awssns.Options)) (*awssns.PublishOutput, error)
}

// Publisher publishes orders to one SNS topic. It is safe for concurrent use.
type Publisher struct {
	client   API
	topicARN string
}

var _ queue.Publisher = (*Publisher)(nil)

// New returns a publisher to the topic topicARN through client.
func New(client API, topicARN string) (*Publisher, error) {
	if client == nil {
		return nil, errors.New("sns: a client is required")
	}
	if !strings.HasPrefix(topicARN, "arn:") || strings.Count(topicARN, ":") < 5 {
		return nil, fmt.Errorf("sns: topic ARN %q: want arn:PARTITION:sns:REGION:ACCOUNT:NAME", topicARN)
	}
	return &Publisher{client: client, topicARN: topicARN}, nil
}

// NewFromEnv builds an SNS client from the SDK's default configuration
// (environment, shared config files, the Lambda role) and returns a publisher
// to topicARN. Call it once per process: the client keeps its connections.
func NewFromEnv(ctx context.Context, topicARN string, optFns ...func(*config.LoadOptions) error) (*Publisher, error) {
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return nil, fmt.Errorf("sns: load AWS configuration: %w", err)
	}
	return New(awssns.NewFromConfig(cfg), topicARN)
}

// TopicARN is the topic the publisher publishes to.
func (p *Publisher) TopicARN() string { return p.topicARN }

// Publish publishes o to the topic. A nil error means SNS accepted the
// message. When SNS throttles the publisher the error wraps queue.ErrFull;
// every error wraps the SDK's error, and a cancelled ctx publishes nothing.
func (p *Publisher) Publish(ctx context.Context, o order.Order) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sns: publish order %s: %w", o.ID, err)
	}
	body, err := order.Marshal(o)
	if err != nil {
		return fmt.Errorf("sns: encode order %s: %w", o.ID, err)
	}
	_, err = p.client.Publish(ctx, &awssns.PublishInput{
		TopicArn: aws.String(p.topicARN),
		Message:  aws.String(string(body)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			AttributeOrderID: {DataType: aws.String("String"), StringValue: aws.String(o.ID)},
		},
	})
	if err != nil {
		var throttled *types.ThrottledException
		if errors.As(err, &throttled) {
			return fmt.Errorf("sns: publish order %s: %w: %w", o.ID, queue.ErrFull, err)
		}
		return fmt.Errorf("sns: publish order %s: %w", o.ID, err)
	}
	return nil
}
