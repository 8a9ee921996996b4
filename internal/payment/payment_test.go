package payment_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/payment"
)

func testOrder(id string) order.Order {
	return order.Order{ID: id, CustomerID: 1, Items: []order.Item{{ProductID: "x", Quantity: 1, Price: 1}}, Status: order.StatusPending}
}

type recorder struct {
	mu       sync.Mutex
	started  int
	results  map[payment.Result]int
	inFlight int
	maxIn    int
}

func (r *recorder) PaymentStarted() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started++
	r.inFlight++
	r.maxIn = max(r.maxIn, r.inFlight)
}

func (r *recorder) PaymentFinished(res payment.Result, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.results == nil {
		r.results = map[payment.Result]int{}
	}
	r.inFlight--
	r.results[res]++
}

func TestPayTakesTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		p, err := payment.New(payment.Config{Observer: rec})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := p.Pay(context.Background(), testOrder("a")); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != payment.DefaultDelay {
			t.Errorf("payment took %v, want %v", got, payment.DefaultDelay)
		}
		if rec.results[payment.ResultCompleted] != 1 || rec.inFlight != 0 {
			t.Errorf("observer saw %+v", rec)
		}
	})
}

func TestPayHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		p, _ := payment.New(payment.Config{Delay: 3 * time.Second, Observer: rec})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := p.Pay(ctx, testOrder("a"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("returned after %v, want 1s", got)
		}
		if rec.results[payment.ResultTimeout] != 1 {
			t.Errorf("results = %v, want one timeout", rec.results)
		}
	})
}

func TestDeclineRate(t *testing.T) {
	tests := []struct {
		rate     float64
		min, max int // declined out of 10,000
	}{
		{0, 0, 0},
		{0.1, 900, 1100},
		{0.5, 4800, 5200},
		{1, 10000, 10000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.rate), func(t *testing.T) {
			p, err := payment.New(payment.Config{DeclineRate: tt.rate, Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			again, _ := payment.New(payment.Config{DeclineRate: tt.rate, Seed: 7})
			declined := 0
			for i := range 10000 {
				id := fmt.Sprintf("order-%d", i)
				d := p.Declines(id)
				if d != again.Declines(id) {
					t.Fatalf("decision for %s not deterministic for one seed", id)
				}
				if d {
					declined++
				}
			}
			if declined < tt.min || declined > tt.max {
				t.Errorf("declined %d of 10000 at rate %v, want %d..%d", declined, tt.rate, tt.min, tt.max)
			}
		})
	}
}

func TestSeedChangesTheChoice(t *testing.T) {
	a, _ := payment.New(payment.Config{DeclineRate: 0.5, Seed: 1})
	b, _ := payment.New(payment.Config{DeclineRate: 0.5, Seed: 2})
	differ := 0
	for i := range 1000 {
		id := fmt.Sprintf("o%d", i)
		if a.Declines(id) != b.Declines(id) {
			differ++
		}
	}
	if differ < 300 {
		t.Errorf("seeds 1 and 2 differ on %d of 1000 orders; the seed does not matter", differ)
	}
}

func TestDeclinedPayment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := payment.New(payment.Config{Delay: time.Second, DeclineRate: 1})
		err := p.Pay(context.Background(), testOrder("a"))
		if !errors.Is(err, payment.ErrDeclined) || payment.ResultOf(err) != payment.ResultDeclined {
			t.Fatalf("err = %v, want ErrDeclined", err)
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []payment.Config{{Delay: -1}, {DeclineRate: -0.1}, {DeclineRate: 1.1}} {
		if _, err := payment.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := payment.NewLimiter(nil, 0); err == nil {
		t.Error("NewLimiter with 0 slots succeeded")
	}
}

// TestLimiterOneSlot reproduces the studied sync path: with one slot, 5
// concurrent payments of 3 s finish at 3, 6, 9, 12 and 15 s, and with a 10 s
// deadline the last two time out waiting.
func TestLimiterOneSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		p, _ := payment.New(payment.Config{Delay: 3 * time.Second, Observer: rec})
		l, _ := payment.NewLimiter(p, 1)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ok, timedOut int
		start := time.Now()
		for i := range 5 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err := l.Pay(ctx, testOrder(fmt.Sprint(i)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, context.DeadlineExceeded):
					timedOut++
				default:
					t.Errorf("unexpected %v", err)
				}
			})
		}
		wg.Wait()
		if ok != 3 || timedOut != 2 {
			t.Errorf("completed %d, timed out %d; want 3 and 2 (one slot, 3s each, 10s deadline)", ok, timedOut)
		}
		if rec.maxIn != 1 {
			t.Errorf("max in flight = %d, want 1", rec.maxIn)
		}
		if got := time.Since(start); got != 10*time.Second {
			t.Errorf("took %v, want 10s", got)
		}
	})
}

func TestPayIsIdempotentOnOrderID(t *testing.T) {
	ctx := context.Background()
	var obs countingObserver
	p, err := payment.New(payment.Config{Delay: 50 * time.Millisecond, Observer: &obs})
	if err != nil {
		t.Fatal(err)
	}
	o := order.Order{ID: "key-1"}
	// Concurrent payments under one key: one charge, the others wait for it.
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if err := p.Pay(ctx, o); err != nil {
				t.Errorf("pay: %v", err)
			}
		})
	}
	wg.Wait()
	start := time.Now()
	if err := p.Pay(ctx, o); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= 50*time.Millisecond {
		t.Errorf("a repeated key waited %v: it should answer from the key at once", took)
	}
	if n := obs.started.Load(); n != 1 {
		t.Errorf("%d payments started for one key, want 1", n)
	}
	// An interrupted payment charged nothing: the key may be paid again.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	o2 := order.Order{ID: "key-2"}
	if err := p.Pay(cctx, o2); err == nil {
		t.Fatal("a cancelled payment succeeded")
	}
	if err := p.Pay(ctx, o2); err != nil {
		t.Errorf("pay after an interrupted attempt: %v", err)
	}
	if n := obs.started.Load(); n != 3 {
		t.Errorf("%d payments started, want 3 (one per key, and the interrupted one)", n)
	}
}

func TestPayDeclinedKeyStaysDeclined(t *testing.T) {
	p, err := payment.New(payment.Config{Delay: time.Millisecond, DeclineRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.Pay(context.Background(), order.Order{ID: "d"}); !errors.Is(err, payment.ErrDeclined) {
			t.Errorf("pay = %v, want payment.ErrDeclined", err)
		}
	}
}

type memBooks struct {
	mu   sync.Mutex
	seen map[string]payment.Result
	n    int
}

func (b *memBooks) Charge(_ context.Context, key, _ string, r payment.Result) (payment.Result, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if got, ok := b.seen[key]; ok {
		return got, false, nil
	}
	b.seen[key] = r
	b.n++
	return r, true, nil
}

func TestPayWithBooksAnswersTheBookedResult(t *testing.T) {
	bk := &memBooks{seen: map[string]payment.Result{"declined-before": payment.ResultDeclined}}
	p, err := payment.New(payment.Config{Delay: time.Millisecond, Books: bk})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Pay(payment.WithHolder(ctx, "w2"), order.Order{ID: "declined-before"}); !errors.Is(err, payment.ErrDeclined) {
		t.Errorf("pay of a key booked declined = %v, want payment.ErrDeclined", err)
	}
	for range 2 {
		if err := p.Pay(payment.WithHolder(ctx, "w2"), order.Order{ID: "new"}); err != nil {
			t.Errorf("pay = %v", err)
		}
	}
	if bk.n != 1 {
		t.Errorf("%d charges booked, want 1", bk.n)
	}
}

type countingObserver struct{ started atomic.Int64 }

func (o *countingObserver) PaymentStarted()                               { o.started.Add(1) }
func (o *countingObserver) PaymentFinished(payment.Result, time.Duration) {}

func TestReceiptTellsAReplay(t *testing.T) {
	ctx := context.Background()
	for name, books := range map[string]payment.Books{"in process": nil, "books": &memBooks{seen: map[string]payment.Result{}}} {
		t.Run(name, func(t *testing.T) {
			p, err := payment.New(payment.Config{Delay: time.Millisecond, Books: books})
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []bool{false, true} {
				var r payment.Receipt
				if err := p.Pay(payment.WithReceipt(ctx, &r), order.Order{ID: "r-1"}); err != nil || r.Replayed != want {
					t.Errorf("payment %d: replayed %v (%v), want %v", i+1, r.Replayed, err, want)
				}
			}
		})
	}
}
