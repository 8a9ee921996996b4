package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"flashsale/internal/lab"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "benchmark POST /orders/async durable, in memory and against a bare handler; write bench/RESULTS.md",
		run:     runBench,
	})
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		b     = lab.Bench{MaxWorkers: 32, MaxRounds: 3, Duration: 5 * time.Second, SizeOrders: 1_000_000, Log: stderr}
		rates string
		out   string
	)
	fs := newFlagSet("bench", "[--rates 500,1000,2000] [--max-workers N] [--max-rounds N] [--duration D] [--size-orders N] [--out FILE]",
		"Loads POST /orders/async of the local system on its durable default (a data dir), the same system\n"+
			"in memory, and a bare net/http handler that decodes the same JSON and answers 202, in this process,\n"+
			"at each open-model rate and then at the maximum rate, and writes throughput, percentiles, their\n"+
			"ratios and the durable runs' disk syncs per order to --out; then the database's size after\n"+
			"--size-orders orders, with and without retention.", stdout)
	fs.StringVar(&rates, "rates", "500,1000,2000", "comma-separated open-model rates (req/s)")
	fs.IntVar(&b.MaxWorkers, "max-workers", b.MaxWorkers, "requests in flight at the maximum rate (0: skip it)")
	fs.IntVar(&b.MaxRounds, "max-rounds", b.MaxRounds, "times the maximum-rate point runs, the targets in turn (its spread on a shared machine)")
	fs.DurationVar(&b.Duration, "duration", b.Duration, "length of each run")
	fs.IntVar(&b.SizeOrders, "size-orders", b.SizeOrders, "orders of the database size runs (0: skip them)")
	fs.StringVar(&out, "out", filepath.Join("bench", "RESULTS.md"), "results file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if b.MaxRounds < 1 {
		return usageError{fmt.Errorf("--max-rounds %d: must be at least 1", b.MaxRounds)}
	}
	if b.SizeOrders < 0 {
		return usageError{fmt.Errorf("--size-orders %d: must not be negative", b.SizeOrders)}
	}
	for _, f := range strings.Split(rates, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 {
			return usageError{fmt.Errorf("--rates: %q is not a positive rate", f)}
		}
		b.Rates = append(b.Rates, r)
	}
	res, err := lab.RunBench(ctx, b)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("bench results: %w", err)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("bench results: %w", err)
	}
	if err := res.WriteMarkdown(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bench results: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return nil
}
