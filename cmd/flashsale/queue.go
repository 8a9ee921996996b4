package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	sqsqueue "flashsale/internal/queue/sqs"
)

func init() {
	register(&command{
		name:    "queue",
		summary: "inspect an SQS queue: queue depth prints its approximate message counts",
		run:     runQueue,
	})
}

func runQueue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	help := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: flashsale queue depth --queue-url URL [--interval D] [--count N] [--json] [--endpoint-url URL]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Subcommands:")
		fmt.Fprintln(w, "  depth   print the queue's ApproximateNumberOfMessages, NotVisible and Delayed")
	}
	return runSubcommand(args, stdout, stderr, help, map[string]func([]string) error{
		"depth": func(args []string) error { return runQueueDepth(ctx, args, stdout) },
	})
}

// depthSample is one reading, as printed with --json.
type depthSample struct {
	Time       time.Time `json:"time"`
	Visible    int       `json:"visible"`
	NotVisible int       `json:"not_visible"`
	Delayed    int       `json:"delayed"`
}

func runQueueDepth(ctx context.Context, args []string, stdout io.Writer) error {
	var (
		queueURL, endpoint string
		interval           time.Duration
		count              int
		asJSON             bool
	)
	fs := newFlagSet("queue depth", "--queue-url URL [flags]",
		"Prints SQS's approximate counts of a queue: visible (ApproximateNumberOfMessages, the backlog),\n"+
			"not_visible (received and in flight) and delayed. Once, or every --interval until\n"+
			"interrupted or --count readings. The counts are approximate: SQS may need a minute to\n"+
			"settle them after a burst.", stdout)
	fs.StringVar(&queueURL, "queue-url", "", "URL of the SQS queue (required)")
	fs.DurationVar(&interval, "interval", 0, "read every interval (0: once)")
	fs.IntVar(&count, "count", 0, "with --interval, stop after this many readings (0: until interrupted)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per reading instead of a table")
	fs.StringVar(&endpoint, "endpoint-url", "", "AWS endpoint, e.g. http://127.0.0.1:5000 for moto_server (default: the SDK's, AWS_ENDPOINT_URL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case queueURL == "":
		return usageError{errors.New("--queue-url is required")}
	case interval < 0:
		return usageError{fmt.Errorf("--interval %v: must not be negative", interval)}
	case count < 0:
		return usageError{fmt.Errorf("--count %d: must not be negative", count)}
	}
	if interval == 0 {
		count = 1
	}
	awsCfg, err := loadAWSConfig(ctx, endpoint)
	if err != nil {
		return err
	}
	gauge, err := sqsqueue.NewGauge(sqs.NewFromConfig(awsCfg), queueURL)
	if err != nil {
		return err
	}
	const row = "%-24s %8v %12v %8v\n"
	if !asJSON {
		fmt.Fprintf(stdout, row, "time", "visible", "not_visible", "delayed")
	}
	enc := json.NewEncoder(stdout)
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for n := 0; count == 0 || n < count; n++ {
		if n > 0 {
			select {
			case <-ctx.Done():
				return nil // interrupted: the readings so far are the output
			case <-tick:
			}
		}
		c, err := gauge.Counts(ctx)
		if err != nil {
			if ctx.Err() != nil && n > 0 {
				return nil
			}
			return fmt.Errorf("%w (endpoint %s)", err, endpointOf(awsCfg))
		}
		s := depthSample{Time: time.Now().UTC().Truncate(time.Millisecond), Visible: c.Visible, NotVisible: c.NotVisible, Delayed: c.Delayed}
		if asJSON {
			if err := enc.Encode(s); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			continue
		}
		if _, err := fmt.Fprintf(stdout, row, s.Time.Format("2006-01-02T15:04:05.000Z"), s.Visible, s.NotVisible, s.Delayed); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}
