package main

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"flashsale/internal/orderstore/dynamostore"
	"flashsale/internal/payment"
	sqsqueue "flashsale/internal/queue/sqs"
	"flashsale/internal/workerservice"
)

func init() {
	register(&command{
		name:    "worker",
		summary: "run the worker service: a pool of workers draining the SQS orders queue",
		run:     runWorker,
	})
}

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		cfg                 workerservice.Config
		endpoint            string
		logFormat, logLevel string
		store               storeFlags
	)
	fs := newFlagSet("worker", "--queue-url URL [flags]",
		"Drains the SQS queue subscribed to the orders topic with --workers goroutines, each paying\n"+
			"one order at a time, and serves GET /health and GET /metrics on --addr. A message is\n"+
			"deleted once its order is finished: paid, or declined (final, never charged again). Each\n"+
			"order is paid under a claim in the orders table (--orders-table), so that duplicates and\n"+
			"other processes pay nothing twice; an order another process holds comes back when its\n"+
			"claim ends. A message that is not an order, or a payment that failed, is given back, and\n"+
			"after the queue's maxReceiveCount SQS moves it to the dead-letter queue. On SIGINT/SIGTERM it stops receiving at once, finishes the payments in flight and\n"+
			"deletes them; every other message is left to SQS. At start it logs one record with\n"+
			"cold_start and init_ms (process start to ready, just before the first receive), like the\n"+
			"processor Lambda. Every SQS delete and visibility change has a deadline (--sqs-call-timeout).\n"+
			"AWS settings come from the SDK's environment (AWS_REGION, credentials, AWS_ENDPOINT_URL).", stdout)
	fs.StringVar(&cfg.QueueURL, "queue-url", "", "URL of the SQS queue to drain (required)")
	fs.IntVar(&cfg.Workers, "workers", 1, "worker goroutines, each paying one order at a time")
	fs.IntVar(&cfg.Buffer, "buffer", 0, "messages received ahead of the workers (0: min(workers, 10))")
	fs.DurationVar(&cfg.PaymentDelay, "payment-delay", payment.DefaultDelay, "time one payment takes")
	fs.Float64Var(&cfg.DeclineRate, "decline-rate", 0, "share of payments declined, 0 to 1 (deterministic given --seed)")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed choosing which orders are declined")
	fs.DurationVar(&cfg.VisibilityTimeout, "visibility-timeout", 0, "visibility timeout asked for each message, extended while it is held (0: the queue's)")
	fs.DurationVar(&cfg.RetryDelay, "retry-delay", workerservice.DefaultRetryDelay, "how long a message given back stays invisible before SQS delivers it again (negative: until its visibility timeout runs out)")
	fs.DurationVar(&cfg.CallTimeout, "sqs-call-timeout", sqsqueue.DefaultCallTimeout, "deadline of each SQS delete or visibility change (SDK retries included); visibility changes get at most a third of the visibility timeout. Each settle of a message may take its call and two retries, behind a batch doing the same")
	fs.DurationVar(&cfg.CloseTimeout, "close-timeout", workerservice.DefaultCloseTimeout, "after the payments in flight finished, how long shutdown may take to give buffered messages back and delete the last ones")
	fs.StringVar(&cfg.Addr, "addr", workerservice.DefaultAddr, "listen address of /health and /metrics")
	fs.StringVar(&cfg.Name, "name", workerservice.DefaultName, `service name in the logs (the "function" field of the cold-start records)`)
	fs.StringVar(&endpoint, "endpoint-url", "", "AWS endpoint, e.g. http://127.0.0.1:5000 for moto_server (default: the SDK's, AWS_ENDPOINT_URL)")
	store.register(fs, dynamostore.DefaultRetention, "how long the orders table keeps an order after its last change (its TTL)")
	fs.StringVar(&logFormat, "log-format", "json", "log format: text or json")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info (one record per paid order), warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, logFormat, logLevel)
	if err != nil {
		return usageError{err}
	}
	switch {
	case cfg.QueueURL == "":
		return usageError{fmt.Errorf("--queue-url is required")}
	case cfg.Workers < 1:
		return usageError{fmt.Errorf("--workers %d: need at least 1", cfg.Workers)}
	case cfg.Buffer < 0:
		return usageError{fmt.Errorf("--buffer %d: must not be negative", cfg.Buffer)}
	case cfg.PaymentDelay <= 0:
		return usageError{fmt.Errorf("--payment-delay %v: must be positive", cfg.PaymentDelay)}
	case cfg.DeclineRate < 0 || cfg.DeclineRate > 1:
		return usageError{fmt.Errorf("--decline-rate %v: must be between 0 and 1", cfg.DeclineRate)}
	case cfg.VisibilityTimeout < 0:
		return usageError{fmt.Errorf("--visibility-timeout %v: must not be negative", cfg.VisibilityTimeout)}
	case cfg.CallTimeout <= 0:
		return usageError{fmt.Errorf("--sqs-call-timeout %v: must be positive", cfg.CallTimeout)}
	}
	if err := store.validate(); err != nil {
		return usageError{err}
	}
	awsCfg, err := loadAWSConfig(ctx, endpoint)
	if err != nil {
		return err
	}
	cfg.Client = sqs.NewFromConfig(awsCfg)
	cfg.Logger = log
	if store.table != "" {
		if cfg.Store, err = store.openTable(ctx, awsCfg); err != nil {
			return err
		}
	}
	books, closeBooks, err := store.openBooks()
	if err != nil {
		return err
	}
	defer closeBooks()
	cfg.Books = books
	svc, err := workerservice.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%w (endpoint %s)", err, endpointOf(awsCfg))
	}
	return svc.Run(ctx)
}
