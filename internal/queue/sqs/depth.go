package sqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"flashsale/internal/queue"
)

// AttributesAPI is the part of the SQS client that reads queue attributes;
// *sqs.Client implements it.
type AttributesAPI interface {
	GetQueueAttributes(ctx context.Context, in *awssqs.GetQueueAttributesInput, optFns ...func(*awssqs.Options)) (*awssqs.GetQueueAttributesOutput, error)
}

// Counts are SQS's approximate message counts of a queue.
type Counts struct {
	// Visible is ApproximateNumberOfMessages: messages waiting to be
	// received.
	Visible int
	// NotVisible is ApproximateNumberOfMessagesNotVisible: messages received
	// and neither deleted nor visible again yet (in flight).
	NotVisible int
	// Delayed is ApproximateNumberOfMessagesDelayed.
	Delayed int
}

// Total is every message in the queue, whatever its state.
func (c Counts) Total() int { return c.Visible + c.NotVisible + c.Delayed }

// Gauge reads a queue's approximate counts. It implements queue.DepthReader
// with the visible messages, the backlog that workers have not taken yet.
type Gauge struct {
	client   AttributesAPI
	queueURL string
}

var _ queue.DepthReader = (*Gauge)(nil)

// NewGauge returns a gauge of the queue at queueURL.
func NewGauge(client AttributesAPI, queueURL string) (*Gauge, error) {
	if client == nil {
		return nil, errors.New("sqs: a client is required")
	}
	if queueURL == "" {
		return nil, errors.New("sqs: a queue URL is required")
	}
	return &Gauge{client: client, queueURL: queueURL}, nil
}

// QueueURL is the URL of the queue the gauge reads.
func (g *Gauge) QueueURL() string { return g.queueURL }

// Counts reads the queue's approximate counts with one GetQueueAttributes.
func (g *Gauge) Counts(ctx context.Context) (Counts, error) {
	out, err := g.client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(g.queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		return Counts{}, fmt.Errorf("sqs: attributes of %s: %w", g.queueURL, err)
	}
	var c Counts
	for name, dst := range map[types.QueueAttributeName]*int{
		types.QueueAttributeNameApproximateNumberOfMessages:           &c.Visible,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible: &c.NotVisible,
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed:    &c.Delayed,
	} {
		v, ok := out.Attributes[string(name)]
		if !ok {
			continue // an emulator may leave out a zero count
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return Counts{}, fmt.Errorf("sqs: attribute %s of %s = %q: %w", name, g.queueURL, v, err)
		}
		*dst = n
	}
	return c, nil
}

// Depth is the number of visible messages (ApproximateNumberOfMessages).
func (g *Gauge) Depth(ctx context.Context) (int, error) {
	c, err := g.Counts(ctx)
	if err != nil {
		return 0, err
	}
	return c.Visible, nil
}
