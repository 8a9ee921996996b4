package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"flashsale/internal/depth"
	"flashsale/internal/lab"
	"flashsale/internal/loadgen"
	"flashsale/internal/queue/sqs"
	"flashsale/internal/textout"
)

func init() {
	register(&command{
		name:    "load",
		summary: "send Locust-style (--users) or fixed-rate (--rate) load and sample the queue depth",
		run:     runLoad,
	})
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		cfg             loadgen.Config
		scenario        string
		csvPrefix       string
		asJSON, quiet   bool
		sampleDepth     bool
		metricsURL      string
		queueURL        string
		awsEndpoint     string
		depthInterval   time.Duration
		drainTimeout    time.Duration
		progressEvery   time.Duration
		emptyReadings   int
		waitForPayments bool
		followTimeout   time.Duration
	)
	fs := newFlagSet("load", "--url BASE [--scenario sync|async] [--users N --spawn-rate R | --rate N] --duration D",
		"Posts random valid orders to BASE/orders/SCENARIO and reports in Locust's terms.\n"+
			"Closed model (--users): users start at --spawn-rate per second; each posts, waits for the\n"+
			"answer (up to --timeout), thinks a uniform --think-min..--think-max, and posts again.\n"+
			"Open model (--rate): a fixed arrival rate with vegeta's pacer; latency counts from when\n"+
			"each request was due, so a slow server cannot slow the arrivals (no coordinated omission).\n"+
			"With --depth (BASE/metrics), --metrics-url or --queue-url (SQS), it samples the queue depth\n"+
			"while the load runs and after it until the queue is empty, and reports the peak and the\n"+
			"time to drain. With --follow F (async only) it polls GET BASE/orders/{id} for a share F of\n"+
			"the accepted orders, on its own connections, until each is completed or failed, and reports\n"+
			"the time from the 202 to the confirmation apart from the request statistics.", stdout)
	fs.StringVar(&cfg.BaseURL, "url", "http://127.0.0.1:8080", "base URL of the system under test")
	fs.StringVar(&scenario, "scenario", "async", "sync (POST /orders/sync) or async (POST /orders/async)")
	fs.IntVar(&cfg.Users, "users", 0, "closed model: number of users")
	fs.Float64Var(&cfg.SpawnRate, "spawn-rate", loadgen.DefaultSpawnRate, "closed model: users started per second (0: all at once)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open model: requests per second")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "length of the run")
	fs.DurationVar(&cfg.Timeout, "timeout", loadgen.DefaultTimeout, "client timeout of one request")
	fs.DurationVar(&cfg.ThinkMin, "think-min", loadgen.DefaultThinkMin, "closed model: shortest wait between an answer and the next request")
	fs.DurationVar(&cfg.ThinkMax, "think-max", loadgen.DefaultThinkMax, "closed model: longest wait between an answer and the next request")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the orders and think times")
	fs.StringVar(&csvPrefix, "csv", "", "write PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv (and PREFIX_depth.csv)")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON on stdout instead of the tables")
	fs.BoolVar(&quiet, "quiet", false, "no progress line on stderr")
	fs.DurationVar(&progressEvery, "progress-interval", 0, "time between progress lines (default 1s on a terminal, 5s otherwise)")
	fs.BoolVar(&sampleDepth, "depth", false, "sample the queue depth from BASE/metrics")
	fs.StringVar(&metricsURL, "metrics-url", "", "sample the queue depth from this Prometheus metrics URL")
	fs.StringVar(&queueURL, "queue-url", "", "sample the depth of this SQS queue (AWS settings from the environment, e.g. AWS_ENDPOINT_URL)")
	fs.StringVar(&awsEndpoint, "endpoint-url", "", "with --queue-url: AWS endpoint, e.g. http://127.0.0.1:5000 for moto_server (default: the SDK's, AWS_ENDPOINT_URL)")
	alias(fs, "aws-endpoint", "endpoint-url") // its name before 2026-12
	fs.DurationVar(&depthInterval, "depth-interval", time.Second, "time between depth readings")
	fs.DurationVar(&drainTimeout, "drain-timeout", 0, "longest wait for the queue to empty after the load (0: until empty or interrupted)")
	fs.IntVar(&emptyReadings, "empty-readings", 0, "consecutive empty readings that count as drained (default 1; 3 with --queue-url)")
	fs.BoolVar(&waitForPayments, "wait-for-payments", false, "count the queue as drained only when no payment is in flight either")
	fs.Float64Var(&cfg.Follow, "follow", 0, "async: share of the accepted orders (0 to 1) to follow with GET /orders/{id} until completed or failed (0: none; 0.1: the first, then 1 in 10)")
	fs.DurationVar(&cfg.FollowInterval, "follow-interval", loadgen.DefaultFollowInterval, "with --follow: time between two polls of one order (the resolution of the confirmation times)")
	fs.DurationVar(&followTimeout, "follow-timeout", loadgen.DefaultFollowTimeout, "with --follow: longest time to keep following after the load ended (0: until every followed order finished or interrupted)")
	fs.IntVar(&cfg.FollowConcurrency, "follow-concurrency", loadgen.DefaultFollowConcurrency, "with --follow: most GETs in flight at once")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if cfg.Scenario, err = loadgen.ParseScenario(scenario); err != nil {
		return usageError{err}
	}
	if (cfg.Users > 0) == (cfg.Rate > 0) {
		return usageError{fmt.Errorf("set exactly one of --users (closed model) and --rate (open model)")}
	}
	if cfg.Duration <= 0 {
		return usageError{fmt.Errorf("--duration %v: must be positive", cfg.Duration)}
	}
	if math.IsNaN(cfg.Follow) || cfg.Follow < 0 || cfg.Follow > 1 {
		return usageError{fmt.Errorf("--follow %v: the share of accepted orders to follow must be from 0 to 1", cfg.Follow)}
	}
	if cfg.Follow > 0 && cfg.Scenario != loadgen.ScenarioAsync {
		return usageError{fmt.Errorf("--follow needs --scenario async: a sync order is final in its answer, there is nothing to follow")}
	}
	if cfg.FollowInterval <= 0 {
		return usageError{fmt.Errorf("--follow-interval %v: must be positive", cfg.FollowInterval)}
	}
	if followTimeout < 0 {
		return usageError{fmt.Errorf("--follow-timeout %v: must not be negative (0: no limit)", followTimeout)}
	}
	if cfg.FollowConcurrency < 1 {
		return usageError{fmt.Errorf("--follow-concurrency %d: must be at least 1", cfg.FollowConcurrency)}
	}
	cfg.FollowTimeout = followTimeout
	if followTimeout == 0 {
		cfg.FollowTimeout = -1 // loadgen: no limit
	}
	sources := 0
	for _, on := range []bool{sampleDepth, metricsURL != "", queueURL != ""} {
		if on {
			sources++
		}
	}
	if sources > 1 {
		return usageError{fmt.Errorf("choose one depth source: --depth, --metrics-url or --queue-url")}
	}

	phase := lab.Phase{Load: cfg, DrainTimeout: drainTimeout}
	if sources == 1 {
		s := &depth.Sampler{Interval: depthInterval, EmptyReadings: emptyReadings, WaitForPayments: waitForPayments}
		switch {
		case queueURL != "":
			awsCfg, err := loadAWSConfig(ctx, awsEndpoint)
			if err != nil {
				return err
			}
			gauge, err := sqs.NewGauge(awssqs.NewFromConfig(awsCfg), queueURL)
			if err != nil {
				return usageError{err}
			}
			if s.Source, err = depth.NewSQS(gauge); err != nil {
				return err
			}
			if s.EmptyReadings == 0 {
				s.EmptyReadings = 3
			}
		case metricsURL != "":
			s.Source = depth.NewMetrics(metricsURL, nil)
		default:
			s.Source = depth.NewMetrics(depth.MetricsURL(cfg.BaseURL), nil)
		}
		phase.Depth = s
	}
	if !quiet {
		terminal := isTerminal(stderr)
		printer := loadgen.NewProgressPrinter(stderr, terminal)
		phase.Load.Progress = printer.Print
		phase.Load.ProgressInterval = progressEvery
		if progressEvery <= 0 {
			phase.Load.ProgressInterval = 5 * time.Second
			if terminal {
				phase.Load.ProgressInterval = time.Second
			}
		}
	}

	res, runErr := lab.RunPhase(ctx, phase)
	if res == nil || res.Load == nil {
		return runErr
	}
	if csvPrefix != "" {
		if err := res.WriteCSV(csvPrefix); err != nil {
			return err
		}
	}
	if asJSON {
		if err := textout.WriteJSON(stdout, res); err != nil {
			return err
		}
	} else if err := res.WriteSummary(stdout); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return runErr
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
