// Package memory is the in-process queue of the embedded default: a bounded
// FIFO of orders shared by the API and the worker pool in one process. What
// is still queued at shutdown can be spilled to a JSON-lines file and
// restored by the next process.
package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"flashsale/internal/order"
	"flashsale/internal/queue"
)

// Queue is a bounded in-process queue. It implements queue.Publisher,
// queue.Consumer and queue.DepthReader, and is safe for concurrent use.
type Queue struct {
	mu       sync.Mutex
	capacity int
	closed   bool
	ch       chan order.Order // buffered; closed by Close
	requeued []order.Order    // orders given back after Close
	seq      atomic.Uint64
}

// New returns a queue that accepts up to capacity orders from Publish.
// restored orders (for example read from a spill file) are enqueued first
// and may exceed the capacity: they were accepted before and must not be
// dropped.
func New(capacity int, restored ...order.Order) (*Queue, error) {
	if capacity < 1 {
		return nil, fmt.Errorf("queue capacity %d: must be at least 1", capacity)
	}
	q := &Queue{capacity: capacity, ch: make(chan order.Order, capacity+len(restored))}
	for _, o := range restored {
		q.ch <- o
	}
	return q, nil
}

// Capacity is the number of orders Publish accepts before answering ErrFull.
func (q *Queue) Capacity() int { return q.capacity }

// Publish enqueues o, or returns queue.ErrFull when the queue holds its
// capacity, queue.ErrClosed after Close, or the context's error.
func (q *Queue) Publish(ctx context.Context, o order.Order) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %s: %w", o.ID, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return fmt.Errorf("publish %s: %w", o.ID, queue.ErrClosed)
	}
	if len(q.ch) >= q.capacity {
		return fmt.Errorf("publish %s: %w (capacity %d)", o.ID, queue.ErrFull, q.capacity)
	}
	q.ch <- o // never blocks: the buffer is at least capacity and we hold mu
	return nil
}

// Receive returns the next order, waiting for one. After Close it returns
// the orders still queued, then queue.ErrClosed.
func (q *Queue) Receive(ctx context.Context) (*queue.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Orders given back while the buffer was full wait aside; serve them
	// first so that they are never stranded behind an empty channel.
	if d, err := q.receiveRequeued(); err == nil {
		return d, nil
	}
	select {
	case o, ok := <-q.ch:
		if !ok {
			return q.receiveRequeued()
		}
		return q.delivery(o), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (q *Queue) receiveRequeued() (*queue.Delivery, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.requeued) == 0 {
		return nil, queue.ErrClosed
	}
	o := q.requeued[0]
	q.requeued = q.requeued[1:]
	return q.delivery(o), nil
}

func (q *Queue) delivery(o order.Order) *queue.Delivery {
	return &queue.Delivery{Order: o, ID: fmt.Sprintf("mem-%d", q.seq.Add(1)), Receives: 1}
}

// Ack settles a delivery. The in-process queue removed it at Receive, so
// there is nothing left to do.
func (q *Queue) Ack(context.Context, *queue.Delivery) error { return nil }

// Nack puts the order back at the tail of the queue, beyond the capacity if
// need be: it was accepted once and must not be lost.
func (q *Queue) Nack(_ context.Context, d *queue.Delivery) error {
	if d == nil || d.Err != nil {
		return nil // nothing that could be paid
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.requeued = append(q.requeued, d.Order)
		return nil
	}
	select {
	case q.ch <- d.Order:
	default:
		// The buffer is full of published orders; keep this one aside and
		// deliver it after them rather than block or drop it.
		q.requeued = append(q.requeued, d.Order)
	}
	return nil
}

// Depth is the number of orders waiting.
func (q *Queue) Depth(context.Context) (int, error) { return q.Len(), nil }

// Len is the number of orders waiting.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ch) + len(q.requeued)
}

// Close stops Publish from accepting orders. Receive keeps returning what is
// queued, then queue.ErrClosed. Close is idempotent.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}

// Drain removes and returns every order still queued. Call it after Close,
// once no worker receives any more, to spill the rest.
func (q *Queue) Drain() []order.Order {
	q.Close()
	var out []order.Order
	for o := range q.ch {
		out = append(out, o)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	out = append(out, q.requeued...)
	q.requeued = nil
	return out
}
