// Package payment simulates the payment verification of the studied system:
// each payment takes a fixed delay (3 s by default), honours context
// cancellation, and declines a configurable share of orders deterministically.
//
// Like a real provider, it takes the order ID as the idempotency key: a
// payment repeated with the key of one that went through (completed or
// declined) returns the first outcome at once and charges nothing. The keys
// live in the process, or in Books shared by several processes.
package payment

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
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
	// Books, when set, records each charge where other processes see it,
	// so that a payment repeated by another process (which took an order
	// over from one that died) is not charged twice. The process's own
	// memory of keys is used when nil.
	Books Books
}

// Books are a provider's record of charges by idempotency key, shared by
// every client that uses them. Implementations must be safe for concurrent
// use.
type Books interface {
	// Charge records result under key by holder, unless the key is
	// recorded already: it then returns the recorded result and false.
	Charge(ctx context.Context, key, holder string, result Result) (Result, bool, error)
}

// Processor performs simulated payments. It is safe for concurrent use; the
// number of payments running at once is limited only by its callers (see
// Limiter).
type Processor struct {
	delay       time.Duration
	declineRate float64
	seed        uint64
	obs         Observer
	books       Books

	mu   sync.Mutex
	keys map[string]*charge // idempotency key -> its payment, without Books
	ring []string           // keys of finished payments, oldest first at head
	head int
}

// MaxKeys is how many idempotency keys of finished payments a Processor
// without Books remembers, forgetting the oldest first: as a provider keeps
// keys for a limited time.
const MaxKeys = 1 << 20

// charge is one payment under a key: done is closed when err is final.
type charge struct {
	done chan struct{}
	err  error
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
	return &Processor{delay: cfg.Delay, declineRate: cfg.DeclineRate, seed: uint64(cfg.Seed), obs: cfg.Observer,
		books: cfg.Books, keys: make(map[string]*charge)}, nil
}

// Delay is the time one payment takes.
func (p *Processor) Delay() time.Duration { return p.delay }

// Pay verifies the payment of o, with o.ID as its idempotency key. It
// returns nil once the payment completes, ErrDeclined when it is declined,
// or the context's error (wrapped) when ctx ends first. A key whose payment
// went through returns the same outcome again at once, charging nothing; a
// payment of a key already running waits for that one's outcome.
// Books record who paid from WithHolder.
func (p *Processor) Pay(ctx context.Context, o order.Order) error {
	if p.books != nil {
		return p.payBooked(ctx, o, holderOf(ctx))
	}
	for {
		p.mu.Lock()
		c, ok := p.keys[o.ID]
		if !ok {
			c = &charge{done: make(chan struct{})}
			p.keys[o.ID] = c
			p.mu.Unlock()
			c.err = p.observed(ctx, o)
			p.mu.Lock()
			if ResultOf(c.err) == ResultTimeout {
				delete(p.keys, o.ID) // not charged: the key may be used again
			} else {
				p.remember(o.ID)
			}
			p.mu.Unlock()
			close(c.done)
			return c.err
		}
		p.mu.Unlock()
		select {
		case <-c.done:
			if ResultOf(c.err) != ResultTimeout {
				replayed(ctx)
				return c.err
			}
			// That attempt was interrupted: try again under the key.
		case <-ctx.Done():
			return fmt.Errorf("payment of %s waiting for the same key: %w", o.ID, ctx.Err())
		}
	}
}

type holderKey struct{}

type receiptKey struct{}

// Receipt tells the caller of Pay what the provider did.
type Receipt struct {
	// Replayed: the key was charged before (by this process or, with
	// Books, another), and Pay answered that charge's outcome without
	// charging again.
	Replayed bool
}

// WithReceipt returns ctx asking Pay to fill r.
func WithReceipt(ctx context.Context, r *Receipt) context.Context {
	return context.WithValue(ctx, receiptKey{}, r)
}

func replayed(ctx context.Context) {
	if r, ok := ctx.Value(receiptKey{}).(*Receipt); ok {
		r.Replayed = true
	}
}

// WithHolder returns ctx naming who pays (a worker, a Lambda request), as
// Books record it.
func WithHolder(ctx context.Context, holder string) context.Context {
	return context.WithValue(ctx, holderKey{}, holder)
}

func holderOf(ctx context.Context) string {
	h, _ := ctx.Value(holderKey{}).(string)
	return h
}

// remember keeps key among the finished ones, forgetting the oldest past
// MaxKeys. p.mu held.
func (p *Processor) remember(key string) {
	if len(p.ring) < MaxKeys {
		p.ring = append(p.ring, key)
		return
	}
	delete(p.keys, p.ring[p.head])
	p.ring[p.head] = key
	p.head = (p.head + 1) % MaxKeys
}

// payBooked pays o unless the Books hold its key.
func (p *Processor) payBooked(ctx context.Context, o order.Order, holder string) error {
	err := p.observed(ctx, o)
	r := ResultOf(err)
	if r == ResultTimeout {
		return err
	}
	got, first, berr := p.books.Charge(context.WithoutCancel(ctx), o.ID, holder, r)
	if berr != nil {
		return fmt.Errorf("payment of %s: recording the charge: %w", o.ID, berr)
	}
	if !first {
		replayed(ctx)
	}
	if got == ResultDeclined {
		return fmt.Errorf("order %s: %w", o.ID, ErrDeclined)
	}
	return nil
}

// observed runs one payment, told to the observer.
func (p *Processor) observed(ctx context.Context, o order.Order) error {
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
