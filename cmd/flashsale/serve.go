package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"flashsale/internal/httpapi"
	"flashsale/internal/orderstore/diskstore"
	"flashsale/internal/orderstore/memstore"
	"flashsale/internal/payment"
	"flashsale/internal/server"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "run the order API with its in-process queue and worker pool",
		run:     runServe,
	})
}

// serveFlags are the flags of serve; other files (the SNS publisher) add to
// them through serveExtensions.
type serveFlags struct {
	cfg       server.Config
	inMemory  bool
	logFormat string
	logLevel  string
}

// serveStore are serve's order-store flags; the AWS extension reads the
// table from them.
var serveStore storeFlags

// serveExtension lets another file add flags to serve and adjust the
// configuration before the server is built (for example to publish to SNS).
type serveExtension struct {
	flags func(fs flagSet)
	apply func(ctx context.Context, cfg *server.Config, log *slog.Logger) error
}

var serveExtensions []serveExtension

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f serveFlags
	fs := newFlagSet("serve", "[flags]",
		"Serves POST /orders/sync, POST /orders/async, GET /orders/{id}, GET /health and GET\n"+
			"/metrics. Async orders go to an in-process queue drained by --workers goroutines; sync\n"+
			"orders are paid inside the request through --sync-concurrency payment slots. Every order\n"+
			"is recorded in the order store and paid once under a claim, whatever the duplicates;\n"+
			"GET /orders/{id} answers its status.\n\n"+
			"By default the queue, the order records and the payments' charges live in one\n"+
			"crash-safe database in --data-dir: an order answered 202 is on disk (fsynced, concurrent\n"+
			"requests sharing a sync), survives kill -9 and is paid once by the next serve with\n"+
			"the same --data-dir. --in-memory keeps everything in memory instead (a crash loses\n"+
			"the queued orders; for the lab and benchmarks). On SIGINT/SIGTERM it stops accepting\n"+
			"and drains the queue for up to --drain-timeout; what is left stays in the database\n"+
			"(in memory: is spilled to --spill-file, which the next serve re-enqueues).", stdout)
	fs.StringVar(&f.cfg.Addr, "addr", server.DefaultAddr, "listen address")
	fs.IntVar(&f.cfg.Workers, "workers", server.DefaultWorkers, "worker goroutines draining the queue, each paying one order at a time")
	fs.IntVar(&f.cfg.QueueCapacity, "queue-capacity", server.DefaultQueueCapacity, "orders the in-process queue holds; beyond it POST /orders/async answers 503 with Retry-After")
	fs.DurationVar(&f.cfg.PaymentDelay, "payment-delay", payment.DefaultDelay, "time one payment takes")
	fs.Float64Var(&f.cfg.DeclineRate, "decline-rate", 0, "share of payments declined, 0 to 1 (deterministic given --seed)")
	fs.Int64Var(&f.cfg.Seed, "seed", 1, "seed choosing which orders are declined")
	fs.IntVar(&f.cfg.SyncConcurrency, "sync-concurrency", server.DefaultSyncConcurrency, "payment slots of the sync path (1 = the studied single slot)")
	fs.DurationVar(&f.cfg.RequestTimeout, "request-timeout", httpapi.DefaultRequestTimeout, "deadline of a sync request; past it, 504 (API Gateway's is 30s)")
	fs.DurationVar(&f.cfg.DrainTimeout, "drain-timeout", server.DefaultDrainTimeout, "how long shutdown keeps draining the queue before spilling the rest")
	fs.StringVar(&f.cfg.DataDir, "data-dir", server.DefaultDataDir, "directory of the crash-safe database holding the queue, the order records and the charges (one serve at a time)")
	fs.DurationVar(&f.cfg.MinSyncInterval, "min-sync-interval", diskstore.DefaultMinSyncInterval, "least time between two disk syncs of --data-dir's database: under load the orders that arrive meanwhile share the next sync (group commit), at the cost of up to that much latency; a lone order is synced at once (negative: sync again as soon as the previous sync ends)")
	fs.BoolVar(&f.inMemory, "in-memory", false, "keep the queue and the order records in memory, not in --data-dir: a crash loses the queued orders (for the lab and benchmarks)")
	fs.StringVar(&f.cfg.SpillFile, "spill-file", server.DefaultSpillFile, "with --in-memory: JSON-lines file for orders still queued at shutdown, read back at start (empty: drain fully instead); without: a spill file of an earlier version, imported once into --data-dir and removed")
	serveStore.registerLocal(fs, memstore.DefaultRetention, "how long the order store keeps a finished order after its last change (GET /orders/{id} forgets it then, and its space is reused); queued orders are kept until paid")
	fs.IntVar(&f.cfg.StoreCapacity, "order-capacity", memstore.DefaultCapacity, "with --in-memory: most orders the order store holds; past it the oldest finished ones are forgotten first, and when none is finished POST answers 503")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	for _, ext := range serveExtensions {
		ext.flags(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		return usageError{err}
	}
	if f.cfg.PaymentDelay <= 0 {
		return usageError{fmt.Errorf("--payment-delay %v: must be positive", f.cfg.PaymentDelay)}
	}
	if f.cfg.DeclineRate < 0 || f.cfg.DeclineRate > 1 {
		return usageError{fmt.Errorf("--decline-rate %v: must be between 0 and 1", f.cfg.DeclineRate)}
	}
	if f.cfg.RequestTimeout <= 0 {
		return usageError{fmt.Errorf("--request-timeout %v: must be positive", f.cfg.RequestTimeout)}
	}
	if f.cfg.Workers < 1 {
		return usageError{fmt.Errorf("--workers %d: must be at least 1", f.cfg.Workers)}
	}
	if f.cfg.QueueCapacity < 1 {
		return usageError{fmt.Errorf("--queue-capacity %d: must be at least 1", f.cfg.QueueCapacity)}
	}
	if f.cfg.SyncConcurrency < 1 {
		return usageError{fmt.Errorf("--sync-concurrency %d: must be at least 1", f.cfg.SyncConcurrency)}
	}
	if f.cfg.DrainTimeout < 0 {
		return usageError{fmt.Errorf("--drain-timeout %v: must not be negative", f.cfg.DrainTimeout)}
	}
	if err := serveStore.validate(); err != nil {
		return usageError{err}
	}
	if f.cfg.StoreCapacity < 1 {
		return usageError{fmt.Errorf("--order-capacity %d: must be at least 1", f.cfg.StoreCapacity)}
	}
	if f.inMemory {
		f.cfg.DataDir = ""
	} else if f.cfg.DataDir == "" {
		return usageError{errors.New("--data-dir is empty: name a directory, or give --in-memory")}
	}
	f.cfg.StoreRetention = serveStore.retention
	books, closeBooks, err := serveStore.openBooks()
	if err != nil {
		return err
	}
	defer closeBooks()
	f.cfg.Books = books
	f.cfg.Logger = log
	for _, ext := range serveExtensions {
		if err := ext.apply(ctx, &f.cfg, log); err != nil {
			return err
		}
	}
	srv, err := server.New(f.cfg)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}
