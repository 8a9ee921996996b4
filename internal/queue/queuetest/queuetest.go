// Package queuetest is the contract every queue backend passes: what is
// published is received intact, every order exactly once when acknowledged,
// a Nack gives the message back, and Receive honours its context.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/queue"
)

// Harness is one fresh, empty queue under test.
type Harness struct {
	// Publisher publishes orders into the queue under test.
	Publisher queue.Publisher
	// Consumer receives what was published (for a publish-only backend such
	// as SNS, a consumer of a queue subscribed to it).
	Consumer queue.Consumer
	// Redelivery is the longest a Nacked message may take to come back (a
	// visibility timeout); a few seconds when zero.
	Redelivery time.Duration
}

// NewOrder returns a valid pending order with a fresh ID.
func NewOrder(t testing.TB, customer int64) order.Order {
	t.Helper()
	o, err := order.New(order.Request{
		CustomerID: customer,
		Items: []order.Item{
			{ProductID: "sku-1", Quantity: 2, Price: 10.5},
			{ProductID: fmt.Sprintf("sku-%d", customer), Quantity: 1, Price: 0},
		},
	}, time.Now())
	if err != nil {
		t.Fatalf("new order: %v", err)
	}
	return o
}

// Run runs the contract against queues made by newHarness, one per subtest.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("PublishReceiveIntact", func(t *testing.T) { testIntact(t, newHarness(t)) })
	t.Run("EachOrderOnce", func(t *testing.T) { testEachOnce(t, newHarness(t)) })
	t.Run("NackRedelivers", func(t *testing.T) { testNack(t, newHarness(t)) })
	t.Run("ReceiveHonoursContext", func(t *testing.T) { testReceiveContext(t, newHarness(t)) })
	t.Run("PublishHonoursContext", func(t *testing.T) { testPublishContext(t, newHarness(t)) })
}

func receive(t *testing.T, c queue.Consumer, within time.Duration) *queue.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	d, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return d
}

func testIntact(t *testing.T, h Harness) {
	want := NewOrder(t, 42)
	if err := h.Publisher.Publish(context.Background(), want); err != nil {
		t.Fatalf("publish: %v", err)
	}
	d := receive(t, h.Consumer, 10*time.Second)
	if d.Err != nil {
		t.Fatalf("delivery error: %v", d.Err)
	}
	got := d.Order
	if got.ID != want.ID || got.CustomerID != want.CustomerID || got.Status != want.Status ||
		!got.CreatedAt.Equal(want.CreatedAt) || len(got.Items) != len(want.Items) {
		t.Fatalf("received %+v, want %+v", got, want)
	}
	for i := range want.Items {
		if got.Items[i] != want.Items[i] {
			t.Errorf("item %d = %+v, want %+v", i, got.Items[i], want.Items[i])
		}
	}
	if err := h.Consumer.Ack(context.Background(), d); err != nil {
		t.Fatalf("ack: %v", err)
	}
}

func testEachOnce(t *testing.T, h Harness) {
	const n = 25
	want := make(map[string]bool)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		o := NewOrder(t, int64(i+1))
		mu.Lock()
		want[o.ID] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- h.Publisher.Publish(context.Background(), o)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	seen := make(map[string]int)
	for len(seen) < n {
		d := receive(t, h.Consumer, 15*time.Second)
		if d.Err != nil {
			t.Fatalf("delivery error: %v", d.Err)
		}
		seen[d.Order.ID]++
		if err := h.Consumer.Ack(context.Background(), d); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	for id, c := range seen {
		if !want[id] {
			t.Errorf("received unknown order %s", id)
		}
		if c != 1 {
			t.Errorf("order %s received %d times", id, c)
		}
	}
	// Acknowledged messages do not come back.
	ctx, cancel := context.WithTimeout(context.Background(), redelivery(h)+time.Second)
	defer cancel()
	if d, err := h.Consumer.Receive(ctx); err == nil {
		t.Errorf("acknowledged queue delivered again: %+v", d)
	}
}

func redelivery(h Harness) time.Duration {
	if h.Redelivery > 0 {
		return h.Redelivery
	}
	return 3 * time.Second
}

func testNack(t *testing.T, h Harness) {
	o := NewOrder(t, 7)
	if err := h.Publisher.Publish(context.Background(), o); err != nil {
		t.Fatalf("publish: %v", err)
	}
	d := receive(t, h.Consumer, 10*time.Second)
	if err := h.Consumer.Nack(context.Background(), d); err != nil {
		t.Fatalf("nack: %v", err)
	}
	again := receive(t, h.Consumer, redelivery(h)+10*time.Second)
	if again.Order.ID != o.ID {
		t.Fatalf("after nack received %s, want %s", again.Order.ID, o.ID)
	}
	if err := h.Consumer.Ack(context.Background(), again); err != nil {
		t.Fatalf("ack: %v", err)
	}
}

func testReceiveContext(t *testing.T, h Harness) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	d, err := h.Consumer.Receive(ctx)
	if err == nil {
		t.Fatalf("receive on an empty queue returned %+v", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("receive error = %v, want context.DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("receive returned %v after its context ended", waited)
	}
}

func testPublishContext(t *testing.T, h Harness) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := NewOrder(t, 9)
	if err := h.Publisher.Publish(ctx, o); err == nil {
		t.Fatal("publish with a cancelled context succeeded")
	}
	rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
	defer rcancel()
	if d, err := h.Consumer.Receive(rctx); err == nil {
		t.Fatalf("an order published with a cancelled context was delivered: %+v", d)
	}
}
