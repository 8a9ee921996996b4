// Package server assembles the local flash-sale system: the order API, the
// payment processor, the in-process queue and the worker pool in one
// process (the embedded default), or the API alone in front of an external
// queue. It owns the life cycle: start, serve, and a graceful shutdown that
// never drops an accepted order.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"flashsale/internal/httpapi"
	"flashsale/internal/metrics"
	"flashsale/internal/order"
	"flashsale/internal/orderstore"
	"flashsale/internal/orderstore/diskstore"
	"flashsale/internal/orderstore/memstore"
	"flashsale/internal/payment"
	"flashsale/internal/queue"
	"flashsale/internal/queue/memory"
	"flashsale/internal/worker"
)

// Defaults of the serve command.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultWorkers         = 1
	DefaultQueueCapacity   = 100_000
	DefaultSyncConcurrency = 1
	DefaultDrainTimeout    = 30 * time.Second
	DefaultSpillFile       = "flashsale-spill.jsonl"
	DefaultDataDir         = "flashsale-data"
	// LeaseMargin is added to the payment delay for a worker's claim.
	LeaseMargin = 30 * time.Second
)

// Config configures a Server. The zero values of the durations and counts
// take the defaults above.
type Config struct {
	// Addr is the listen address, used when Listener is nil.
	Addr string
	// Listener, when set, is used instead of listening on Addr.
	Listener net.Listener
	// Workers is the number of worker goroutines on the in-process queue.
	Workers int
	// QueueCapacity bounds the in-process queue; beyond it, 503.
	QueueCapacity int
	// PaymentDelay is the time one payment takes.
	PaymentDelay time.Duration
	// DeclineRate and Seed configure declined payments.
	DeclineRate float64
	Seed        int64
	// SyncConcurrency is the number of payment slots of the sync path.
	SyncConcurrency int
	// RequestTimeout is the sync path's deadline.
	RequestTimeout time.Duration
	// DrainTimeout is how long shutdown keeps draining the queue.
	DrainTimeout time.Duration
	// DataDir holds the embedded default's database (diskstore): the order
	// store, the queue and the payment charges, so that an order answered
	// 202 survives a crash. Empty: everything in memory (a crash loses
	// what is queued), with SpillFile. Not used with a Publisher or a
	// Store.
	DataDir string
	// MinSyncInterval is the least time between two disk syncs of the
	// DataDir's database (see diskstore.Config.MinSyncInterval).
	MinSyncInterval time.Duration
	// SpillFile, in memory (no DataDir), receives the orders still queued
	// after the drain timeout, and is read back at start. Empty disables
	// spilling: then shutdown drains until the queue is empty, however
	// long that takes. With a DataDir, a spill file left by an earlier
	// version is imported once into the database, then removed.
	SpillFile string
	// Publisher, when set, carries async orders instead of the in-process
	// queue (for example SNS); the server then runs the API alone, with no
	// queue and no workers.
	Publisher queue.Publisher
	// QueueDepth, when set with Publisher, reports the external queue's
	// depth for flashsale_queue_depth.
	QueueDepth queue.DepthReader
	// Store records every order (GET /orders/{id}, claims); when nil, an
	// in-memory store bounded by StoreRetention and StoreCapacity. With a
	// Publisher, give the store the workers share (DynamoDB): an in-memory
	// one never sees their outcomes.
	Store orderstore.Store
	// StoreRetention and StoreCapacity bound the in-memory store (see
	// memstore.Config); its defaults when zero.
	StoreRetention time.Duration
	StoreCapacity  int
	// Books, when set, are the simulated payment provider's record of
	// charges, shared with other processes (see payment.Books).
	Books payment.Books
	// Name names this process in its claims ("<Name>/<worker>",
	// "<Name>/sync-<n>"); "serve@<host>-<pid>" when empty.
	Name string
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.QueueCapacity == 0 {
		c.QueueCapacity = DefaultQueueCapacity
	}
	if c.SyncConcurrency == 0 {
		c.SyncConcurrency = DefaultSyncConcurrency
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = httpapi.DefaultRequestTimeout
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = fmt.Sprintf("serve@%s-%d", host, os.Getpid())
	}
	switch {
	case c.Workers < 1:
		return fmt.Errorf("workers %d: need at least 1", c.Workers)
	case c.QueueCapacity < 1:
		return fmt.Errorf("queue capacity %d: must be at least 1", c.QueueCapacity)
	case c.SyncConcurrency < 1:
		return fmt.Errorf("sync concurrency %d: must be at least 1", c.SyncConcurrency)
	case c.RequestTimeout < 0:
		return fmt.Errorf("request timeout %v: must be positive", c.RequestTimeout)
	case c.DrainTimeout < 0:
		return fmt.Errorf("drain timeout %v: must not be negative", c.DrainTimeout)
	}
	return nil
}

// Server is a running flash-sale system.
type Server struct {
	cfg      Config
	log      *slog.Logger
	listener net.Listener
	http     *http.Server
	metrics  *metrics.Metrics
	gate     *drainGate
	queue    *memory.Queue    // nil with an external publisher
	pool     *worker.Pool     // nil with an external publisher
	disk     *diskstore.Store // the DataDir's database; nil in memory
	restored int
}

// New builds the system and starts listening, but serves nothing until Run.
// With a DataDir it opens the database there (failing on a damaged one, or
// one another process holds), imports a spill file left by an earlier
// version, and queues the orders accepted and not finished before; in
// memory it restores the orders of the spill file, if any.
func New(cfg Config) (s *Server, _ error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s = &Server{cfg: cfg, log: cfg.Logger, metrics: metrics.New()}
	if cfg.DataDir != "" && cfg.Publisher == nil && cfg.Store == nil {
		disk, err := diskstore.Open(cfg.DataDir, diskstore.Config{Retention: cfg.StoreRetention, MinSyncInterval: cfg.MinSyncInterval, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		defer func() {
			if s == nil {
				_ = disk.Close()
			}
		}()
		s.disk = disk
		cfg.Store = disk
		if cfg.Books == nil {
			cfg.Books = s.disk
		}
	}
	proc, err := payment.New(payment.Config{Delay: cfg.PaymentDelay, DeclineRate: cfg.DeclineRate, Seed: cfg.Seed,
		Observer: s.metrics, Books: cfg.Books})
	if err != nil {
		return nil, err
	}
	syncPayer, err := payment.NewLimiter(proc, cfg.SyncConcurrency)
	if err != nil {
		return nil, err
	}
	store := cfg.Store
	if store == nil {
		if store, err = memstore.New(memstore.Config{Retention: cfg.StoreRetention, Capacity: cfg.StoreCapacity}); err != nil {
			return nil, err
		}
		if cfg.Publisher != nil {
			cfg.Logger.Warn("no orders table: GET /orders/{id} sees only this process's records (async orders stay pending) and duplicates are caught here only; give the table the workers share")
		}
	}

	publisher := cfg.Publisher
	if publisher == nil {
		restored, err := s.restore()
		if err != nil {
			return nil, err
		}
		s.restored = len(restored)
		if s.queue, err = memory.New(cfg.QueueCapacity, restored...); err != nil {
			return nil, err
		}
		publisher = s.queue
		s.metrics.QueueDepth(func() float64 { return float64(s.queue.Len()) })
		s.pool, err = worker.New(worker.Config{
			Consumer: s.queue, Payer: proc, Workers: cfg.Workers, Store: store, Name: cfg.Name,
			// The claims die with the process (an in-memory store) or run
			// out after a payment and its margin (a shared one).
			Lease:    max(proc.Delay(), time.Second) + LeaseMargin,
			Observer: s.metrics, Logger: cfg.Logger,
		})
		if err != nil {
			return nil, err
		}
	} else if cfg.QueueDepth != nil {
		depth := cfg.QueueDepth
		s.metrics.QueueDepth(func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n, err := depth.Depth(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		})
	}

	api, err := httpapi.New(httpapi.Config{
		Publisher: publisher, Payer: syncPayer, Store: store, Name: cfg.Name,
		RequestTimeout: cfg.RequestTimeout, Observer: s.metrics,
		Metrics: s.metrics.Handler(), Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.gate = &drainGate{next: api, rejected: s.metrics.OrderRejected}
	s.http = &http.Server{
		Handler:           s.gate,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	s.listener = cfg.Listener
	if s.listener == nil {
		if s.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
	}
	return s, nil
}

// restore returns the orders to queue at start: those of the database
// (after importing a spill file into it), or of the spill file in memory.
func (s *Server) restore() ([]order.Order, error) {
	if s.disk == nil {
		restored, err := memory.ReadSpill(s.cfg.SpillFile)
		if err != nil {
			return nil, fmt.Errorf("restore spilled orders: %w", err)
		}
		return restored, nil
	}
	if err := s.importSpill(); err != nil {
		return nil, err
	}
	return s.disk.Queued(context.Background())
}

// importSpill moves the orders of a spill file left by an earlier version
// into the database, once: each is recorded and queued (an order the
// database holds already is skipped), then the file is removed. Killed
// half-way, the next start imports the rest and skips what is there.
func (s *Server) importSpill() error {
	if s.cfg.SpillFile == "" {
		return nil
	}
	spilled, err := memory.ReadSpill(s.cfg.SpillFile)
	if err != nil {
		return fmt.Errorf("import the spill file %s: %w (fix or remove the file)", s.cfg.SpillFile, err)
	}
	if len(spilled) == 0 {
		return nil
	}
	conflicts, err := s.disk.Import(context.Background(), spilled)
	for _, id := range conflicts {
		s.log.Error("spilled order conflicts with a recorded one: not imported", "order_id", id, "spill_file", s.cfg.SpillFile)
	}
	if err != nil {
		return fmt.Errorf("import the spill file %s: %w", s.cfg.SpillFile, err)
	}
	if err := os.Remove(s.cfg.SpillFile); err != nil {
		return fmt.Errorf("imported the spill file %s, but could not remove it: %w (remove it by hand: its orders are in %s)",
			s.cfg.SpillFile, err, s.cfg.DataDir)
	}
	s.log.Warn("spill file imported into the database and removed", "spill_file", s.cfg.SpillFile, "orders", len(spilled)-len(conflicts), "data_dir", s.cfg.DataDir)
	return nil
}

// Syncs reports the durable writes of the data dir's database since start
// (requested) and the disk syncs that made them durable (disk): with group
// commit, fewer. Both are 0 in memory.
func (s *Server) Syncs() (requested, disk int64) {
	if s.disk == nil {
		return 0, 0
	}
	return s.disk.Syncs(), s.disk.DiskSyncs()
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Metrics exposes the server's metrics.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// Run serves until ctx ends, then shuts down gracefully: it stops accepting
// requests and lets those in flight finish, closes the queue, keeps the
// workers draining it for up to the drain timeout, lets in-flight payments
// finish, and writes what is still queued to the spill file.
func (s *Server) Run(ctx context.Context) error {
	poolCtx, stopPool := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPool()
	var poolDone chan struct{}
	if s.pool != nil {
		poolDone = make(chan struct{})
		go func() {
			defer close(poolDone)
			_ = s.pool.Run(poolCtx)
		}()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.http.Serve(s.listener) }()
	workers := 0 // an external publisher: the orders are paid elsewhere
	if s.pool != nil {
		workers = s.cfg.Workers
	}
	if s.disk != nil {
		defer func() {
			if cerr := s.disk.Close(); cerr != nil {
				s.log.Error("closing the database", "data_dir", s.cfg.DataDir, "err", cerr)
			}
		}()
	} else if s.pool != nil {
		s.log.Warn("the queue is in memory: a crash or kill loses the orders queued and not yet paid (start without --in-memory to keep them on disk in --data-dir)")
	}
	s.log.Info("flashsale serving", "addr", "http://"+s.Addr(), "queue", s.queueName(), "data_dir", s.cfg.DataDir, "workers", workers,
		"payment_delay", s.paymentDelay(), "sync_concurrency", s.cfg.SyncConcurrency,
		"request_timeout", s.cfg.RequestTimeout, "restored_orders", s.restored)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("http server: %w", err)
	}
	s.log.Info("shutting down: /health and new requests answer 503; finishing in-flight requests")
	s.gate.close()
	// The listener stays open while the queue drains, answering 503, and
	// closes at the end.
	defer func() {
		httpCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if shutErr := s.http.Shutdown(httpCtx); shutErr != nil {
			s.log.Warn("closing the listener", "err", shutErr)
		}
	}()
	if s.pool == nil {
		return err
	}
	s.queue.Close()
	s.log.Info("draining the queue", "depth", s.queue.Len(), "drain_timeout", s.cfg.DrainTimeout)
	// On a data dir, and in memory with a spill file, the drain is
	// bounded: what is left stays in the database, or is spilled.
	if s.disk != nil || s.cfg.SpillFile != "" {
		rest := "spilling the rest"
		if s.disk != nil {
			rest = "the rest stay queued in the database"
		}
		select {
		case <-poolDone:
		case <-time.After(s.cfg.DrainTimeout):
			s.log.Warn("drain timeout reached: finishing in-flight payments; "+rest, "depth", s.queue.Len())
			stopPool()
		}
	}
	<-poolDone
	if s.disk != nil {
		left := len(s.queue.Drain())
		if left > 0 {
			s.log.Warn("orders stay queued in the database; the next serve with this data dir pays them", "orders", left, "data_dir", s.cfg.DataDir)
		}
		s.log.Info("stopped", "queued_orders", left)
		return err
	}
	left := s.queue.Drain()
	if spillErr := memory.WriteSpill(s.cfg.SpillFile, left); spillErr != nil {
		ids := make([]string, len(left))
		for i, o := range left {
			ids[i] = o.ID
		}
		s.log.Error("could not spill queued orders", "err", spillErr, "order_ids", ids)
		return errors.Join(err, fmt.Errorf("spill %d orders: %w", len(left), spillErr))
	}
	if len(left) > 0 {
		s.log.Warn("orders spilled; the next serve with this spill file re-enqueues them", "orders", len(left), "spill_file", s.cfg.SpillFile)
	}
	s.log.Info("stopped", "spilled_orders", len(left))
	return err
}

func (s *Server) queueName() string {
	if s.disk != nil {
		return "disk"
	}
	if s.queue != nil {
		return "memory"
	}
	return "external"
}

func (s *Server) paymentDelay() time.Duration {
	if s.cfg.PaymentDelay == 0 {
		return payment.DefaultDelay
	}
	return s.cfg.PaymentDelay
}
