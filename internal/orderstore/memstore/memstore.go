// Package memstore is the in-memory orderstore.Store of `flashsale serve`'s
// embedded default: one process, every change under one lock, bounded by a
// retention period and a capacity so that a long flash sale cannot exhaust
// memory. It dies with the process.
package memstore

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/orderstore"
)

// Defaults of Config.
const (
	DefaultRetention = 24 * time.Hour
	DefaultCapacity  = 1_000_000
)

// ErrFull is returned by Create and Claim when the store holds Capacity
// orders and none of them is finished (so none can be forgotten).
var ErrFull = errors.New("memstore: full of unfinished orders")

// Config configures a Store.
type Config struct {
	// Retention is how long a record is kept after its last change:
	// DefaultRetention when zero.
	Retention time.Duration
	// Capacity is the most records kept: DefaultCapacity when zero. Past
	// it, the oldest finished records are forgotten first; unfinished ones
	// never are.
	Capacity int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Store is an in-memory orderstore.Store, safe for concurrent use.
type Store struct {
	cfg   Config
	mu    sync.Mutex
	byID  map[string]*list.Element // of *orderstore.Record
	order *list.List               // by last change, oldest first
}

var _ orderstore.Store = (*Store)(nil)

// New returns an empty store.
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.Retention < 0:
		return nil, fmt.Errorf("memstore: retention %v: must not be negative", cfg.Retention)
	case cfg.Capacity < 0:
		return nil, fmt.Errorf("memstore: capacity %d: must not be negative", cfg.Capacity)
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{cfg: cfg, byID: map[string]*list.Element{}, order: list.New()}, nil
}

// Len is the number of records held (expired ones not yet dropped included).
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}

// lookup returns the live record of id, dropping it when expired. s.mu held.
func (s *Store) lookup(id string, now time.Time) *orderstore.Record {
	e, ok := s.byID[id]
	if !ok {
		return nil
	}
	r := e.Value.(*orderstore.Record)
	if !now.Before(r.ExpiresAt) {
		s.remove(e)
		return nil
	}
	return r
}

func (s *Store) remove(e *list.Element) {
	delete(s.byID, e.Value.(*orderstore.Record).Order.ID)
	s.order.Remove(e)
}

// touch marks r changed at now: new expiry, moved to the back. s.mu held.
func (s *Store) touch(r *orderstore.Record, now time.Time) {
	r.UpdatedAt = now
	r.ExpiresAt = now.Add(s.cfg.Retention)
	if e, ok := s.byID[r.Order.ID]; ok {
		s.order.MoveToBack(e)
		return
	}
	s.byID[r.Order.ID] = s.order.PushBack(r)
}

// room makes room for one record: drops the expired ones at the front,
// then, at capacity, the oldest finished one. s.mu held.
func (s *Store) room(now time.Time) error {
	for e := s.order.Front(); e != nil; {
		next := e.Next()
		if r := e.Value.(*orderstore.Record); !now.Before(r.ExpiresAt) {
			s.remove(e)
		} else {
			break // ordered by last change, so by expiry
		}
		e = next
	}
	if s.order.Len() < s.cfg.Capacity {
		return nil
	}
	for e := s.order.Front(); e != nil; e = e.Next() {
		if e.Value.(*orderstore.Record).Finished() {
			s.remove(e)
			return nil
		}
	}
	return fmt.Errorf("%w (%d)", ErrFull, s.cfg.Capacity)
}

// Create implements orderstore.Store.
func (s *Store) Create(_ context.Context, o order.Order) (orderstore.Record, error) {
	now := s.cfg.Now()
	hash := orderstore.PayloadHash(o)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.lookup(o.ID, now); r != nil {
		switch {
		case notAccepted(r): // never accepted: replaced
			s.remove(s.byID[o.ID])
		case r.PayloadHash != hash:
			return clone(r), orderstore.ErrConflict
		default:
			return clone(r), orderstore.ErrExists
		}
	}
	if err := s.room(now); err != nil {
		return orderstore.Record{}, err
	}
	o.Status = order.StatusPending
	r := &orderstore.Record{Order: o, PayloadHash: hash}
	s.touch(r, now)
	return clone(r), nil
}

// Get implements orderstore.Store.
func (s *Store) Get(_ context.Context, id string) (orderstore.Record, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.lookup(id, now); r != nil {
		return clone(r), nil
	}
	return orderstore.Record{}, orderstore.ErrNotFound
}

// Claim implements orderstore.Store.
func (s *Store) Claim(_ context.Context, o order.Order, holder string, lease time.Duration) (orderstore.Record, error) {
	if err := orderstore.ValidateClaim(holder, lease); err != nil {
		return orderstore.Record{}, err
	}
	now := s.cfg.Now()
	hash := orderstore.PayloadHash(o)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookup(o.ID, now)
	switch {
	case r == nil:
		if err := s.room(now); err != nil {
			return orderstore.Record{}, err
		}
		r = &orderstore.Record{Order: o, PayloadHash: hash}
	case r.PayloadHash != hash:
		return clone(r), orderstore.ErrConflict
	case r.Finished():
		return clone(r), orderstore.ErrFinished
	case r.Order.Status == order.StatusProcessing && now.Before(r.LeaseUntil):
		return clone(r), orderstore.ErrClaimed
	}
	r.Order.Status = order.StatusProcessing
	r.Holder = holder
	r.LeaseUntil = now.Add(lease)
	r.Attempts++
	s.touch(r, now)
	return clone(r), nil
}

// Finish implements orderstore.Store.
func (s *Store) Finish(_ context.Context, id, holder string, status order.Status, reason string) (orderstore.Record, error) {
	if err := orderstore.ValidateFinish(holder, status); err != nil {
		return orderstore.Record{}, err
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookup(id, now)
	switch {
	case r == nil:
		return orderstore.Record{}, orderstore.ErrNotFound
	case r.Finished():
		return clone(r), orderstore.ErrFinished
	case r.Order.Status != order.StatusProcessing || r.Holder != holder:
		return clone(r), orderstore.ErrNotHolder
	}
	r.Order.Status = status
	r.LeaseUntil = time.Time{}
	r.Reason = reason
	if status == order.StatusCompleted {
		r.PaidAt = now
	}
	s.touch(r, now)
	return clone(r), nil
}

// Cancel implements orderstore.Store.
func (s *Store) Cancel(_ context.Context, id, reason string) (orderstore.Record, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookup(id, now)
	switch {
	case r == nil:
		return orderstore.Record{}, orderstore.ErrNotFound
	case r.Finished():
		return clone(r), orderstore.ErrFinished
	case r.Order.Status != order.StatusPending:
		return clone(r), orderstore.ErrClaimed
	}
	r.Order.Status = order.StatusFailed
	r.Reason = reason
	s.touch(r, now)
	return clone(r), nil
}

// notAccepted reports whether r was cancelled because its order was never
// accepted: Create replaces it.
func notAccepted(r *orderstore.Record) bool {
	return r.Order.Status == order.StatusFailed && r.Reason == orderstore.ReasonNotAccepted
}

// clone copies a record for a caller: its items are its own.
func clone(r *orderstore.Record) orderstore.Record {
	c := *r
	c.Order.Items = slices.Clone(r.Order.Items)
	return c
}
