package depth

import (
	"context"
	"errors"

	"flashsale/internal/queue/sqs"
)

// SQS reads an SQS queue through the worker service's sqs.Gauge: the
// visible messages (ApproximateNumberOfMessages) as the depth and the
// received, unsettled ones (ApproximateNumberOfMessagesNotVisible) as the
// payments in flight. The sampler takes a bare *sqs.Gauge too (it is a
// queue.DepthReader); this adapter adds the in-flight count, for
// Sampler.WaitForPayments.
type SQS struct {
	gauge *sqs.Gauge
}

// NewSQS returns a depth source reading gauge.
func NewSQS(gauge *sqs.Gauge) (*SQS, error) {
	if gauge == nil {
		return nil, errors.New("sqs depth: a gauge is required")
	}
	return &SQS{gauge: gauge}, nil
}

// Depth implements queue.DepthReader.
func (q *SQS) Depth(ctx context.Context) (int, error) {
	return q.gauge.Depth(ctx)
}

// Read implements Reader. SQS does not count processed messages, so
// Processed is -1.
func (q *SQS) Read(ctx context.Context) (Reading, error) {
	c, err := q.gauge.Counts(ctx)
	if err != nil {
		return Reading{}, err
	}
	return Reading{Depth: c.Visible, Processed: -1, InFlight: c.NotVisible}, nil
}
