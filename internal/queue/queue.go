// Package queue defines the small interfaces between the order API, the
// queues that carry orders and the workers that drain them. Each backend
// lives in a sub-package (memory, sns, sqs) and passes the shared contract
// suite in queuetest.
package queue

import (
	"context"
	"errors"
	"time"

	"flashsale/internal/order"
)

// ErrFull is returned by Publish when the queue has no room; the API answers
// 503 with Retry-After.
var ErrFull = errors.New("queue full")

// ErrClosed is returned by Publish after the queue was closed, and by Receive
// once a closed queue has no more messages.
var ErrClosed = errors.New("queue closed")

// Publisher hands an order to a queue. A nil error means the order is
// durably accepted by the queue: it will be delivered at least once.
type Publisher interface {
	Publish(ctx context.Context, o order.Order) error
}

// Delivery is one message received from a queue.
type Delivery struct {
	// Order is the decoded order; zero when Err is set.
	Order order.Order
	// Err is set when the message is not a valid order (a poison message).
	// The worker never pays it and leaves it to the backend's dead-letter
	// handling through Nack.
	Err error
	// ID is the backend's message ID, for logs.
	ID string
	// Receives is how many times the backend has delivered the message,
	// when it knows (1 on first delivery); 0 when unknown.
	Receives int
	// Handle is the backend's own handle (for SQS, the receipt handle).
	Handle any
}

// Consumer receives orders one at a time. Every delivery must be settled
// with exactly one Ack or Nack.
type Consumer interface {
	// Receive blocks until a message is available, ctx ends (returning the
	// context's error) or the queue is closed and empty (ErrClosed).
	Receive(ctx context.Context) (*Delivery, error)
	// Ack settles a message for good: it was processed and is removed.
	Ack(ctx context.Context, d *Delivery) error
	// Nack gives a message back: it will be delivered again (or, past the
	// backend's retry limit, moved to a dead-letter queue).
	Nack(ctx context.Context, d *Delivery) error
}

// Retrier is a Consumer that can give a message back for a chosen time
// (SQS: its visibility), as for an order that another processor holds until
// its claim ends.
type Retrier interface {
	NackAfter(ctx context.Context, d *Delivery, delay time.Duration) error
}

// DepthReader reports how many messages wait in a queue.
type DepthReader interface {
	Depth(ctx context.Context) (int, error)
}
