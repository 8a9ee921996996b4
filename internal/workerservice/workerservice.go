// Package workerservice assembles the long-running worker service (the "ECS"
// processor): the worker pool over the SQS consumer, the payment processor,
// and an HTTP listener with /health and /metrics. It owns the life cycle:
// a startup record comparable with the processor Lambda's cold starts, and
// a shutdown that stops receiving at once, finishes the payments in flight,
// deletes what was paid and leaves everything else to SQS.
package workerservice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"flashsale/internal/metrics"
	"flashsale/internal/payment"
	"flashsale/internal/payonce"
	"flashsale/internal/queue/sqs"
	"flashsale/internal/serverless"
	"flashsale/internal/worker"
)

// Defaults of the worker command.
const (
	DefaultAddr         = "127.0.0.1:8081"
	DefaultName         = "flashsale-worker"
	DefaultRetryDelay   = 5 * time.Second
	DefaultCloseTimeout = 30 * time.Second
)

// Config configures a Service.
type Config struct {
	// Client talks to SQS; required.
	Client sqs.API
	// QueueURL is the queue to drain; required.
	QueueURL string
	// Workers is the number of worker goroutines, each paying one order at
	// a time; at least 1.
	Workers int
	// Buffer is how many messages are received ahead of the workers;
	// min(Workers, 10) when zero.
	Buffer int
	// PaymentDelay, DeclineRate and Seed configure the payment processor.
	PaymentDelay time.Duration
	DeclineRate  float64
	Seed         int64
	// VisibilityTimeout is the visibility the consumer asks for; the
	// queue's when zero.
	VisibilityTimeout time.Duration
	// RetryDelay is how long a message given back (declined payment,
	// poison) stays invisible; see sqs.Config.RetryDelay.
	RetryDelay time.Duration
	// CallTimeout is the deadline of each SQS delete or visibility change
	// (see sqs.Config.CallTimeout: visibility changes get at most a third
	// of the visibility timeout); sqs.DefaultCallTimeout when zero. Each Ack or Nack of the
	// pool is bounded by the consumer's SettleBudget.
	CallTimeout time.Duration
	// CloseTimeout bounds the end of shutdown, after the payments in flight
	// finished: giving buffered messages back and the last deletes;
	// DefaultCloseTimeout when zero.
	CloseTimeout time.Duration
	// Addr is the listen address of /health and /metrics, used when
	// Listener is nil; DefaultAddr when empty.
	Addr string
	// Listener, when set, is used instead of listening on Addr.
	Listener net.Listener
	// Name is the service's name in its logs (the "function" field the
	// cold-start analysis groups by); DefaultName when empty.
	Name string
	// ProcessStart is when the process started, the origin of init_ms
	// (process start to ready: the queue checked, the listener up, the pool
	// about to make its first receive);
	// serverless.ProcessStart() when zero.
	ProcessStart time.Time
	// Store records each order's claim and outcome, shared with the other
	// processes that pay the same orders (the DynamoDB orders table); an
	// in-memory store of this process when nil, which catches duplicates
	// reaching this process only (said at start).
	Store payonce.Store
	// Instance names this process in its claims ("<Name>@<Instance>/<i>");
	// host name and process ID when empty.
	Instance string
	// Books, when set, are the simulated payment provider's record of
	// charges, shared with other processes (see payment.Books).
	Books payment.Books
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Metrics receives the start-up EMF record (namespace flashsale:
	// ColdStart 1 and InitDuration, dimension function = Name), which
	// CloudWatch Logs turns into metrics like the Lambdas'; os.Stdout when
	// nil, io.Discard to write none.
	Metrics io.Writer
}

// Service is a worker service ready to run.
type Service struct {
	cfg      Config
	log      *slog.Logger
	metrics  *metrics.Metrics
	consumer *sqs.Consumer
	pool     *worker.Pool
	listener net.Listener
	http     *http.Server
	stopping atomic.Bool
	tally    *tally
}

// New builds the service: it checks that the queue is reachable and starts
// listening, but receives nothing before Run.
func New(ctx context.Context, cfg Config) (*Service, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("workerservice: an SQS client is required")
	case cfg.QueueURL == "":
		return nil, errors.New("workerservice: a queue URL is required")
	case cfg.Workers < 1:
		return nil, fmt.Errorf("workerservice: %d workers: need at least 1", cfg.Workers)
	case cfg.CallTimeout < 0:
		return nil, fmt.Errorf("workerservice: call timeout %v: must not be negative", cfg.CallTimeout)
	}
	if cfg.Buffer == 0 {
		cfg.Buffer = min(cfg.Workers, sqs.MaxBatch)
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = sqs.DefaultCallTimeout
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.ProcessStart.IsZero() {
		cfg.ProcessStart = serverless.ProcessStart()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Instance == "" {
		host, _ := os.Hostname()
		cfg.Instance = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.Metrics == nil {
		cfg.Metrics = os.Stdout
	}
	log := cfg.Logger.With(serverless.FieldFunction, cfg.Name)
	s := &Service{cfg: cfg, log: log, metrics: metrics.New()}
	s.tally = &tally{payments: s.metrics, sqs: s.metrics.SQS()}
	if cfg.Store == nil {
		log.Warn("no orders table: duplicates are caught within this process only; give the table shared with the API (--orders-table) to pay each order once across processes")
	}
	proc, err := payment.New(payment.Config{Delay: cfg.PaymentDelay, DeclineRate: cfg.DeclineRate, Seed: cfg.Seed,
		Observer: s.tally, Books: cfg.Books})
	if err != nil {
		return nil, fmt.Errorf("workerservice: %w", err)
	}
	s.consumer, err = sqs.New(ctx, cfg.Client, sqs.Config{
		QueueURL:          cfg.QueueURL,
		Buffer:            cfg.Buffer,
		VisibilityTimeout: cfg.VisibilityTimeout,
		RetryDelay:        cfg.RetryDelay,
		CallTimeout:       cfg.CallTimeout,
		Observer:          s.tally,
		Logger:            log,
	})
	if err != nil {
		return nil, err
	}
	gauge := s.consumer
	s.metrics.SQSQueue(func(ctx context.Context) (metrics.QueueCounts, error) {
		c, err := gauge.Counts(ctx)
		return metrics.QueueCounts{Visible: c.Visible, NotVisible: c.NotVisible, Delayed: c.Delayed}, err
	})
	s.pool, err = worker.New(worker.Config{
		Consumer: s.consumer, Payer: proc, Workers: cfg.Workers, Store: cfg.Store,
		Name: cfg.Name + "@" + cfg.Instance,
		// A claim ends before the message, no longer extended by a dead
		// holder, comes back to another worker.
		Lease: s.consumer.VisibilityTimeout(),
		// A delete may take its call, two retries and their backoffs,
		// behind a batch doing the same.
		SettleTimeout: s.consumer.SettleBudget(),
		Observer:      s.metrics,
		Logger:        log,
	})
	if err != nil {
		s.closeConsumer()
		return nil, fmt.Errorf("workerservice: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.Handle("GET /metrics", s.metrics.Handler())
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s.listener = cfg.Listener
	if s.listener == nil {
		if s.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
			s.closeConsumer()
			return nil, fmt.Errorf("workerservice: listen on %s: %w", cfg.Addr, err)
		}
	}
	return s, nil
}

func (s *Service) closeConsumer() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseTimeout)
	defer cancel()
	_ = s.consumer.Close(ctx)
}

// Addr is the address of /health and /metrics.
func (s *Service) Addr() string { return s.listener.Addr().String() }

// Metrics exposes the service's metrics.
func (s *Service) Metrics() *metrics.Metrics { return s.metrics }

func (s *Service) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if s.stopping.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, `{"status":"stopping"}`)
		return
	}
	fmt.Fprintln(w, `{"status":"ok"}`)
}

// Run serves /health and /metrics and drains the queue until ctx ends. It
// then stops receiving at once (cancelling the long poll and giving the
// buffered messages back), lets the payments in flight finish and deletes
// them, and returns. A message whose payment did not finish is never
// deleted: SQS delivers it again.
func (s *Service) Run(ctx context.Context) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.http.Serve(s.listener) }()

	poolCtx, stopPool := context.WithCancel(ctx)
	defer stopPool()
	stopReceiving := context.AfterFunc(poolCtx, func() {
		s.stopping.Store(true)
		rctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseTimeout)
		defer cancel()
		if err := s.consumer.StopReceiving(rctx); err != nil {
			s.log.Warn("giving buffered messages back failed; they return after their visibility timeout", "err", err)
		}
	})
	defer stopReceiving()

	// The startup record, in the processor Lambda's field names, so that
	// the cold-start analysis sets the two side by side. init_ms runs to
	// ready: the queue checked and the listener up, just before the pool
	// makes its first receive.
	// The EMF record and this one carry the same instance, so the analysis
	// counts them as one start.
	initDur := time.Since(s.cfg.ProcessStart)
	attrs := append([]any{"addr", "http://" + s.Addr(), "queue_url", s.cfg.QueueURL, "workers", s.cfg.Workers,
		"buffer", s.cfg.Buffer, "visibility_timeout", s.consumer.VisibilityTimeout().String(),
		serverless.FieldInstance, s.cfg.Instance},
		serverless.Invocation{Cold: true, Init: initDur}.Attrs()...)
	s.log.Info("worker service ready", attrs...)
	if err := serverless.NewMetrics(s.cfg.Metrics, s.cfg.Name, nil).ServiceStart(initDur, s.cfg.Instance); err != nil {
		s.log.Warn("start-up metrics not written", "err", err)
	}

	poolDone := make(chan struct{})
	go func() {
		defer close(poolDone)
		_ = s.pool.Run(poolCtx)
	}()
	var err error
	select {
	case <-poolDone:
	case err = <-serveErr:
		err = fmt.Errorf("workerservice: http server: %w", err)
		stopPool()
		<-poolDone
	}
	s.stopping.Store(true)
	s.log.Info("stopped receiving; payments in flight finished and settled")

	closeCtx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseTimeout)
	defer cancel()
	if cerr := s.consumer.Close(closeCtx); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if herr := s.http.Shutdown(closeCtx); herr != nil && !errors.Is(herr, http.ErrServerClosed) {
		err = errors.Join(err, herr)
	}
	s.log.Info("worker service stopped",
		"paid", s.tally.completed.Load(), "declined", s.tally.declined.Load(), "interrupted", s.tally.interrupted.Load(),
		"received", s.tally.received.Load(), "deleted", s.tally.deleted.Load(), "delete_failed", s.tally.deleteFailed.Load(),
		"stale", s.tally.stale.Load())
	return err
}

// tally forwards payment and SQS events to the metrics and keeps the few
// totals of the final log record.
type tally struct {
	payments payment.Observer
	sqs      sqs.Observer

	completed, declined, interrupted atomic.Int64
	received, deleted, deleteFailed  atomic.Int64
	stale                            atomic.Int64
}

var _ sqs.StaleObserver = (*tally)(nil)

func (t *tally) PaymentStarted() { t.payments.PaymentStarted() }

func (t *tally) PaymentFinished(r payment.Result, d time.Duration) {
	switch r {
	case payment.ResultCompleted:
		t.completed.Add(1)
	case payment.ResultDeclined:
		t.declined.Add(1)
	default:
		t.interrupted.Add(1)
	}
	t.payments.PaymentFinished(r, d)
}

func (t *tally) Received(n int) {
	t.received.Add(int64(n))
	t.sqs.Received(n)
}

func (t *tally) ReceiveFailed() { t.sqs.ReceiveFailed() }

func (t *tally) Deleted(ok, failed int) {
	t.deleted.Add(int64(ok))
	t.deleteFailed.Add(int64(failed))
	t.sqs.Deleted(ok, failed)
}

func (t *tally) VisibilityChanged(op string, ok, failed int) { t.sqs.VisibilityChanged(op, ok, failed) }

func (t *tally) Held(n int) { t.sqs.Held(n) }

// Stale counts the buffered messages dropped as no longer ours; the
// metrics have no counter for them yet, the final log record has.
func (t *tally) Stale() { t.stale.Add(1) }
