package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/orderstore/memstore"
	"flashsale/internal/payment"
	"flashsale/internal/queue"
	"flashsale/internal/queue/memory"
	"flashsale/internal/queue/queuetest"
	"flashsale/internal/worker"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// countingPayer wraps a payer and counts payments per order.
type countingPayer struct {
	next worker.Payer
	mu   sync.Mutex
	paid map[string]int
}

func newCounting(next worker.Payer) *countingPayer {
	return &countingPayer{next: next, paid: make(map[string]int)}
}

func (c *countingPayer) Pay(ctx context.Context, o order.Order) error {
	c.mu.Lock()
	c.paid[o.ID]++
	c.mu.Unlock()
	return c.next.Pay(ctx, o)
}

func (c *countingPayer) calls() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, v := range c.paid {
		n += int64(v)
	}
	return n
}

func (c *countingPayer) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.paid))
	for k, v := range c.paid {
		out[k] = v
	}
	return out
}

type counters struct {
	workers    atomic.Int64
	duplicates atomic.Int64
	poison     atomic.Int64
}

func (c *counters) SetWorkers(n int) { c.workers.Store(int64(n)) }
func (c *counters) Duplicate()       { c.duplicates.Add(1) }
func (c *counters) Poison()          { c.poison.Add(1) }

func processor(t *testing.T, delay time.Duration, declineRate float64) *payment.Processor {
	t.Helper()
	p, err := payment.New(payment.Config{Delay: delay, DeclineRate: declineRate, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestThroughput shows that N workers pay at N/delay: with fake time,
// draining n orders takes exactly ceil(n/N) payment delays.
func TestThroughput(t *testing.T) {
	tests := []struct {
		workers, orders int
		want            time.Duration
	}{
		{1, 10, 30 * time.Second},
		{5, 60, 36 * time.Second},
		{20, 60, 9 * time.Second},
		{100, 60, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d_workers", tt.workers), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q, _ := memory.New(tt.orders)
				for i := range tt.orders {
					if err := q.Publish(t.Context(), queuetest.NewOrder(t, int64(i+1))); err != nil {
						t.Fatal(err)
					}
				}
				q.Close()
				payer := newCounting(processor(t, 3*time.Second, 0))
				obs := &counters{}
				pool, err := worker.New(worker.Config{Consumer: q, Payer: payer, Workers: tt.workers, Observer: obs, Logger: quiet})
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if err := pool.Run(context.Background()); err != nil {
					t.Fatalf("run: %v", err)
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("drained %d orders with %d workers in %v, want %v (rate %d/3s)", tt.orders, tt.workers, got, tt.want, tt.workers)
				}
				counts := payer.counts()
				if len(counts) != tt.orders {
					t.Errorf("paid %d distinct orders, want %d", len(counts), tt.orders)
				}
				for id, c := range counts {
					if c != 1 {
						t.Errorf("order %s paid %d times", id, c)
					}
				}
				if q.Len() != 0 {
					t.Errorf("queue depth %d after drain", q.Len())
				}
			})
		})
	}
}

func TestDeclinedIsRecordedNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, _ := memory.New(10)
		for i := range 4 {
			_ = q.Publish(t.Context(), queuetest.NewOrder(t, int64(i+1)))
		}
		q.Close()
		payer := newCounting(processor(t, time.Second, 1))
		pool, _ := worker.New(worker.Config{Consumer: q, Payer: payer, Workers: 2, Logger: quiet})
		if err := pool.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		for id, c := range payer.counts() {
			if c != 1 {
				t.Errorf("declined order %s attempted %d times, want once", id, c)
			}
		}
		if len(payer.counts()) != 4 {
			t.Errorf("attempted %d orders, want 4", len(payer.counts()))
		}
	})
}

func TestDuplicateIsAcknowledgedNotPaid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, _ := memory.New(10)
		o := queuetest.NewOrder(t, 1)
		// Two deliveries of the same order, handled by two workers at once.
		_ = q.Publish(t.Context(), o)
		_ = q.Publish(t.Context(), o)
		_ = q.Publish(t.Context(), queuetest.NewOrder(t, 2))
		q.Close()
		payer := newCounting(processor(t, time.Second, 0))
		obs := &counters{}
		pool, _ := worker.New(worker.Config{Consumer: q, Payer: payer, Workers: 3, Observer: obs, Logger: quiet})
		_ = pool.Run(context.Background())
		if got := payer.counts()[o.ID]; got != 1 {
			t.Fatalf("order delivered twice was paid %d times, want 1", got)
		}
		if got := obs.duplicates.Load(); got != 1 {
			t.Fatalf("duplicates = %d, want 1", got)
		}
	})
}

// fakeConsumer serves scripted deliveries and records how each is settled.
type fakeConsumer struct {
	mu         sync.Mutex
	deliveries []*queue.Delivery
	errs       []error // returned by Receive before the deliveries
	acked      []string
	nacked     []string
	// hang, when not nil, makes Ack and Nack block until their context
	// ends or hang is closed.
	hang chan struct{}
	// settleErrs are the errors of the settle contexts when Ack or Nack
	// was called.
	settleErrs []error
}

func (f *fakeConsumer) settle(ctx context.Context) error {
	f.mu.Lock()
	f.settleErrs = append(f.settleErrs, ctx.Err())
	f.mu.Unlock()
	if f.hang == nil {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-f.hang:
		return errors.New("fake: unblocked by the test")
	}
}

func (f *fakeConsumer) Receive(ctx context.Context) (*queue.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	if len(f.deliveries) == 0 {
		return nil, queue.ErrClosed
	}
	d := f.deliveries[0]
	f.deliveries = f.deliveries[1:]
	return d, nil
}

func (f *fakeConsumer) Ack(ctx context.Context, d *queue.Delivery) error {
	f.mu.Lock()
	f.acked = append(f.acked, d.ID)
	f.mu.Unlock()
	return f.settle(ctx)
}

func (f *fakeConsumer) Nack(ctx context.Context, d *queue.Delivery) error {
	f.mu.Lock()
	f.nacked = append(f.nacked, d.ID)
	f.mu.Unlock()
	return f.settle(ctx)
}

func TestSettlement(t *testing.T) {
	good := queuetest.NewOrder(t, 1)
	other := good
	other.CustomerID = 99
	ctx := context.Background()
	tests := []struct {
		name        string
		delivery    *queue.Delivery
		declineRate float64
		prepare     func(*memstore.Store)
		wantAck     bool
		wantPoison  int64
		wantStatus  order.Status
		wantPays    int64
	}{
		{name: "paid is acked", delivery: &queue.Delivery{ID: "m", Order: good}, wantAck: true,
			wantStatus: order.StatusCompleted, wantPays: 1},
		{name: "poison is nacked", delivery: &queue.Delivery{ID: "m", Err: errors.New("not an order")}, wantPoison: 1},
		{name: "declined is acked as failed, for good", delivery: &queue.Delivery{ID: "m", Order: good}, declineRate: 1,
			wantAck: true, wantStatus: order.StatusFailed, wantPays: 1},
		{name: "finished elsewhere is acked, not paid", delivery: &queue.Delivery{ID: "m", Order: good}, wantAck: true,
			wantStatus: order.StatusCompleted,
			prepare: func(s *memstore.Store) {
				if _, err := s.Claim(ctx, good, "other/0", time.Minute); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Finish(ctx, good.ID, "other/0", order.StatusCompleted, ""); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "claimed elsewhere is given back, not paid", delivery: &queue.Delivery{ID: "m", Order: good},
			wantStatus: order.StatusProcessing,
			prepare: func(s *memstore.Store) {
				if _, err := s.Claim(ctx, good, "other/0", time.Hour); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "another payload under the order_id is acked, never paid", delivery: &queue.Delivery{ID: "m", Order: other},
			wantAck: true, wantStatus: order.StatusPending,
			prepare: func(s *memstore.Store) {
				if _, err := s.Create(ctx, good); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store, _ := memstore.New(memstore.Config{})
				if tt.prepare != nil {
					tt.prepare(store)
				}
				fc := &fakeConsumer{deliveries: []*queue.Delivery{tt.delivery}}
				obs := &counters{}
				payer := newCounting(processor(t, time.Second, tt.declineRate))
				pool, _ := worker.New(worker.Config{Consumer: fc, Payer: payer, Store: store,
					Workers: 1, Observer: obs, Logger: quiet})
				_ = pool.Run(context.Background())
				if tt.wantAck && (len(fc.acked) != 1 || len(fc.nacked) != 0) {
					t.Errorf("acked %v nacked %v, want one ack", fc.acked, fc.nacked)
				}
				if !tt.wantAck && (len(fc.nacked) != 1 || len(fc.acked) != 0) {
					t.Errorf("acked %v nacked %v, want one nack", fc.acked, fc.nacked)
				}
				if obs.poison.Load() != tt.wantPoison {
					t.Errorf("poison = %d, want %d", obs.poison.Load(), tt.wantPoison)
				}
				if got := payer.calls(); got != tt.wantPays {
					t.Errorf("%d payments, want %d", got, tt.wantPays)
				}
				if tt.wantStatus != "" {
					if r, err := store.Get(ctx, good.ID); err != nil || r.Status() != tt.wantStatus {
						t.Errorf("record %+v, %v; want %s", r, err, tt.wantStatus)
					}
				}
			})
		})
	}
}

// retrier is a fakeConsumer that gives messages back for a chosen time.
type retrier struct {
	fakeConsumer
	delays []time.Duration
}

func (r *retrier) NackAfter(_ context.Context, d *queue.Delivery, delay time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nacked = append(r.nacked, d.ID)
	r.delays = append(r.delays, delay)
	return nil
}

func TestClaimedOrderComesBackWhenTheClaimEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		o := queuetest.NewOrder(t, 1)
		store, _ := memstore.New(memstore.Config{})
		if _, err := store.Claim(ctx, o, "other/0", 40*time.Second); err != nil {
			t.Fatal(err)
		}
		r := &retrier{fakeConsumer: fakeConsumer{deliveries: []*queue.Delivery{{ID: "m", Order: o}}}}
		pool, _ := worker.New(worker.Config{Consumer: r, Payer: processor(t, time.Second, 0), Store: store, Workers: 1, Logger: quiet})
		_ = pool.Run(ctx)
		if len(r.delays) != 1 || r.delays[0] != 41*time.Second {
			t.Errorf("given back for %v, want once for the rest of the claim and a second (41s)", r.delays)
		}
	})
}

func TestReceiveErrorsDoNotStopThePool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := queuetest.NewOrder(t, 1)
		fc := &fakeConsumer{
			errs:       []error{errors.New("throttled"), errors.New("connection reset")},
			deliveries: []*queue.Delivery{{ID: "m", Order: o}},
		}
		pool, _ := worker.New(worker.Config{Consumer: fc, Payer: processor(t, time.Second, 0), Workers: 1,
			ErrorBackoff: 5 * time.Second, Logger: quiet})
		start := time.Now()
		_ = pool.Run(context.Background())
		if len(fc.acked) != 1 {
			t.Fatalf("acked %v, want the order after the errors", fc.acked)
		}
		if got := time.Since(start); got != 11*time.Second {
			t.Errorf("took %v, want 2 backoffs of 5s + a 1s payment", got)
		}
	})
}

// TestCancelFinishesInFlight: when ctx ends mid-payment, the payment
// finishes and is acknowledged, and the orders not started stay queued.
func TestCancelFinishesInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, _ := memory.New(10)
		for i := range 5 {
			_ = q.Publish(t.Context(), queuetest.NewOrder(t, int64(i+1)))
		}
		payer := newCounting(processor(t, 3*time.Second, 0))
		obs := &counters{}
		pool, _ := worker.New(worker.Config{Consumer: q, Payer: payer, Workers: 2, Observer: obs, Logger: quiet})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- pool.Run(ctx) }()
		time.Sleep(time.Second) // two payments in flight
		synctest.Wait()
		if obs.workers.Load() != 2 {
			t.Errorf("workers gauge = %d, want 2", obs.workers.Load())
		}
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) {
			t.Errorf("run = %v, want context.Canceled", err)
		}
		if got := len(payer.counts()); got != 2 {
			t.Errorf("paid %d orders, want the 2 in flight", got)
		}
		if q.Len() != 3 {
			t.Errorf("queue holds %d, want 3 untouched", q.Len())
		}
		if obs.workers.Load() != 0 {
			t.Errorf("workers gauge = %d after stop, want 0", obs.workers.Load())
		}
	})
}

// TestSettleTimeout: an Ack or Nack that never returns is given up after
// the settle timeout, so that the pool (and the shutdown) goes on; the
// message is left to the queue.
func TestSettleTimeout(t *testing.T) {
	good := queuetest.NewOrder(t, 1)
	tests := []struct {
		name     string
		delivery *queue.Delivery
		timeout  time.Duration
		want     time.Duration // Run's duration
	}{
		{"ack, default timeout", &queue.Delivery{ID: "m", Order: good}, 0, time.Second + worker.DefaultSettleTimeout},
		{"ack", &queue.Delivery{ID: "m", Order: good}, 5 * time.Second, 6 * time.Second},
		{"nack", &queue.Delivery{ID: "m", Err: errors.New("not an order")}, 5 * time.Second, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fc := &fakeConsumer{deliveries: []*queue.Delivery{tt.delivery}, hang: make(chan struct{})}
				pool, _ := worker.New(worker.Config{Consumer: fc, Payer: processor(t, time.Second, 0), Workers: 1,
					SettleTimeout: tt.timeout, Logger: quiet})
				start := time.Now()
				done := make(chan error, 1)
				go func() { done <- pool.Run(context.Background()) }()
				select {
				case <-done:
				case <-time.After(time.Hour):
					close(fc.hang)
					<-done
					t.Fatal("the pool waited an hour for a hung settle")
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("run took %v, want %v", got, tt.want)
				}
				if n := len(fc.acked) + len(fc.nacked); n != 1 {
					t.Errorf("settled %d times, want 1", n)
				}
			})
		})
	}
}

// TestStopDoesNotCancelSettle: a payment in flight when the pool's context
// ends is settled with a live context.
func TestStopDoesNotCancelSettle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := &fakeConsumer{deliveries: []*queue.Delivery{{ID: "m", Order: queuetest.NewOrder(t, 1)}}}
		pool, _ := worker.New(worker.Config{Consumer: fc, Payer: processor(t, 3*time.Second, 0), Workers: 1, Logger: quiet})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		_ = pool.Run(ctx)
		if len(fc.acked) != 1 || len(fc.settleErrs) != 1 || fc.settleErrs[0] != nil {
			t.Errorf("acked %v with context errors %v, want one ack with a live context", fc.acked, fc.settleErrs)
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	q, _ := memory.New(1)
	p := processor(t, time.Second, 0)
	tests := []struct {
		name string
		cfg  worker.Config
	}{
		{"no consumer", worker.Config{Payer: p, Workers: 1}},
		{"no payer", worker.Config{Consumer: q, Workers: 1}},
		{"zero workers", worker.Config{Consumer: q, Payer: p}},
	}
	for _, tt := range tests {
		if _, err := worker.New(tt.cfg); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
}
