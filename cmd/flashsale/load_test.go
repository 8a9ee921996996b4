package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flashsale/internal/server"
)

// startServer runs the local system on a free 127.0.0.1 port until the test
// ends.
func startServer(t *testing.T, cfg server.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener = l
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return "http://" + srv.Addr()
}

// TestLoadCommand drives the real local server with both models, samples
// its queue depth and writes the CSV files and JSON.
func TestLoadCommand(t *testing.T) {
	base := startServer(t, server.Config{Workers: 2, PaymentDelay: 20 * time.Millisecond})
	prefix := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"load", "--url", base, "--scenario", "async", "--rate", "200",
		"--duration", "500ms", "--depth", "--depth-interval", "50ms", "--drain-timeout", "20s",
		"--csv", prefix, "--progress-interval", "100ms"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	// 100 orders in 0.5 s against 2 workers paying 100/s: a backlog, drained.
	for _, want := range []string{"open model, target 200.00 req/s", "requests 100, failures 0", "queue depth:", "after the load ended"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr.String(), "[done") || strings.Contains(stderr.String(), "\r") {
		t.Errorf("progress on a non-terminal should be plain lines ending with a done line:\n%q", stderr.String())
	}
	for _, suffix := range []string{"_stats.csv", "_stats_history.csv", "_failures.csv", "_depth.csv"} {
		if info, err := os.Stat(prefix + suffix); err != nil || info.Size() == 0 {
			t.Errorf("%s: %v", suffix, err)
		}
	}

	stdout.Reset()
	stderr.Reset()
	code = run(context.Background(), []string{"load", "--url", base, "--scenario", "sync", "--users", "2",
		"--spawn-rate", "0", "--duration", "300ms", "--json", "--quiet"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("json run: exit %d: %s", code, stderr.String())
	}
	var got struct {
		Load struct {
			Model string `json:"model"`
			Stats struct {
				Requests int     `json:"requests"`
				Failures int     `json:"failures"`
				MinMS    float64 `json:"min_ms"`
			} `json:"stats"`
		} `json:"load"`
		Depth *json.RawMessage `json:"depth"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("json: %v\n%s", err, stdout.String())
	}
	// One payment slot at 20 ms: every sync request takes at least 20 ms.
	if got.Load.Model != "closed" || got.Load.Stats.Requests == 0 || got.Load.Stats.Failures != 0 ||
		got.Load.Stats.MinMS < 20 || got.Depth != nil || stderr.Len() != 0 {
		t.Errorf("json result %+v, stderr %q", got, stderr.String())
	}
}

// TestLoadQueueURL samples an SQS queue on moto_server while the load runs
// (the queue stays empty here: the local server does not publish to it).
func TestLoadQueueURL(t *testing.T) {
	moto := motoStart(t)
	base := startServer(t, server.Config{Workers: 1, PaymentDelay: 10 * time.Millisecond})
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"load", "--url", base, "--rate", "20", "--duration", "200ms", "--quiet",
		"--queue-url", moto.queueURL, "--endpoint-url", moto.endpoint, "--depth-interval", "50ms"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "queue depth:") || !strings.Contains(stdout.String(), "peak 0") {
		t.Errorf("output:\n%s", stdout.String())
	}
}

// TestLoadFollow follows the async orders of a run against the real local
// server with GET /orders/{id} until the workers paid them.
func TestLoadFollow(t *testing.T) {
	base := startServer(t, server.Config{Workers: 2, PaymentDelay: 20 * time.Millisecond})
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"load", "--url", base, "--rate", "100", "--duration", "300ms",
		"--follow", "0.5", "--follow-interval", "10ms", "--follow-timeout", "0", "--json", "--quiet"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got struct {
		Load struct {
			Stats struct {
				Requests int `json:"requests"`
				Failures int `json:"failures"`
			} `json:"stats"`
			Confirmation struct {
				Accepted   int            `json:"accepted"`
				Followed   int            `json:"followed"`
				Completed  int            `json:"completed"`
				Unfinished int            `json:"unfinished"`
				Polls      int            `json:"polls"`
				PollErrors map[string]int `json:"poll_errors"`
				MinMS      float64        `json:"min_ms"`
				MaxMS      float64        `json:"max_ms"`
				TimeoutS   float64        `json:"timeout_s"`
			} `json:"confirmation"`
		} `json:"load"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("json: %v\n%s", err, stdout.String())
	}
	c := got.Load.Confirmation
	// 30 orders, 2 workers paying 100/s: every followed order is paid 20 ms
	// or more after its 202, the last ones after the backlog of ~15.
	if got.Load.Stats.Requests != 30 || got.Load.Stats.Failures != 0 || c.Accepted != 30 || c.Followed != 15 ||
		c.Completed != 15 || c.Unfinished != 0 || len(c.PollErrors) != 0 || c.MinMS < 20 || c.MaxMS < c.MinMS || c.TimeoutS != -1 {
		t.Errorf("result %+v", got)
	}
	if c.Polls < 15 {
		t.Errorf("%d polls for 15 orders", c.Polls)
	}
}

// TestLoadUsageErrors: follow-up settings out of range are usage errors
// naming their flag, for load and lab.
func TestLoadUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"share above 1", []string{"--follow", "1.5"}, "--follow 1.5: the share of accepted orders to follow must be from 0 to 1"},
		{"negative share", []string{"--follow", "-0.1"}, "--follow -0.1"},
		{"sync scenario", []string{"--follow", "0.5", "--scenario", "sync"}, "--follow needs --scenario async"},
		{"zero interval", []string{"--follow", "0.5", "--follow-interval", "0s"}, "--follow-interval 0s: must be positive"},
		{"negative timeout", []string{"--follow", "0.5", "--follow-timeout", "-1s"}, "--follow-timeout -1s: must not be negative"},
		{"no concurrency", []string{"--follow", "0.5", "--follow-concurrency", "0"}, "--follow-concurrency 0: must be at least 1"},
		// The lab's follow-up of the worker-scaling bursts.
		{"lab share above 1", []string{"lab", "--follow", "2"}, "--follow 2: the share of accepted orders to follow must be from 0 to 1"},
		{"lab negative interval", []string{"lab", "--follow-interval", "-1s"}, "--follow-interval -1s: must not be negative"},
		{"lab no concurrency", []string{"lab", "--follow-concurrency", "0"}, "--follow-concurrency 0: must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := tt.args
			if args[0] != "lab" {
				args = append([]string{"load", "--url", "http://127.0.0.1:1", "--rate", "1", "--duration", "1s"}, tt.args...)
			}
			if code := run(context.Background(), args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
		})
	}
}
