package payonce_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/orderstore"
	"flashsale/internal/orderstore/memstore"
	"flashsale/internal/orderstore/storetest"
	"flashsale/internal/payment"
	"flashsale/internal/payonce"
)

// payer counts payments; err is what each returns.
type payer struct {
	n     atomic.Int64
	delay time.Duration
	err   error
}

func (p *payer) Pay(ctx context.Context, _ order.Order) error {
	p.n.Add(1)
	select {
	case <-time.After(p.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.err
}

func newStore(t *testing.T) *memstore.Store {
	t.Helper()
	s, err := memstore.New(memstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestProcessOutcomes(t *testing.T) {
	ctx := context.Background()
	declined := &payer{err: payment.ErrDeclined}
	failing := &payer{err: errors.New("provider unreachable")}
	tests := []struct {
		name    string
		prepare func(s *memstore.Store, o order.Order) order.Order // returns the order to process
		payer   *payer
		want    payonce.Outcome
		wantErr bool
		status  order.Status
		pays    int64
	}{
		{name: "pending order is paid", payer: &payer{}, want: payonce.Paid, status: order.StatusCompleted, pays: 1,
			prepare: func(s *memstore.Store, o order.Order) order.Order { mustCreate(t, s, o); return o }},
		{name: "unknown order is recorded and paid", payer: &payer{}, want: payonce.Paid, status: order.StatusCompleted, pays: 1},
		{name: "declined is final", payer: declined, want: payonce.Declined, status: order.StatusFailed, pays: 1},
		{name: "finished order is not paid again", payer: &payer{}, want: payonce.Finished, status: order.StatusCompleted,
			prepare: func(s *memstore.Store, o order.Order) order.Order {
				if _, err := payonce.Process(ctx, s, &payer{}, o, "first", time.Minute); err != nil {
					t.Fatal(err)
				}
				return o
			}},
		{name: "live claim of another is left alone", payer: &payer{}, want: payonce.Busy, status: order.StatusProcessing,
			prepare: func(s *memstore.Store, o order.Order) order.Order {
				if _, err := s.Claim(ctx, o, "other", time.Minute); err != nil {
					t.Fatal(err)
				}
				return o
			}},
		{name: "another payload is never paid", payer: &payer{}, want: payonce.Conflict, status: order.StatusPending,
			prepare: func(s *memstore.Store, o order.Order) order.Order {
				mustCreate(t, s, o)
				o.CustomerID++
				return o
			}},
		{name: "cancelled order is never paid", payer: &payer{}, want: payonce.Finished, status: order.StatusFailed,
			prepare: func(s *memstore.Store, o order.Order) order.Order {
				mustCreate(t, s, o)
				if _, err := s.Cancel(ctx, o.ID, orderstore.ReasonNotAccepted); err != nil {
					t.Fatal(err)
				}
				return o
			}},
		{name: "transient payment failure records nothing final", payer: failing, wantErr: true, status: order.StatusProcessing, pays: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			o := storetest.NewOrder(t, 42)
			if tt.prepare != nil {
				o = tt.prepare(s, o)
			}
			before := tt.payer.n.Load()
			res, err := payonce.Process(ctx, s, tt.payer, o, "w1", time.Minute)
			if (err != nil) != tt.wantErr || (!tt.wantErr && res.Outcome != tt.want) {
				t.Fatalf("Process = %v, %v; want %v (error %v)", res.Outcome, err, tt.want, tt.wantErr)
			}
			if got := tt.payer.n.Load() - before; got != tt.pays {
				t.Errorf("%d payments, want %d", got, tt.pays)
			}
			rec, err := s.Get(ctx, o.ID)
			if err != nil || rec.Status() != tt.status {
				t.Errorf("record %+v, %v; want status %s", rec, err, tt.status)
			}
			if tt.want == payonce.Declined && rec.Reason != orderstore.ReasonDeclined {
				t.Errorf("declined order's reason %q", rec.Reason)
			}
			if tt.want == payonce.Paid && (rec.PaidAt.IsZero() || rec.Holder != "w1" || rec.Attempts != 1) {
				t.Errorf("paid record %+v: want paid_at, holder w1, 1 attempt", rec)
			}
		})
	}
}

func mustCreate(t *testing.T, s *memstore.Store, o order.Order) {
	t.Helper()
	if _, err := s.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentDeliveriesPayOnce(t *testing.T) {
	s := newStore(t)
	p := &payer{delay: 20 * time.Millisecond}
	o := storetest.NewOrder(t, 42)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[payonce.Outcome]int{}
	for i := range 8 {
		wg.Go(func() {
			res, err := payonce.Process(context.Background(), s, p, o, string(rune('a'+i)), time.Minute)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			got[res.Outcome]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if p.n.Load() != 1 || got[payonce.Paid] != 1 || got[payonce.Busy] != 7 {
		t.Errorf("%d payments, outcomes %v; want 1 payment, 1 paid, 7 busy", p.n.Load(), got)
	}
}

func TestTakeOverAfterTheLeaseRunsOut(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	o := storetest.NewOrder(t, 42)
	// The first holder claims and dies: its claim runs out.
	if _, err := s.Claim(ctx, o, "dead", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	p := &payer{}
	if res, err := payonce.Process(ctx, s, p, o, "w2", time.Minute); err != nil || res.Outcome != payonce.Busy {
		t.Fatalf("during the lease: %v, %v; want busy", res.Outcome, err)
	}
	time.Sleep(80 * time.Millisecond)
	res, err := payonce.Process(ctx, s, p, o, "w2", time.Minute)
	if err != nil || res.Outcome != payonce.Paid || res.Record.Attempts != 2 || res.Record.Holder != "w2" {
		t.Fatalf("after the lease: %+v, %v; want paid by w2 at attempt 2", res, err)
	}
	// A slow holder whose claim was taken over finds the order finished.
	slow := storetest.NewOrder(t, 43)
	if _, err := s.Claim(ctx, slow, "slow", 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := payonce.Process(ctx, s, &payer{}, slow, "fast", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(ctx, slow.ID, "slow", order.StatusCompleted, ""); !errors.Is(err, orderstore.ErrFinished) {
		t.Errorf("finish by the holder that lost its claim = %v, want ErrFinished", err)
	}
}

func TestOutcomeNames(t *testing.T) {
	for o, want := range map[payonce.Outcome]string{payonce.Paid: "paid", payonce.Busy: "busy", payonce.Outcome(0): "Outcome(0)"} {
		if o.String() != want {
			t.Errorf("%d: %q, want %q", int(o), o.String(), want)
		}
	}
	if payonce.Busy.Settled() || !payonce.Finished.Settled() {
		t.Error("busy must go back to the queue, finished must be acknowledged")
	}
}
