package payment

import (
	"context"
	"fmt"

	"flashsale/internal/order"
)

// Payer performs one payment.
type Payer interface {
	Pay(ctx context.Context, o order.Order) error
}

// Limiter lets at most a fixed number of payments run at once through a
// buffered-channel semaphore; further callers wait for a slot, or give up
// when their context ends. With one slot it reproduces the single payment
// slot of the studied synchronous path.
type Limiter struct {
	next  Payer
	slots chan struct{}
}

// NewLimiter wraps next so that at most slots payments run at once.
func NewLimiter(next Payer, slots int) (*Limiter, error) {
	if slots < 1 {
		return nil, fmt.Errorf("payment slots %d: must be at least 1", slots)
	}
	return &Limiter{next: next, slots: make(chan struct{}, slots)}, nil
}

// Pay waits for a free slot, then pays. When ctx ends while waiting, it
// returns the context's error (wrapped) without paying.
func (l *Limiter) Pay(ctx context.Context, o order.Order) error {
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("order %s waited for a payment slot: %w", o.ID, ctx.Err())
	}
	defer func() { <-l.slots }()
	return l.next.Pay(ctx, o)
}

// InUse is how many slots are taken at this moment.
func (l *Limiter) InUse() int { return len(l.slots) }
