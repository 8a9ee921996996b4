package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"flashsale/internal/coldstart"
	"flashsale/internal/textout"
)

func init() {
	register(&command{
		name:    "coldstarts",
		summary: "report Lambda cold starts (and worker service starts) from logs",
		run:     runColdstarts,
	})
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

const coldstartsHelp = `Reads Lambda logs and reports, per function, its invocations, cold starts and their
share, Init Duration min/p50/p90/p99/max, the median duration of cold and of warm
invocations, the init as a share of the invocation it delayed (the study: 65-73 ms on
3,000 ms, ~2.2%), and the idle gap before each cold start, telling cold starts after
idle time from those caused by scaling out. The worker service's startup records
(init_ms without a request id) appear as a comparison row: one start per deployment or
scale-out instead of one per execution environment.

It reads FILEs ("-" or none: standard input) holding what the runtime emulator,
make invoke, sam logs or aws logs tail print (text REPORT lines), CloudWatch's JSON
log format (platform.report records), our structured cold_start/init_ms records, or
aws logs filter-log-events output; or, with --log-group, the log groups themselves
through the CloudWatch Logs API (credentials and region from the AWS SDK's usual
environment; --endpoint-url for a local emulator). It also reads the CloudWatch
Embedded Metric Format records the functions and the worker write (namespace
flashsale, metric ColdStart): a cold start told by a REPORT line, a log record and an
EMF record of the same request id (a service start: of the same instance and init)
counts once. Lines in no known format, or malformed, are counted and skipped.

With --follow it keeps reading and redraws the per-function table every
--follow-interval as events arrive: from standard input as lines come through a pipe
(sam logs --tail ... | flashsale coldstarts --follow), or, with --log-group, by
polling the log groups from --since on (as aws logs tail --follow does). Ctrl-C, or
the end of the input, prints the final report. On a terminal the table is redrawn in
place; otherwise a new table is printed when it changed (on standard error with
--json or --csv, whose output is the final report only).`

func runColdstarts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		groups                  stringList
		since, until            string
		endpoint, filterPattern string
		function                string
		asJSON, asCSV, starts   bool
		follow                  bool
		interval, lookback      time.Duration
	)
	fs := newFlagSet("coldstarts", "[FILE ...] | --log-group NAME [--log-group NAME ...] [flags]", coldstartsHelp, stdout)
	fs.Var(&groups, "log-group", "CloudWatch Logs group to read, e.g. /aws/lambda/NAME (repeatable)")
	fs.StringVar(&since, "since", "1h", "with --log-group: read from this long ago (30m, 2h, 7d) or this RFC 3339 time")
	fs.StringVar(&until, "until", "", "with --log-group: read up to this long ago or this RFC 3339 time (default: now)")
	fs.StringVar(&endpoint, "endpoint-url", "", "with --log-group: AWS endpoint, e.g. http://127.0.0.1:5000 for moto_server (default: the SDK's, AWS_ENDPOINT_URL)")
	fs.StringVar(&filterPattern, "filter-pattern", "", `with --log-group: CloudWatch Logs filter pattern, e.g. "?REPORT ?init_ms ?cold_start ?platform.report" (default: every event)`)
	fs.StringVar(&function, "function", "", `name of the Lambda function in FILEs (default: the "function" field of its records, else "function")`)
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	fs.BoolVar(&asCSV, "csv", false, "print CSV: one row per function and service")
	fs.BoolVar(&starts, "starts", false, "with --csv: one row per cold start and service start instead")
	fs.BoolVar(&follow, "follow", false, "keep reading standard input or polling --log-group, redraw the table as events arrive; Ctrl-C prints the final report")
	fs.DurationVar(&interval, "follow-interval", coldstart.DefaultFollowInterval, "with --follow: how often to redraw the table (and poll the log groups)")
	fs.DurationVar(&lookback, "follow-lookback", coldstart.DefaultLookback, "with --follow --log-group: each poll reads again this far before the newest event seen, for events that arrive late")
	files, err := parseFlagsAndFiles(fs, args)
	if err != nil {
		return err
	}
	switch {
	case asJSON && asCSV:
		return usageError{errors.New("--json and --csv: choose one")}
	case starts && !asCSV:
		return usageError{errors.New("--starts goes with --csv")}
	case follow && until != "":
		return usageError{errors.New("--follow reads on: --until does not go with it")}
	case follow && (len(files) > 1 || len(files) == 1 && files[0] != "-"):
		return usageError{errors.New("--follow reads standard input or --log-group, not files")}
	case follow && len(groups) > 0 && len(files) > 0:
		return usageError{errors.New("--follow: standard input or --log-group, not both")}
	case interval <= 0 || lookback < 0:
		return usageError{errors.New("--follow-interval must be positive and --follow-lookback not negative")}
	}
	report := func(a *coldstart.Analysis) error {
		var err error
		switch {
		case asJSON:
			err = textout.WriteJSON(stdout, a)
		case asCSV:
			err = coldstart.WriteCSV(stdout, a, starts)
		default:
			return coldstart.WriteText(stdout, a)
		}
		if c := a.Input; c.Malformed > 0 && err == nil {
			// The text report says so itself; for machines, say it aside.
			fmt.Fprintf(stderr, "flashsale coldstarts: skipped %d malformed lines or events; first: %s\n", c.Malformed, c.Examples[0])
		}
		return err
	}
	if follow {
		live := newLiveView(stdout, stderr, asJSON || asCSV)
		f := followRun{live: live, interval: interval, stderr: stderr}
		var a *coldstart.Analysis
		if len(groups) > 0 {
			start, err := coldstart.ParseSince(since, time.Now())
			if err != nil {
				return usageError{fmt.Errorf("--since: %w", err)}
			}
			cfg, err := loadAWSConfig(ctx, endpoint)
			if err != nil {
				return err
			}
			opts := coldstart.FollowOptions{Start: start, FilterPattern: filterPattern, Lookback: lookback}
			a, err = f.logGroups(ctx, cloudwatchlogs.NewFromConfig(cfg), groups, opts)
			if err != nil {
				return fmt.Errorf("%w (endpoint %s)", err, endpointOf(cfg))
			}
		} else {
			if a, err = f.reader(ctx, os.Stdin, function); err != nil {
				return err
			}
		}
		live.end()
		return report(a)
	}

	d := &coldstart.Dataset{}
	if len(groups) > 0 {
		now := time.Now()
		opts := coldstart.ReadOptions{FilterPattern: filterPattern}
		if opts.Start, err = coldstart.ParseSince(since, now); err != nil {
			return usageError{fmt.Errorf("--since: %w", err)}
		}
		if until != "" {
			if opts.End, err = coldstart.ParseSince(until, now); err != nil {
				return usageError{fmt.Errorf("--until: %w", err)}
			}
		}
		cfg, err := loadAWSConfig(ctx, endpoint)
		if err != nil {
			return err
		}
		client := cloudwatchlogs.NewFromConfig(cfg)
		for _, g := range groups {
			p := coldstart.Parser{Function: coldstart.FunctionFromLogGroup(g)}
			if p.Function == "" {
				p.Service = path.Base(g)
			}
			if _, err := coldstart.ReadLogGroup(ctx, client, g, opts, &p); err != nil {
				return fmt.Errorf("%w (endpoint %s)", err, endpointOf(cfg))
			}
			d.Merge(p.Finish())
		}
	}
	if len(groups) == 0 && len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		p := coldstart.Parser{Function: function}
		if err := readLog(ctx, name, &p); err != nil {
			return err
		}
		d.Merge(p.Finish())
	}

	return report(coldstart.Analyze(d))
}

// readLog parses one file, or standard input for "-".
func readLog(ctx context.Context, name string, p *coldstart.Parser) error {
	if name == "-" {
		return p.Read(ctx, os.Stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := p.Read(ctx, f); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// parseFlagsAndFiles parses args like parseFlags, but allows positional
// arguments (the files) before, between and after the flags.
func parseFlagsAndFiles(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return files, nil
		}
		// After "--" everything is a file.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(files, rest...), nil
		}
		files = append(files, rest[0])
		args = rest[1:]
	}
}
