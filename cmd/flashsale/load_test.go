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
