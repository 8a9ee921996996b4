// Package worker is the pool that drains a queue through the payment
// processor: N goroutines, each doing one payment at a time. It is the same
// pool over the in-process queue (flashsale serve) and over SQS (flashsale
// worker). Each order is paid under a claim in the order store (see
// payonce), so that duplicates reaching this process, another worker or
// another design pay nothing twice.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/orderstore/memstore"
	"flashsale/internal/payonce"
	"flashsale/internal/queue"
)

// Payer runs one payment.
type Payer interface {
	Pay(ctx context.Context, o order.Order) error
}

// Observer is told what the pool does; internal/metrics implements it.
type Observer interface {
	SetWorkers(n int)
	Duplicate()
	Poison()
}

type nopObserver struct{}

func (nopObserver) SetWorkers(int) {}
func (nopObserver) Duplicate()     {}
func (nopObserver) Poison()        {}

// Defaults of Config.
const (
	// DefaultSettleTimeout is the default bound of one Ack or Nack.
	DefaultSettleTimeout = 30 * time.Second
	// DefaultLease is the default claim on an order while it is paid.
	DefaultLease = time.Minute
	// DefaultName is the default name of the pool's claims.
	DefaultName = "worker"
)

// Config configures a Pool.
type Config struct {
	// Consumer is the queue to drain; required.
	Consumer queue.Consumer
	// Payer pays each order; required.
	Payer Payer
	// Workers is the number of goroutines, each paying one order at a time;
	// at least 1.
	Workers int
	// Store records each order's claim and outcome, shared with every
	// process that pays the same orders; a fresh in-memory store when nil
	// (duplicates are then caught in this process only). A declined
	// payment is final: the order failed, the message is acknowledged.
	Store payonce.Store
	// Name names this pool's claims: worker i holds "<Name>/<i>". Give
	// each process its own (DefaultName when empty).
	Name string
	// Lease is the claim on an order while it is paid: longer than a
	// payment, shorter than the time before its message comes back to
	// another consumer (the visibility timeout); DefaultLease when zero.
	Lease time.Duration
	// ErrorBackoff is the pause after a failed Receive; 1 s when zero.
	ErrorBackoff time.Duration
	// SettleTimeout bounds each Ack or Nack, which the end of the pool's
	// context does not cancel; DefaultSettleTimeout when zero. A settle
	// that times out leaves the message to the queue: it comes back after
	// its visibility timeout (and a paid order is then recognised as
	// finished by the store).
	SettleTimeout time.Duration
	// Observer is told of duplicates and poison messages; optional.
	Observer Observer
	// Logger logs each failure; slog.Default() when nil.
	Logger *slog.Logger
}

// Pool drains a queue with a fixed number of workers.
type Pool struct {
	cfg Config

	mu       sync.Mutex
	inFlight map[string]chan struct{} // order ID -> closed when its payment ends
}

// New returns a pool, or an error when the configuration is incomplete.
func New(cfg Config) (*Pool, error) {
	if cfg.Consumer == nil {
		return nil, errors.New("worker: a consumer is required")
	}
	if cfg.Payer == nil {
		return nil, errors.New("worker: a payer is required")
	}
	if cfg.Workers < 1 {
		return nil, fmt.Errorf("worker: %d workers: need at least 1", cfg.Workers)
	}
	if cfg.Store == nil {
		s, err := memstore.New(memstore.Config{})
		if err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
		cfg.Store = s
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.ErrorBackoff <= 0 {
		cfg.ErrorBackoff = time.Second
	}
	if cfg.SettleTimeout <= 0 {
		cfg.SettleTimeout = DefaultSettleTimeout
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Pool{cfg: cfg, inFlight: make(map[string]chan struct{})}, nil
}

// Run starts the workers and blocks until they have all stopped. Workers
// stop receiving when ctx ends or when the queue is closed and empty; a
// payment already started always finishes and is settled, whatever ctx
// does (each settle is bounded by Config.SettleTimeout). Run returns nil
// after a closed queue was drained, or ctx's error.
func (p *Pool) Run(ctx context.Context) error {
	p.cfg.Observer.SetWorkers(p.cfg.Workers)
	defer p.cfg.Observer.SetWorkers(0)
	var wg sync.WaitGroup
	for i := range p.cfg.Workers {
		wg.Go(func() { p.work(ctx, i) })
	}
	wg.Wait()
	return ctx.Err()
}

func (p *Pool) work(ctx context.Context, id int) {
	holder := fmt.Sprintf("%s/%d", p.cfg.Name, id)
	log := p.cfg.Logger.With("worker", id)
	// Settling and paying outlive ctx: an in-flight payment is finished,
	// never abandoned half-way. Settling has its own deadline (see settle).
	settleCtx := context.WithoutCancel(ctx)
	for {
		d, err := p.cfg.Consumer.Receive(ctx)
		switch {
		case err == nil:
			p.process(settleCtx, log, holder, d)
		case errors.Is(err, queue.ErrClosed) || ctx.Err() != nil:
			return
		default:
			log.ErrorContext(ctx, "receive failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(p.cfg.ErrorBackoff):
			}
		}
	}
}

// process pays one delivery and settles it.
func (p *Pool) process(ctx context.Context, log *slog.Logger, holder string, d *queue.Delivery) {
	if d.Err != nil {
		p.cfg.Observer.Poison()
		log.WarnContext(ctx, "not an order: left to the dead-letter queue", "message_id", d.ID, "receives", d.Receives, "err", d.Err)
		p.settle(ctx, log, d, false)
		return
	}
	o := d.Order
	release := p.claim(ctx, o.ID)
	defer release()
	res, err := payonce.Process(ctx, p.cfg.Store, p.cfg.Payer, o, holder, p.cfg.Lease)
	log = log.With("order_id", o.ID, "message_id", d.ID)
	if err != nil {
		log.ErrorContext(ctx, "payment failed: order given back to the queue", "receives", d.Receives, "err", err)
		p.settle(ctx, log, d, false)
		return
	}
	switch res.Outcome {
	case payonce.Paid:
		// The payment record: charged is false when the provider answered
		// an earlier holder's charge under the idempotency key.
		log.InfoContext(ctx, "order paid", "holder", holder, "attempts", res.Record.Attempts,
			"payment_ms", res.Took.Milliseconds(), "charged", !res.Replayed)
	case payonce.Declined:
		log.WarnContext(ctx, "payment declined: order failed", "holder", holder, "status", order.StatusFailed)
	case payonce.Finished:
		p.cfg.Observer.Duplicate()
		log.InfoContext(ctx, "order already finished: acknowledged, not paid again", "status", res.Record.Status(), "holder", res.Record.Holder)
	case payonce.Conflict:
		log.ErrorContext(ctx, "order_id recorded with another payload: acknowledged, never paid", "customer_id", o.CustomerID)
	case payonce.Busy:
		p.cfg.Observer.Duplicate()
		wait := time.Until(res.Record.LeaseUntil) + time.Second
		log.InfoContext(ctx, "order claimed by another processor: given back until its claim ends", "holder", res.Record.Holder, "retry_in", wait.Round(time.Second).String())
		p.retryAfter(ctx, log, d, wait)
		return
	}
	p.settle(ctx, log, d, true)
}

// retryAfter gives d back for delay when the queue can (SQS), otherwise
// as Nack does.
func (p *Pool) retryAfter(ctx context.Context, log *slog.Logger, d *queue.Delivery, delay time.Duration) {
	r, ok := p.cfg.Consumer.(queue.Retrier)
	if !ok {
		p.settle(ctx, log, d, false)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.SettleTimeout)
	defer cancel()
	if err := r.NackAfter(ctx, d, delay); err != nil {
		log.ErrorContext(ctx, "giving the message back failed", "err", err)
	}
}

// settle acknowledges (ack) or gives back d, within Config.SettleTimeout:
// ctx does not end when the pool stops, and one hung call must not hang
// the shutdown.
func (p *Pool) settle(ctx context.Context, log *slog.Logger, d *queue.Delivery, ack bool) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.SettleTimeout)
	defer cancel()
	var err error
	if ack {
		err = p.cfg.Consumer.Ack(ctx, d)
	} else {
		err = p.cfg.Consumer.Nack(ctx, d)
	}
	if err != nil {
		// Not fatal: an un-acked message comes back and is then recognised
		// as finished; an un-nacked one becomes visible after its timeout.
		log.ErrorContext(ctx, "settling message failed", "ack", ack, "message_id", d.ID, "order_id", d.Order.ID, "err", err)
	}
}

// claim makes this worker the only one handling order id in this process:
// a second delivery of the same order waits for the first to finish, then
// finds it finished in the store, instead of coming back at once from an
// in-process queue. The returned func releases the claim.
func (p *Pool) claim(ctx context.Context, id string) func() {
	for {
		p.mu.Lock()
		done, busy := p.inFlight[id]
		if !busy {
			ch := make(chan struct{})
			p.inFlight[id] = ch
			p.mu.Unlock()
			return func() {
				p.mu.Lock()
				delete(p.inFlight, id)
				p.mu.Unlock()
				close(ch)
			}
		}
		p.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return func() {}
		}
	}
}
