// Package storetest is the contract every orderstore.Store passes, the way
// every queue passes queuetest: statuses and their rules, one winner among
// concurrent claims, leases that run out and are taken over, no downgrade of
// a finished order, conflicts on a reused order_id, and expiry.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/orderstore"
)

// Factory returns an empty store for one test, keeping records for
// retention after their last change.
type Factory func(t *testing.T, retention time.Duration) orderstore.Store

// Lease is the claim length the suite uses; it waits a little longer for a
// claim to run out.
const Lease = 300 * time.Millisecond

var seq struct {
	sync.Mutex
	n int
}

// NewOrder returns a valid order with an ID unique in the test binary.
func NewOrder(t testing.TB, customer int64) order.Order {
	t.Helper()
	seq.Lock()
	seq.n++
	n := seq.n
	seq.Unlock()
	o, err := order.New(order.Request{
		OrderID:    fmt.Sprintf("storetest-%d-%d", time.Now().UnixNano(), n),
		CustomerID: customer,
		Items:      []order.Item{{ProductID: "sku-1", Quantity: 2, Price: 10.5}},
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// Options adapt the suite to where a store runs.
type Options struct {
	// SerialClaims sends the competing claims of "one winner among
	// concurrent claims" one after another instead of at once. For an
	// emulator that does not serialise conditional writes to one item as
	// the real service does (moto_server applies concurrent requests
	// without a per-item lock): the suite then checks the conditions (one
	// claim wins, the others see ErrClaimed), and the atomicity is the
	// service's.
	SerialClaims bool
	// ExpiryGranularity is how much later than the retention a store may
	// treat a record as gone: DynamoDB's TTL attribute holds whole seconds,
	// rounded up so that a record is kept at least the retention.
	ExpiryGranularity time.Duration
}

// Run runs the contract against the stores of newStore.
func Run(t *testing.T, newStore Factory, opts Options) {
	ctx := context.Background()
	long := time.Hour

	t.Run("create and get", func(t *testing.T) {
		s := newStore(t, long)
		o := NewOrder(t, 42)
		r, err := s.Create(ctx, o)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		got, err := s.Get(ctx, o.ID)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		for _, rec := range []orderstore.Record{r, got} {
			if rec.Status() != order.StatusPending || rec.Order.ID != o.ID || rec.Order.CustomerID != 42 ||
				len(rec.Order.Items) != 1 || !rec.Order.CreatedAt.Equal(o.CreatedAt) || rec.Attempts != 0 {
				t.Errorf("record %+v, want the order pending, no attempt", rec)
			}
			if rec.PayloadHash != orderstore.PayloadHash(o) || !rec.ExpiresAt.After(time.Now()) || rec.UpdatedAt.IsZero() {
				t.Errorf("record hash %q expires %v updated %v", rec.PayloadHash, rec.ExpiresAt, rec.UpdatedAt)
			}
		}
		if _, err := s.Get(ctx, "no-such-order"); !errors.Is(err, orderstore.ErrNotFound) {
			t.Errorf("get unknown = %v, want ErrNotFound", err)
		}
	})

	t.Run("create again", func(t *testing.T) {
		s := newStore(t, long)
		o := NewOrder(t, 42)
		if _, err := s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		r, err := s.Create(ctx, o)
		if !errors.Is(err, orderstore.ErrExists) || r.Order.ID != o.ID || r.Status() != order.StatusPending {
			t.Errorf("create the same order again = %+v, %v; want the record and ErrExists", r, err)
		}
		other := o
		other.CustomerID = 7
		r, err = s.Create(ctx, other)
		if !errors.Is(err, orderstore.ErrConflict) || r.Order.CustomerID != 42 {
			t.Errorf("create the ID with another payload = %+v, %v; want the first record and ErrConflict", r, err)
		}
		if _, err := s.Claim(ctx, other, "w1", Lease); !errors.Is(err, orderstore.ErrConflict) {
			t.Errorf("claim the ID with another payload = %v, want ErrConflict", err)
		}
		if got, _ := s.Get(ctx, o.ID); got.Order.CustomerID != 42 || got.Status() != order.StatusPending {
			t.Errorf("after the conflicts: %+v, want the first order, pending", got)
		}
	})

	t.Run("claim and finish", func(t *testing.T) {
		s := newStore(t, long)
		o := NewOrder(t, 42)
		if _, err := s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		r, err := s.Claim(ctx, o, "worker-1", time.Minute)
		if err != nil {
			t.Fatalf("claim: %v", err)
		}
		if r.Status() != order.StatusProcessing || r.Holder != "worker-1" || r.Attempts != 1 ||
			r.LeaseUntil.Before(before.Add(time.Minute-time.Second)) || r.LeaseUntil.After(time.Now().Add(time.Minute+time.Second)) {
			t.Errorf("claimed: %+v, want processing by worker-1, attempt 1, lease a minute", r)
		}
		r, err = s.Finish(ctx, o.ID, "worker-1", order.StatusCompleted, "")
		if err != nil {
			t.Fatalf("finish: %v", err)
		}
		if r.Status() != order.StatusCompleted || r.PaidAt.IsZero() || r.Holder != "worker-1" || r.Attempts != 1 {
			t.Errorf("finished: %+v, want completed, paid, by worker-1", r)
		}
		if got, _ := s.Get(ctx, o.ID); got.Status() != order.StatusCompleted || got.PaidAt.IsZero() {
			t.Errorf("get after finish: %+v", got)
		}
	})

	t.Run("claim an order not recorded yet", func(t *testing.T) {
		s := newStore(t, long)
		o := NewOrder(t, 42)
		r, err := s.Claim(ctx, o, "lambda-req-1", Lease)
		if err != nil || r.Status() != order.StatusProcessing || r.Attempts != 1 || r.Order.CustomerID != 42 {
			t.Fatalf("claim of an unrecorded order = %+v, %v; want it recorded, processing", r, err)
		}
		if got, err := s.Get(ctx, o.ID); err != nil || got.Status() != order.StatusProcessing {
			t.Errorf("get = %+v, %v", got, err)
		}
	})

	t.Run("finished orders never change", func(t *testing.T) {
		for _, final := range []order.Status{order.StatusCompleted, order.StatusFailed} {
			t.Run(string(final), func(t *testing.T) {
				s := newStore(t, long)
				o := NewOrder(t, 42)
				if _, err := s.Claim(ctx, o, "w1", Lease); err != nil {
					t.Fatal(err)
				}
				reason := ""
				if final == order.StatusFailed {
					reason = "declined"
				}
				if _, err := s.Finish(ctx, o.ID, "w1", final, reason); err != nil {
					t.Fatal(err)
				}
				time.Sleep(Lease + 100*time.Millisecond) // the lease would have run out
				if r, err := s.Claim(ctx, o, "w2", Lease); !errors.Is(err, orderstore.ErrFinished) || r.Status() != final {
					t.Errorf("claim of a %s order = %+v, %v; want its record and ErrFinished", final, r, err)
				}
				for _, s2 := range []order.Status{order.StatusCompleted, order.StatusFailed} {
					if r, err := s.Finish(ctx, o.ID, "w1", s2, ""); !errors.Is(err, orderstore.ErrFinished) || r.Status() != final {
						t.Errorf("finish %s of a %s order = %+v, %v; want ErrFinished", s2, final, r, err)
					}
				}
				if r, err := s.Create(ctx, o); !errors.Is(err, orderstore.ErrExists) || r.Status() != final {
					t.Errorf("create of a %s order = %+v, %v; want its record and ErrExists", final, r, err)
				}
				got, _ := s.Get(ctx, o.ID)
				if got.Status() != final || got.Reason != reason || got.Attempts != 1 {
					t.Errorf("after the attempts: %+v, want %s (%q), one attempt", got, final, reason)
				}
			})
		}
	})

	t.Run("one winner among concurrent claims", func(t *testing.T) {
		s := newStore(t, long)
		o := NewOrder(t, 42)
		if _, err := s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		const n = 16
		var wg sync.WaitGroup
		results := make(chan error, n)
		for i := range n {
			claim := func() {
				_, err := s.Claim(ctx, o, fmt.Sprintf("worker-%d", i), time.Minute)
				results <- err
			}
			if opts.SerialClaims {
				claim()
			} else {
				wg.Go(claim)
			}
		}
		wg.Wait()
		close(results)
		won := 0
		for err := range results {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, orderstore.ErrClaimed):
				t.Errorf("a losing claim = %v, want ErrClaimed", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d claims of one order won, want exactly 1", won)
		}
		if r, _ := s.Get(ctx, o.ID); r.Attempts != 1 {
			t.Errorf("attempts %d, want 1", r.Attempts)
		}
	})

	t.Run("lease runs out and another takes over", func(t *testing.T) {
		s := newStore(t, long)
		o := NewOrder(t, 42)
		if _, err := s.Claim(ctx, o, "dead-worker", Lease); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Claim(ctx, o, "worker-2", Lease); !errors.Is(err, orderstore.ErrClaimed) || r.Holder != "dead-worker" {
			t.Fatalf("claim during a live lease = %+v, %v; want the holder's record and ErrClaimed", r, err)
		}
		time.Sleep(Lease + 100*time.Millisecond)
		r, err := s.Claim(ctx, o, "worker-2", Lease)
		if err != nil || r.Holder != "worker-2" || r.Attempts != 2 || r.Status() != order.StatusProcessing {
			t.Fatalf("claim after the lease ran out = %+v, %v; want worker-2, attempt 2", r, err)
		}
		if r, err := s.Finish(ctx, o.ID, "dead-worker", order.StatusCompleted, ""); !errors.Is(err, orderstore.ErrNotHolder) || r.Holder != "worker-2" {
			t.Errorf("finish by the holder whose claim was taken over = %+v, %v; want ErrNotHolder", r, err)
		}
		if r, err := s.Finish(ctx, o.ID, "worker-2", order.StatusCompleted, ""); err != nil || r.Status() != order.StatusCompleted {
			t.Errorf("finish by the new holder = %+v, %v", r, err)
		}
	})

	t.Run("finish without the claim", func(t *testing.T) {
		s := newStore(t, long)
		o := NewOrder(t, 42)
		if _, err := s.Finish(ctx, o.ID, "w1", order.StatusCompleted, ""); !errors.Is(err, orderstore.ErrNotFound) {
			t.Errorf("finish of an unknown order = %v, want ErrNotFound", err)
		}
		if _, err := s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Finish(ctx, o.ID, "w1", order.StatusCompleted, ""); !errors.Is(err, orderstore.ErrNotHolder) {
			t.Errorf("finish of a pending order = %v, want ErrNotHolder", err)
		}
		if _, err := s.Claim(ctx, o, "w1", Lease); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Finish(ctx, o.ID, "w2", order.StatusCompleted, ""); !errors.Is(err, orderstore.ErrNotHolder) {
			t.Errorf("finish by another = %v, want ErrNotHolder", err)
		}
		if r, _ := s.Get(ctx, o.ID); r.Status() != order.StatusProcessing || r.Holder != "w1" {
			t.Errorf("after refused finishes: %+v, want processing by w1", r)
		}
	})

	t.Run("cancel a pending order", func(t *testing.T) {
		s := newStore(t, long)
		o := NewOrder(t, 42)
		if _, err := s.Cancel(ctx, o.ID, orderstore.ReasonNotAccepted); !errors.Is(err, orderstore.ErrNotFound) {
			t.Errorf("cancel unknown = %v, want ErrNotFound", err)
		}
		if _, err := s.Get(ctx, o.ID); !errors.Is(err, orderstore.ErrNotFound) {
			t.Errorf("cancel of an unknown order wrote it: get = %v", err)
		}
		if _, err := s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		r, err := s.Cancel(ctx, o.ID, orderstore.ReasonNotAccepted)
		if err != nil || r.Status() != order.StatusFailed || r.Reason != orderstore.ReasonNotAccepted {
			t.Fatalf("cancel = %+v, %v; want failed, not_accepted", r, err)
		}
		// A message that went out all the same is never paid.
		if r, err := s.Claim(ctx, o, "w1", Lease); !errors.Is(err, orderstore.ErrFinished) || r.Attempts != 0 {
			t.Errorf("claim of a cancelled order = %+v, %v; want ErrFinished, no attempt", r, err)
		}
		// The client posts the order_id again, with another payload: a new order.
		again := o
		again.CustomerID = 7
		r, err = s.Create(ctx, again)
		if err != nil || r.Status() != order.StatusPending || r.Order.CustomerID != 7 || r.Reason != "" {
			t.Fatalf("create after not accepted = %+v, %v; want the new order, pending", r, err)
		}
		if _, err := s.Claim(ctx, o, "w1", Lease); !errors.Is(err, orderstore.ErrConflict) {
			t.Errorf("claim with the first payload after the re-post = %v, want ErrConflict", err)
		}
		if _, err := s.Claim(ctx, again, "w1", Lease); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Cancel(ctx, o.ID, orderstore.ReasonNotAccepted); !errors.Is(err, orderstore.ErrClaimed) || r.Holder != "w1" {
			t.Errorf("cancel of a claimed order = %+v, %v; want ErrClaimed with the holder", r, err)
		}
		if _, err := s.Finish(ctx, o.ID, "w1", order.StatusCompleted, ""); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Cancel(ctx, o.ID, orderstore.ReasonNotAccepted); !errors.Is(err, orderstore.ErrFinished) || r.Status() != order.StatusCompleted {
			t.Errorf("cancel of a completed order = %+v, %v; want ErrFinished", r, err)
		}
		// Only a not-accepted failure is replaced: a declined order stays.
		d := NewOrder(t, 42)
		if _, err := s.Claim(ctx, d, "w1", Lease); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Finish(ctx, d.ID, "w1", order.StatusFailed, orderstore.ReasonDeclined); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Create(ctx, d); !errors.Is(err, orderstore.ErrExists) || r.Reason != orderstore.ReasonDeclined {
			t.Errorf("create of a declined order = %+v, %v; want ErrExists, declined", r, err)
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		s := newStore(t, long)
		o := NewOrder(t, 42)
		for name, err := range map[string]error{
			"claim without holder":   second(s.Claim(ctx, o, "", Lease)),
			"claim without lease":    second(s.Claim(ctx, o, "w1", 0)),
			"finish pending":         second(s.Finish(ctx, o.ID, "w1", order.StatusPending, "")),
			"finish without holder":  second(s.Finish(ctx, o.ID, "", order.StatusCompleted, "")),
			"finish with processing": second(s.Finish(ctx, o.ID, "w1", order.StatusProcessing, "")),
		} {
			if err == nil {
				t.Errorf("%s: no error", name)
			}
		}
		if _, err := s.Get(ctx, o.ID); !errors.Is(err, orderstore.ErrNotFound) {
			t.Errorf("bad calls wrote the order: get = %v", err)
		}
	})

	t.Run("records expire", func(t *testing.T) {
		const retention = time.Second
		s := newStore(t, retention)
		o := NewOrder(t, 42)
		if _, err := s.Claim(ctx, o, "w1", Lease); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Finish(ctx, o.ID, "w1", order.StatusCompleted, ""); err != nil {
			t.Fatal(err)
		}
		finished := time.Now()
		// Kept for the retention: half of it is far enough from its end
		// for a slow emulator's round trip.
		time.Sleep(retention / 2)
		if _, err := s.Get(ctx, o.ID); err != nil {
			t.Errorf("get within the retention = %v, want the record", err)
		}
		time.Sleep(time.Until(finished.Add(retention + opts.ExpiryGranularity + 200*time.Millisecond)))
		if r, err := s.Get(ctx, o.ID); !errors.Is(err, orderstore.ErrNotFound) {
			t.Errorf("get after the retention = %+v, %v; want ErrNotFound (checked by time, whenever the store deletes)", r, err)
		}
	})
}

func second[T any](_ T, err error) error { return err }
