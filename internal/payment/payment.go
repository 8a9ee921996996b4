// Package payment simulates the payment verification of the studied system:
// each payment takes a fixed delay (3 s by default), honours context
// cancellation, and declines a configurable share of orders deterministically.
package payment

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"flashsale/internal/order"
)

// DefaultDelay is the time one payment takes in the studied system.
const DefaultDelay = 3 * time.Second

// ErrDeclined is returned when a payment is declined.
var ErrDeclined = errors.New("payment declined")

// Result is the outcome of a payment attempt, as counted in metrics.
type Result string

// The outcomes of a payment.
const (
	ResultCompleted Result = "completed"
	ResultDeclined  Result = "declined"
	ResultTimeout   Result = "timeout"
)

// ResultOf classifies the error returned by Pay.
func ResultOf(err error) Result {
	switch {
	case err == nil:
		return ResultCompleted
	case errors.Is(err, ErrDeclined):
		return ResultDeclined
	default:
		return ResultTimeout
	}
}

// Observer is told when payments start and finish. Implementations must be
// safe for concurrent use.
type Observer interface {
	PaymentStarted()
	PaymentFinished(Result, time.Duration)
}

type nopObserver struct{}

func (nopObserver) PaymentStarted()                       {}
func (nopObserver) PaymentFinished(Result, time.Duration) {}

// Config configures a Processor.
type Config struct {
	// Delay is how long one payment takes; DefaultDelay when zero.
	Delay time.Duration
	// DeclineRate is the share of orders declined, from 0 to 1.
	DeclineRate float64
	// Seed makes the choice of declined orders reproducible: the same seed
	// and order ID always give the same decision.
	Seed int64
	// Observer is told of each payment; optional.
	Observer Observer
}

// Processor performs simulated payments. It is safe for concurrent use; the
// number of payments running at once is limited only by its callers (see
// Limiter).
type Processor struct {
	delay       time.Duration
	declineRate float64
	seed        uint64
	obs         Observer
}

// New returns a Processor, or an error when the configuration is out of range.
func New(cfg Config) (*Processor, error) {
	if cfg.Delay < 0 {
		return nil, fmt.Errorf("payment delay %v: must not be negative", cfg.Delay)
	}
	if math.IsNaN(cfg.DeclineRate) || cfg.DeclineRate < 0 || cfg.DeclineRate > 1 {
		return nil, fmt.Errorf("decline rate %v: must be between 0 and 1", cfg.DeclineRate)
	}
	if cfg.Delay == 0 {
		cfg.Delay = DefaultDelay
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	return &Processor{delay: cfg.Delay, declineRate: cfg.DeclineRate, seed: uint64(cfg.Seed), obs: cfg.Observer}, nil
}

// Delay is the time one payment takes.
func (p *Processor) Delay() time.Duration { return p.delay }

// Pay verifies the payment of o. It returns nil once the payment completes,
// ErrDeclined when it is declined, or the context's error (wrapped) when ctx
// ends first.
func (p *Processor) Pay(ctx context.Context, o order.Order) error {
	start := time.Now()
	p.obs.PaymentStarted()
	err := p.pay(ctx, o)
	p.obs.PaymentFinished(ResultOf(err), time.Since(start))
	return err
}

func (p *Processor) pay(ctx context.Context, o order.Order) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("payment of %s not started: %w", o.ID, err)
	}
	t := time.NewTimer(p.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("payment of %s interrupted: %w", o.ID, ctx.Err())
	case <-t.C:
	}
	if p.Declines(o.ID) {
		return fmt.Errorf("order %s: %w", o.ID, ErrDeclined)
	}
	return nil
}

// Declines reports whether the payment of the order with this ID is declined.
// The decision depends only on the seed, the rate and the ID, so a retried
// payment gets the same answer and a run can be reproduced.
func (p *Processor) Declines(orderID string) bool {
	if p.declineRate <= 0 {
		return false
	}
	if p.declineRate >= 1 {
		return true
	}
	h := fnv.New64a()
	var seed [8]byte
	for i := range seed {
		seed[i] = byte(p.seed >> (8 * i))
	}
	h.Write(seed[:])
	h.Write([]byte(orderID))
	// FNV alone mixes short, similar IDs poorly; the splitmix64 finalizer
	// spreads every input bit over the output. Top 53 bits -> [0, 1).
	u := float64(mix64(h.Sum64())>>11) / (1 << 53)
	return u < p.declineRate
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
