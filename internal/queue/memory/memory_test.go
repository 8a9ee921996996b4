package memory_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/queue"
	"flashsale/internal/queue/memory"
	"flashsale/internal/queue/queuetest"
)

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Harness {
		q, err := memory.New(100)
		if err != nil {
			t.Fatal(err)
		}
		return queuetest.Harness{Publisher: q, Consumer: q, Redelivery: 100 * time.Millisecond}
	})
}

func TestNewRejectsCapacity(t *testing.T) {
	for _, c := range []int{0, -1} {
		if _, err := memory.New(c); err == nil {
			t.Errorf("New(%d) succeeded", c)
		}
	}
}

func TestFullAndDepth(t *testing.T) {
	ctx := context.Background()
	q, _ := memory.New(2)
	for i := range 2 {
		if err := q.Publish(ctx, queuetest.NewOrder(t, int64(i+1))); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	err := q.Publish(ctx, queuetest.NewOrder(t, 3))
	if !errors.Is(err, queue.ErrFull) {
		t.Fatalf("publish past capacity: %v, want ErrFull", err)
	}
	if d, _ := q.Depth(ctx); d != 2 {
		t.Fatalf("depth = %d, want 2 (a rejected order is not queued)", d)
	}
}

func TestNackWhenFullIsKept(t *testing.T) {
	ctx := context.Background()
	q, _ := memory.New(1)
	first := queuetest.NewOrder(t, 1)
	_ = q.Publish(ctx, first)
	d, _ := q.Receive(ctx)
	if err := q.Publish(ctx, queuetest.NewOrder(t, 2)); err != nil {
		t.Fatal(err)
	}
	if err := q.Nack(ctx, d); err != nil { // buffer full: kept aside
		t.Fatal(err)
	}
	if got := q.Len(); got != 2 {
		t.Fatalf("len = %d, want 2", got)
	}
	seen := map[string]bool{}
	for range 2 {
		d, err := q.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen[d.Order.ID] = true
	}
	if !seen[first.ID] {
		t.Fatal("nacked order was lost")
	}
}

func TestCloseDrainsThenErrClosed(t *testing.T) {
	ctx := context.Background()
	q, _ := memory.New(10)
	o := queuetest.NewOrder(t, 1)
	_ = q.Publish(ctx, o)
	q.Close()
	if err := q.Publish(ctx, queuetest.NewOrder(t, 2)); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("publish after close: %v, want ErrClosed", err)
	}
	d, err := q.Receive(ctx)
	if err != nil || d.Order.ID != o.ID {
		t.Fatalf("receive after close = %v, %v; want the queued order", d, err)
	}
	if err := q.Nack(ctx, d); err != nil {
		t.Fatal(err)
	}
	if left := q.Drain(); len(left) != 1 || left[0].ID != o.ID {
		t.Fatalf("drain = %v, want the nacked order", left)
	}
	if _, err := q.Receive(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("receive on closed empty queue: %v, want ErrClosed", err)
	}
}

func TestRestoredExceedCapacity(t *testing.T) {
	restored := []order.Order{queuetest.NewOrder(t, 1), queuetest.NewOrder(t, 2), queuetest.NewOrder(t, 3)}
	q, err := memory.New(1, restored...)
	if err != nil {
		t.Fatal(err)
	}
	if q.Len() != 3 {
		t.Fatalf("len = %d, want 3 restored orders", q.Len())
	}
	if err := q.Publish(context.Background(), queuetest.NewOrder(t, 4)); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("publish with restored backlog: %v, want ErrFull", err)
	}
}

func TestSpillRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spill.jsonl")
	if got, err := memory.ReadSpill(path); err != nil || len(got) != 0 {
		t.Fatalf("missing spill file = %v, %v; want none", got, err)
	}
	want := []order.Order{queuetest.NewOrder(t, 1), queuetest.NewOrder(t, 2)}
	if err := memory.WriteSpill(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := memory.ReadSpill(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != want[0].ID || got[1].ID != want[1].ID || !got[1].CreatedAt.Equal(want[1].CreatedAt) {
		t.Fatalf("spill round trip = %+v, want %+v", got, want)
	}
	if err := memory.WriteSpill(path, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := memory.ReadSpill(path); len(got) != 0 {
		t.Fatalf("empty spill left %d orders", len(got))
	}
}

func TestReadSpillRejectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spill.jsonl")
	if err := memory.WriteSpill(path, []order.Order{queuetest.NewOrder(t, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := appendLine(path, "{not json}\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := memory.ReadSpill(path); err == nil {
		t.Fatal("garbage spill line accepted")
	}
}

// TestNoStrandedOrder: a receiver woken for an order whose context ends at
// that moment must still take the order (or pass it on), never leave it
// behind another receiver that keeps waiting.
func TestNoStrandedOrder(t *testing.T) {
	for i := range 200 {
		synctest.Test(t, func(t *testing.T) {
			q, _ := memory.New(10)
			defer q.Close() // lets the waiting receivers go, even on failure
			short, cancel := context.WithCancel(context.Background())
			got := make(chan string, 2)
			receive := func(ctx context.Context) {
				if d, err := q.Receive(ctx); err == nil {
					got <- d.Order.ID
				}
			}
			go receive(short) // first in line: the order's wake-up goes to it
			synctest.Wait()
			go receive(context.Background())
			synctest.Wait()
			o := queuetest.NewOrder(t, int64(i+1))
			if err := q.Publish(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			cancel() // while the first receiver wakes up
			synctest.Wait()
			select {
			case id := <-got:
				if id != o.ID {
					t.Fatalf("received %s, want %s", id, o.ID)
				}
			default:
				t.Fatalf("run %d: the order is stranded (depth %d) while a receiver waits", i, q.Len())
			}
		})
	}
}

// TestBacklogGrowsLazily: a huge capacity costs nothing up front, and the
// queue keeps FIFO order across growth and Nack.
func TestBacklogGrowsLazily(t *testing.T) {
	ctx := context.Background()
	q, err := memory.New(10_000_000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		o := queuetest.NewOrder(t, int64(i+1))
		ids = append(ids, o.ID)
		if err := q.Publish(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	d, err := q.Receive(ctx)
	if err != nil || d.Order.ID != ids[0] {
		t.Fatalf("first receive = %v, %v; want %s", d, err, ids[0])
	}
	if err := q.Nack(ctx, d); err != nil {
		t.Fatal(err)
	}
	want := []string{ids[1], ids[2], ids[0]}
	for i, id := range want {
		d, err := q.Receive(ctx)
		if err != nil || d.Order.ID != id {
			t.Fatalf("receive %d = %v, %v; want %s", i, d, err, id)
		}
	}
	if n := q.Len(); n != 0 {
		t.Errorf("Len = %d after receiving everything", n)
	}
}

// TestNackAfter: an order given back for later is delivered once the delay
// ends, counts in Len meanwhile, and is in Drain's result if the queue
// stops first.
func TestNackAfter(t *testing.T) {
	ctx := context.Background()
	q, err := memory.New(10)
	if err != nil {
		t.Fatal(err)
	}
	o := queuetest.NewOrder(t, 7)
	if err := q.Publish(ctx, o); err != nil {
		t.Fatal(err)
	}
	d, err := q.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := q.NackAfter(ctx, d, 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 1 {
		t.Errorf("Len while delayed = %d, want 1", q.Len())
	}
	d, err = q.Receive(ctx)
	if err != nil || d.Order.ID != o.ID {
		t.Fatalf("receive = %v, %v", d, err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("delivered again after %v, want at least the delay", waited)
	}
	if err := q.NackAfter(ctx, d, time.Hour); err != nil {
		t.Fatal(err)
	}
	if left := q.Drain(); len(left) != 1 || left[0].ID != o.ID {
		t.Errorf("drain = %v, want the delayed order", left)
	}
}
