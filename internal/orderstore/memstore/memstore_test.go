package memstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/orderstore"
	"flashsale/internal/orderstore/memstore"
	"flashsale/internal/orderstore/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, retention time.Duration) orderstore.Store {
		s, err := memstore.New(memstore.Config{Retention: retention})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, storetest.Options{})
}

// TestCapacity: at capacity the oldest finished record makes room;
// unfinished ones are never dropped, and a store full of them refuses new
// orders instead of forgetting one.
func TestCapacity(t *testing.T) {
	ctx := context.Background()
	s, err := memstore.New(memstore.Config{Capacity: 3})
	if err != nil {
		t.Fatal(err)
	}
	done := storetest.NewOrder(t, 1)
	if _, err := s.Claim(ctx, done, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(ctx, done.ID, "w", order.StatusCompleted, ""); err != nil {
		t.Fatal(err)
	}
	p1, p2, p3, p4 := storetest.NewOrder(t, 2), storetest.NewOrder(t, 3), storetest.NewOrder(t, 4), storetest.NewOrder(t, 5)
	for _, o := range []order.Order{p1, p2} {
		if _, err := s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, p3); err != nil {
		t.Fatalf("create at capacity with a finished record to drop: %v", err)
	}
	if _, err := s.Get(ctx, done.ID); !errors.Is(err, orderstore.ErrNotFound) {
		t.Errorf("the finished record was not the one dropped: %v", err)
	}
	if _, err := s.Create(ctx, p4); !errors.Is(err, memstore.ErrFull) {
		t.Errorf("create with capacity full of unfinished orders = %v, want ErrFull", err)
	}
	if _, err := s.Claim(ctx, p4, "w", time.Minute); !errors.Is(err, memstore.ErrFull) {
		t.Errorf("claim of a new order with capacity full = %v, want ErrFull", err)
	}
	for _, o := range []order.Order{p1, p2, p3} {
		if _, err := s.Get(ctx, o.ID); err != nil {
			t.Errorf("unfinished order %s dropped: %v", o.ID, err)
		}
	}
	if s.Len() != 3 {
		t.Errorf("len %d, want 3", s.Len())
	}
}

// TestExpiredDropped: expired records are dropped as new ones come, so the
// store does not grow with a long sale.
func TestExpiredDropped(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s, err := memstore.New(memstore.Config{Retention: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := s.Create(ctx, storetest.NewOrder(t, int64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(2 * time.Minute)
	if _, err := s.Create(ctx, storetest.NewOrder(t, 1000)); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Errorf("len %d after the retention, want 1: expired records kept", s.Len())
	}
}

func TestNewValidates(t *testing.T) {
	for name, cfg := range map[string]memstore.Config{
		"negative retention": {Retention: -time.Second},
		"negative capacity":  {Capacity: -1},
	} {
		if _, err := memstore.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRecordsAreCopies: what a caller does with a returned record does not
// change the store.
func TestRecordsAreCopies(t *testing.T) {
	ctx := context.Background()
	s, _ := memstore.New(memstore.Config{})
	o := storetest.NewOrder(t, 1)
	r, err := s.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	r.Order.Items[0].Quantity = 999
	r.Order.Status = order.StatusCompleted
	if got, _ := s.Get(ctx, o.ID); got.Order.Items[0].Quantity != 2 || got.Status() != order.StatusPending {
		t.Errorf("store changed through a returned record: %+v", got)
	}
}
