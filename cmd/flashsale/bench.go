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
		summary: "benchmark POST /orders/async against a bare handler; write bench/RESULTS.md",
		run:     runBench,
	})
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		b     = lab.Bench{MaxWorkers: 32, Duration: 5 * time.Second, Log: stderr}
		rates string
		out   string
	)
	fs := newFlagSet("bench", "[--rates 500,1000,2000] [--max-workers N] [--duration D] [--out FILE]",
		"Loads POST /orders/async of the local system (in-process queue) and a bare net/http handler that\n"+
			"decodes the same JSON and answers 202, in this process, at each open-model rate and then at the\n"+
			"maximum rate, and writes throughput, percentiles and their ratios to --out.", stdout)
	fs.StringVar(&rates, "rates", "500,1000,2000", "comma-separated open-model rates (req/s)")
	fs.IntVar(&b.MaxWorkers, "max-workers", b.MaxWorkers, "requests in flight at the maximum rate (0: skip it)")
	fs.DurationVar(&b.Duration, "duration", b.Duration, "length of each run")
	fs.StringVar(&out, "out", filepath.Join("bench", "RESULTS.md"), "results file")
	if err := parseFlags(fs, args); err != nil {
		return err
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
