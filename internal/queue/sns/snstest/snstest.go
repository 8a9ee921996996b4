// Package snstest gives tests an SNS topic with an SQS queue subscribed to it
// on a local emulator (moto_server), and a minimal queue.Consumer of that
// queue, so that what a publisher sends to the topic can be read back. It is
// for tests only: the worker service's real SQS consumer lives elsewhere.
package snstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"flashsale/internal/order"
	"flashsale/internal/queue"
)

// Fixture is a topic and an SQS queue subscribed to it.
type Fixture struct {
	// TopicARN is the topic's ARN.
	TopicARN string
	// QueueURL is the subscribed queue's URL.
	QueueURL string
	// SNS and SQS are clients of the emulator.
	SNS *awssns.Client
	SQS *sqs.Client
	// Raw tells whether the subscription delivers raw messages (the body is
	// the published message) or SNS envelopes (a JSON notification).
	Raw bool
}

// NewTopicWithQueue creates a topic and a queue named name on the emulator
// that cfg points at, and subscribes the queue to the topic, with raw message
// delivery when raw is true. The test fails when it cannot.
func NewTopicWithQueue(t testing.TB, cfg aws.Config, name string, raw bool) *Fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := Create(ctx, cfg, name, raw)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Create is NewTopicWithQueue for programs: it returns an error instead of
// failing a test.
func Create(ctx context.Context, cfg aws.Config, name string, raw bool) (*Fixture, error) {
	f := &Fixture{SNS: awssns.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg), Raw: raw}
	topic, err := f.SNS.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("create topic %s: %w", name, err)
	}
	f.TopicARN = aws.ToString(topic.TopicArn)
	q, err := f.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(name),
		Attributes: map[string]string{string(sqstypes.QueueAttributeNameVisibilityTimeout): "30"},
	})
	if err != nil {
		return nil, fmt.Errorf("create queue %s: %w", name, err)
	}
	f.QueueURL = aws.ToString(q.QueueUrl)
	attrs, err := f.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return nil, fmt.Errorf("queue ARN of %s: %w", name, err)
	}
	_, err = f.SNS.Subscribe(ctx, &awssns.SubscribeInput{
		TopicArn:   topic.TopicArn,
		Protocol:   aws.String("sqs"),
		Endpoint:   aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
		Attributes: map[string]string{"RawMessageDelivery": strconv.FormatBool(raw)},
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s to %s: %w", name, f.TopicARN, err)
	}
	return f, nil
}

// Message is one message read from the subscribed queue.
type Message struct {
	// Body is the SQS message body: the published message when the
	// subscription is raw, an SNS notification envelope otherwise.
	Body string
	// Attributes are the SQS message attributes (string values only).
	Attributes map[string]string
	// ID and ReceiptHandle identify the message in SQS.
	ID, ReceiptHandle string
	// Receives is SQS's ApproximateReceiveCount.
	Receives int
}

// Receive waits until a message is in the queue or ctx ends (returning an
// error that wraps the context's error).
func (f *Fixture) Receive(ctx context.Context) (*Message, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("receive from %s: %w", f.QueueURL, err)
		}
		out, err := f.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(f.QueueURL),
			MaxNumberOfMessages:         1,
			WaitTimeSeconds:             1,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("receive from %s: %w", f.QueueURL, ctx.Err())
			}
			return nil, fmt.Errorf("receive from %s: %w", f.QueueURL, err)
		}
		if len(out.Messages) == 0 {
			continue
		}
		m := out.Messages[0]
		msg := &Message{
			Body:          aws.ToString(m.Body),
			ID:            aws.ToString(m.MessageId),
			ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Attributes:    map[string]string{},
		}
		msg.Receives, _ = strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
		for k, v := range m.MessageAttributes {
			if v.StringValue != nil {
				msg.Attributes[k] = *v.StringValue
			}
		}
		return msg, nil
	}
}

// Consumer returns a minimal queue.Consumer of the subscribed queue: Ack
// deletes a message, Nack makes it visible again at once. The subscription
// must be raw, so that each body is an order.
func (f *Fixture) Consumer() queue.Consumer { return consumer{f} }

type consumer struct{ f *Fixture }

func (c consumer) Receive(ctx context.Context) (*queue.Delivery, error) {
	if !c.f.Raw {
		return nil, errors.New("snstest: the consumer needs a raw subscription")
	}
	m, err := c.f.Receive(ctx)
	if err != nil {
		return nil, err
	}
	o, err := order.Unmarshal([]byte(m.Body))
	return &queue.Delivery{Order: o, Err: err, ID: m.ID, Receives: m.Receives, Handle: m.ReceiptHandle}, nil
}

func (c consumer) Ack(ctx context.Context, d *queue.Delivery) error {
	h, _ := d.Handle.(string)
	if _, err := c.f.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(c.f.QueueURL), ReceiptHandle: aws.String(h)}); err != nil {
		return fmt.Errorf("ack %s: %w", d.ID, err)
	}
	return nil
}

func (c consumer) Nack(ctx context.Context, d *queue.Delivery) error {
	h, _ := d.Handle.(string)
	if _, err := c.f.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(c.f.QueueURL), ReceiptHandle: aws.String(h), VisibilityTimeout: 0,
	}); err != nil {
		return fmt.Errorf("nack %s: %w", d.ID, err)
	}
	return nil
}

// Silent starts, for the test, a TCP listener on a free loopback port that
// accepts connections, reads what it is sent and never answers: an AWS
// endpoint that hangs. It returns the endpoint's URL (http://127.0.0.1:PORT)
// and closes the listener and every connection at cleanup.
func Silent(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}
