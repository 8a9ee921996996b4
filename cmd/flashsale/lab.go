package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"flashsale/internal/lab"
	"flashsale/internal/loadgen"
)

func init() {
	register(&command{
		name:    "lab",
		summary: "run the whole study locally (sync vs async, 1/5/20/100 workers) and write a report",
		run:     runLab,
	})
}

func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		k      float64
		out    string
		phases string
	)
	study := lab.DefaultStudy(100)
	fs := newFlagSet("lab", "[--time-scale K] [--out DIR]",
		"Runs the study against a fresh local server per phase: sync normal (5 users, 30 s), sync flash\n"+
			"(20 users, 60 s), async flash (20 users, 60 s) and worker scaling (51 orders/s for 60 s with\n"+
			"1, 5, 20 and 100 workers, sampled until the queue is empty, a share --follow of each burst's\n"+
			"orders followed with GET /orders/{id} until paid). --time-scale K divides the payment\n"+
			"delay, timeouts, think times, durations and sampling interval by K; figures are scaled back.\n"+
			"Writes DIR/REPORT.md (measured beside the model and the study), depth.png, confirmation.png,\n"+
			"latency.png and the CSV files of every phase.", stdout)
	fs.Float64Var(&k, "time-scale", 100, "run K times faster than real time (at least 1)")
	fs.Float64Var(&study.AsyncTimeScale, "async-time-scale", 1, "time scale of the async flash phase (its latency is the host's)")
	fs.StringVar(&out, "out", "lab-report", "report folder")
	fs.StringVar(&phases, "phases", strings.Join(lab.AllPhases, ","), "comma-separated phases to run")
	fs.Var((*intList)(&study.Workers), "workers", "worker counts of the scaling phases")
	fs.Float64Var(&study.WorkerRate, "worker-rate", study.WorkerRate, "orders/s of the worker-scaling bursts")
	fs.DurationVar(&study.PaymentDelay, "payment-delay", study.PaymentDelay, "time one payment takes (real time)")
	fs.Uint64Var(&study.Seed, "seed", study.Seed, "seed of the orders and think times")
	fs.Float64Var(&study.FollowShare, "follow", study.FollowShare, "share of each worker-scaling burst's accepted orders followed with GET /orders/{id} until paid (0 to 1; 0: none)")
	fs.IntVar(&study.FollowConcurrency, "follow-concurrency", loadgen.DefaultFollowConcurrency, "most polls in flight at once")
	fs.DurationVar(&study.FollowInterval, "follow-interval", 0, "time between two polls of a followed order, real time (0: 1% of the model's longest confirmation, at least 1s)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if math.IsNaN(study.FollowShare) || study.FollowShare < 0 || study.FollowShare > 1 {
		return usageError{fmt.Errorf("--follow %v: the share of accepted orders to follow must be from 0 to 1", study.FollowShare)}
	}
	if study.FollowConcurrency < 1 {
		return usageError{fmt.Errorf("--follow-concurrency %d: must be at least 1", study.FollowConcurrency)}
	}
	if study.FollowInterval < 0 {
		return usageError{fmt.Errorf("--follow-interval %v: must not be negative (0: automatic)", study.FollowInterval)}
	}
	study.TimeScale = k
	study.Phases = strings.Split(phases, ",")
	study.Log = stderr
	res, err := lab.RunStudy(ctx, study)
	if res == nil {
		return usageError{err}
	}
	if werr := res.WriteReport(out); werr != nil {
		return werr
	}
	fmt.Fprintf(stdout, "report: %s/REPORT.md (took %v)\n", out, res.Took.Round(1e9))
	for _, c := range res.Checks() {
		if !c.OK() {
			fmt.Fprintf(stdout, "off the model: %s: measured %.3f, model %.3f (±%.3f)\n", c.Name, c.Measured, c.Model, c.Tolerance)
		}
	}
	return err
}
