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
	"time"

	"flashsale/internal/order"
	"flashsale/internal/queue"
)

// Queue is a bounded in-process queue. It implements queue.Publisher,
// queue.Consumer, queue.Retrier and queue.DepthReader, and is safe for
// concurrent use.
//
// Orders wait in a slice that grows with the backlog, not in a buffer of the
// full capacity: a queue of capacity ten million costs nothing until orders
// arrive, and the garbage collector scans only what is queued.
type Queue struct {
	mu       sync.Mutex
	capacity int
	closed   bool
	items    []order.Order // FIFO; items[0] is the next to deliver
	// ready holds a token when an order may be waiting: Publish and Nack
	// put one, and a receiver that leaves orders behind passes it on, so
	// one waiting receiver wakes per order rather than all of them.
	ready chan struct{}
	done  chan struct{} // closed by Close
	seq   atomic.Uint64
	// delayed are the orders NackAfter holds until their delay ends.
	delayed map[*time.Timer]order.Order
}

// New returns a queue that accepts up to capacity orders from Publish.
// restored orders (for example read from a spill file) are enqueued first
// and may exceed the capacity: they were accepted before and must not be
// dropped.
func New(capacity int, restored ...order.Order) (*Queue, error) {
	if capacity < 1 {
		return nil, fmt.Errorf("queue capacity %d: must be at least 1", capacity)
	}
	q := &Queue{capacity: capacity, ready: make(chan struct{}, 1), done: make(chan struct{})}
	if len(restored) > 0 {
		q.items = append([]order.Order(nil), restored...)
		q.signal()
	}
	return q, nil
}

// Capacity is the number of orders Publish accepts before answering ErrFull.
func (q *Queue) Capacity() int { return q.capacity }

// signal wakes one waiting receiver, or leaves a token for the next one.
func (q *Queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default: // a token is already there
	}
}

// Publish enqueues o, or returns queue.ErrFull when the queue holds its
// capacity, queue.ErrClosed after Close, or the context's error.
func (q *Queue) Publish(ctx context.Context, o order.Order) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %s: %w", o.ID, err)
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return fmt.Errorf("publish %s: %w", o.ID, queue.ErrClosed)
	}
	if len(q.items) >= q.capacity {
		q.mu.Unlock()
		return fmt.Errorf("publish %s: %w (capacity %d)", o.ID, queue.ErrFull, q.capacity)
	}
	q.items = append(q.items, o)
	q.mu.Unlock()
	q.signal()
	return nil
}

// Receive returns the next order, waiting for one. After Close it returns
// the orders still queued, then queue.ErrClosed.
func (q *Queue) Receive(ctx context.Context) (*queue.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for {
		// No context check here: a receiver that took the token must pop
		// (and so pass the token on), or another would wait for nothing.
		if o, ok, closed := q.pop(); ok {
			return q.delivery(o), nil
		} else if closed {
			return nil, queue.ErrClosed
		}
		select {
		case <-q.ready:
		case <-q.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// pop takes the next order. ok is false when there is none; closed then
// says whether none will come.
func (q *Queue) pop() (o order.Order, ok, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		q.items = nil // let the emptied backing array go
		return order.Order{}, false, q.closed
	}
	o = q.items[0]
	q.items[0] = order.Order{} // drop the references the array still holds
	q.items = q.items[1:]
	if len(q.items) > 0 {
		q.signal() // pass the token on: another receiver may take the next
	}
	return o, true, false
}

func (q *Queue) delivery(o order.Order) *queue.Delivery {
	return &queue.Delivery{Order: o, ID: fmt.Sprintf("mem-%d", q.seq.Add(1)), Receives: 1}
}

// Ack settles a delivery. The in-process queue removed it at Receive, so
// there is nothing left to do.
func (q *Queue) Ack(context.Context, *queue.Delivery) error { return nil }

// Nack puts the order back at the tail of the queue, beyond the capacity if
// need be (and after Close too): it was accepted once and must not be lost.
func (q *Queue) Nack(_ context.Context, d *queue.Delivery) error {
	if d == nil || d.Err != nil {
		return nil // nothing that could be paid
	}
	q.mu.Lock()
	q.items = append(q.items, d.Order)
	q.mu.Unlock()
	q.signal()
	return nil
}

// NackAfter gives the order back after delay (queue.Retrier): for an
// order another processor holds until its claim ends. Drain returns it if
// the delay has not ended by then.
func (q *Queue) NackAfter(_ context.Context, d *queue.Delivery, delay time.Duration) error {
	if d == nil || d.Err != nil {
		return nil
	}
	if delay <= 0 {
		return q.Nack(context.Background(), d)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.delayed == nil {
		q.delayed = map[*time.Timer]order.Order{}
	}
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		q.mu.Lock()
		o, ok := q.delayed[t]
		if ok {
			delete(q.delayed, t)
			q.items = append(q.items, o)
		}
		q.mu.Unlock()
		if ok {
			q.signal()
		}
	})
	q.delayed[t] = d.Order
	return nil
}

// Depth is the number of orders waiting.
func (q *Queue) Depth(context.Context) (int, error) { return q.Len(), nil }

// Len is the number of orders waiting, those given back for later
// included.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) + len(q.delayed)
}

// Close stops Publish from accepting orders. Receive keeps returning what is
// queued, then queue.ErrClosed. Close is idempotent.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
}

// Drain removes and returns every order still queued. Call it after Close,
// once no worker receives any more, to spill the rest.
func (q *Queue) Drain() []order.Order {
	q.Close()
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items = nil
	for t, o := range q.delayed {
		// A timer that fired finds its order gone: it is here.
		t.Stop()
		out = append(out, o)
	}
	q.delayed = nil
	return out
}
