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
//
// Each publish is bounded by its own timeout (DefaultTimeout unless
// WithTimeout says otherwise), so an endpoint that accepts connections and
// never answers costs the caller that long, not the whole of its own
// deadline: the API can still answer 503 in time.
package sns

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"flashsale/internal/order"
	"flashsale/internal/queue"
)

// AttributeOrderID is the message attribute that carries the order's ID, so
// that subscriptions can filter on it and consumers can log it without
// decoding the body.
const AttributeOrderID = "order_id"

// DefaultTimeout bounds one Publish call when no other timeout is set: SNS
// answers in tens of milliseconds, so 5 s leaves room for the SDK's own
// retries while staying well inside the API's deadline.
const DefaultTimeout = 5 * time.Second

// API is the part of the SNS client the publisher uses; *sns.Client
// implements it.
type API interface {
	Publish(ctx context.Context, in *awssns.PublishInput, optFns ...func(*awssns.Options)) (*awssns.PublishOutput, error)
}

// Publisher publishes orders to one SNS topic. It is safe for concurrent use.
type Publisher struct {
	client   API
	topicARN string
	timeout  time.Duration
}

var _ queue.Publisher = (*Publisher)(nil)

// Option configures a Publisher.
type Option func(*options)

// options are what the Options set.
type options struct {
	timeout time.Duration
}

// WithTimeout bounds each Publish call by d, whatever the caller's context
// allows: past it, Publish gives up and returns an error that wraps
// context.DeadlineExceeded. Zero means DefaultTimeout; a negative d is
// refused by New.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

func collect(opts []Option) options {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// New returns a publisher to the topic topicARN through client.
func New(client API, topicARN string, opts ...Option) (*Publisher, error) {
	if client == nil {
		return nil, errors.New("sns: a client is required")
	}
	if !strings.HasPrefix(topicARN, "arn:") || strings.Count(topicARN, ":") < 5 {
		return nil, fmt.Errorf("sns: topic ARN %q: want arn:PARTITION:sns:REGION:ACCOUNT:NAME", topicARN)
	}
	o := collect(opts)
	if o.timeout < 0 {
		return nil, fmt.Errorf("sns: publish timeout %v must not be negative", o.timeout)
	}
	if o.timeout == 0 {
		o.timeout = DefaultTimeout
	}
	return &Publisher{client: client, topicARN: topicARN, timeout: o.timeout}, nil
}

// TopicARN is the topic the publisher publishes to.
func (p *Publisher) TopicARN() string { return p.topicARN }

// Timeout is the bound of one Publish call.
func (p *Publisher) Timeout() time.Duration { return p.timeout }

// Publish publishes o to the topic. A nil error means SNS accepted the
// message. When SNS throttles the publisher the error wraps queue.ErrFull;
// every error wraps the SDK's error, and a cancelled ctx publishes nothing.
// The call lasts at most the publisher's timeout (or ctx's deadline when it
// is sooner); when SNS has not answered by then, the error wraps
// context.DeadlineExceeded. SNS may still have accepted such a message:
// consumers recognise duplicates by order_id.
func (p *Publisher) Publish(ctx context.Context, o order.Order) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sns: publish order %s: %w", o.ID, err)
	}
	body, err := order.Marshal(o)
	if err != nil {
		return fmt.Errorf("sns: encode order %s: %w", o.ID, err)
	}
	pctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	_, err = p.client.Publish(pctx, &awssns.PublishInput{
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
		if ctx.Err() == nil && pctx.Err() != nil {
			return fmt.Errorf("sns: publish order %s: no answer within %v: %w", o.ID, p.timeout, err)
		}
		return fmt.Errorf("sns: publish order %s: %w", o.ID, err)
	}
	return nil
}
