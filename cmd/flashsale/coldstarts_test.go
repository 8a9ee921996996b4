package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"flashsale/internal/coldstart"
	"flashsale/internal/testutil/moto"
)

const coldstartTestdata = "../../internal/coldstart/testdata"

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func decodeAnalysis(t *testing.T, s string) *coldstart.Analysis {
	t.Helper()
	var a coldstart.Analysis
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return &a
}

// withStdin runs f with os.Stdin reading content.
func withStdin(t *testing.T, content string, f func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	old := os.Stdin
	os.Stdin = in
	defer func() { os.Stdin = old }()
	f()
}

// TestColdstartsMakeInvoke pipes what `make invoke FN=processor
// EVENT=events/sns-order.json` printed (captured from aws-lambda-rie) into
// the command: one cold start with its init duration.
func TestColdstartsMakeInvoke(t *testing.T) {
	captured, err := os.ReadFile(filepath.Join(coldstartTestdata, "make-invoke.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var code int
	var stdout, stderr string
	withStdin(t, string(captured), func() { code, stdout, stderr = runCmd(t, "coldstarts") })
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"processor  lambda  1            1            100.0%  59.51/59.51/59.51/59.51/59.51  8.21 ms",
		"rie-32161-711231080-1  59.51    3066.20",
		"Read 12 lines: 1 report, 1 cold-start record, 0 service starts; skipped 9 other, 0 malformed; init from 1 emulator INIT REPORT line.",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	// The same from a file, as JSON.
	code, stdout, stderr = runCmd(t, "coldstarts", "--json", filepath.Join(coldstartTestdata, "make-invoke.txt"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	a := decodeAnalysis(t, stdout)
	if len(a.Summaries) != 1 || a.Summaries[0].ColdStarts != 1 || a.Summaries[0].Init.P50 != 59.51 || a.Summaries[0].Starts[0].Cause != coldstart.CauseFirst {
		t.Errorf("analysis %+v", a.Summaries)
	}
}

// TestColdstartsFiles reads several files, flags and files mixed, and names
// the function of unnamed records with --function.
func TestColdstartsFiles(t *testing.T) {
	tail, worker := filepath.Join(coldstartTestdata, "aws-logs-tail.txt"), filepath.Join(coldstartTestdata, "worker.jsonl")
	code, stdout, stderr := runCmd(t, "coldstarts", tail, "--csv", worker)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "flashsale-ProcessorFunction-AbC123,lambda,6,3,0.5,3,65.3,68.91,") ||
		!strings.HasPrefix(lines[2], "flashsale-worker,service,0,2,") {
		t.Errorf("CSV:\n%s", stdout)
	}

	code, stdout, _ = runCmd(t, "coldstarts", "--csv", "--starts", worker)
	if code != 0 || strings.Count(stdout, ",start\n") != 2 {
		t.Errorf("exit %d, CSV starts:\n%s", code, stdout)
	}

	// A log without function names: --function names it.
	path := filepath.Join(t.TempDir(), "report.txt")
	os.WriteFile(path, []byte("REPORT RequestId: r1\tInit Duration: 70.00 ms\tDuration: 3000.00 ms\nREPORT RequestId: r2\tDuration: 3000.00 ms\nREPORT RequestId: r3\tDuration: broken ms\n"), 0o600)
	code, stdout, stderr = runCmd(t, "coldstarts", "--json", "--function", "checkout", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	a := decodeAnalysis(t, stdout)
	if s := a.Summaries[0]; s.Name != "checkout" || s.Invocations != 2 || s.ColdStarts != 1 || a.Input.Malformed != 1 {
		t.Errorf("summary %+v, input %+v", s, a.Input)
	}
	// Malformed lines are skipped, not fatal, and said on stderr beside JSON.
	if !strings.Contains(stderr, "skipped 1 malformed") || !strings.Contains(stderr, "line 3") {
		t.Errorf("stderr %q", stderr)
	}
}

func TestColdstartsUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"--help"}, 0, "--log-group"},
		{"json and csv", []string{"--json", "--csv", "x"}, 2, "choose one"},
		{"starts without csv", []string{"--starts", "x"}, 2, "--starts goes with --csv"},
		{"bad since", []string{"--log-group", "/aws/lambda/x", "--since", "yesterday"}, 2, "--since"},
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"missing file", []string{"/nonexistent/log.txt"}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append([]string{"coldstarts"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", code, tt.code, tt.want, stdout, stderr)
			}
		})
	}
}

// awsTestEnv points the AWS SDK at moto_server with dummy credentials and
// nothing from this machine's AWS configuration.
func awsTestEnv(t *testing.T, srv *moto.Server) {
	t.Helper()
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
}

// TestColdstartsLogGroup fills a synthetic processor log group and a worker
// log group on moto_server and reads both through --log-group.
func TestColdstartsLogGroup(t *testing.T) {
	srv := moto.Start(t)
	awsTestEnv(t, srv)
	client := cloudwatchlogs.NewFromConfig(srv.Config(t))
	ctx := context.Background()

	t0 := time.Now().Add(-20 * time.Minute).Truncate(time.Millisecond)
	at := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	report := func(id string, init float64, dur float64) string {
		s := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %.0f ms\tMemory Size: 512 MB\tMax Memory Used: 21 MB\t", id, dur, math.Ceil(dur+init))
		if init > 0 {
			s += fmt.Sprintf("Init Duration: %.2f ms\t", init)
		}
		return s + "\n"
	}
	const fn = "/aws/lambda/flashsale-processor"
	lambda := map[string][]types.InputLogEvent{
		// A: cold at 0, then three warm invocations, one every 3.1 s.
		"2026/11/25/[$LATEST]aaaa": {
			{Timestamp: aws.Int64(at(3070 * time.Millisecond)), Message: aws.String(report("a1", 70.12, 3000))},
			{Timestamp: aws.Int64(at(6170 * time.Millisecond)), Message: aws.String("START RequestId: a2 Version: $LATEST\n")},
			{Timestamp: aws.Int64(at(6170 * time.Millisecond)), Message: aws.String(report("a2", 0, 3001))},
			{Timestamp: aws.Int64(at(9270 * time.Millisecond)), Message: aws.String(report("a3", 0, 3002))},
			{Timestamp: aws.Int64(at(12370 * time.Millisecond)), Message: aws.String(report("a4", 0, 3003))},
		},
		// B: cold at 7 s while A runs a3 (6.27-9.27 s): a scale-out.
		"2026/11/25/[$LATEST]bbbb": {
			{Timestamp: aws.Int64(at(10068 * time.Millisecond)), Message: aws.String(report("b1", 68.0, 3000))},
			{Timestamp: aws.Int64(at(10069 * time.Millisecond)), Message: aws.String("REPORT RequestId: b2\tDuration: oops ms\n")},
		},
		// C: cold ten minutes after A's last invocation ended: after idle.
		"2026/11/25/[$LATEST]cccc": {
			{Timestamp: aws.Int64(at(12370*time.Millisecond + 10*time.Minute + 3065*time.Millisecond)), Message: aws.String(report("c1", 65.0, 3000))},
		},
	}
	const svc = "/ecs/flashsale-worker"
	worker := map[string][]types.InputLogEvent{
		"worker/worker/1111": {
			{Timestamp: aws.Int64(at(0)), Message: aws.String(`{"time":"` + t0.UTC().Format(time.RFC3339Nano) + `","level":"INFO","msg":"worker service ready","function":"flashsale-worker","workers":5,"cold_start":true,"init_ms":41.5}`)},
			{Timestamp: aws.Int64(at(time.Second)), Message: aws.String(`{"level":"INFO","msg":"order paid","function":"flashsale-worker"}`)},
		},
		"worker/worker/2222": {
			{Timestamp: aws.Int64(at(5 * time.Minute)), Message: aws.String(`{"level":"INFO","msg":"worker service ready","function":"flashsale-worker","cold_start":true,"init_ms":39.5}`)},
		},
	}
	for group, streams := range map[string]map[string][]types.InputLogEvent{fn: lambda, svc: worker} {
		if _, err := client.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
			t.Fatal(err)
		}
		for stream, events := range streams {
			if _, err := client.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
				t.Fatal(err)
			}
			if _, err := client.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: events}); err != nil {
				t.Fatal(err)
			}
		}
	}

	code, stdout, stderr := runCmd(t, "coldstarts", "--log-group", fn, "--log-group", svc, "--since", "30m", "--endpoint-url", srv.Endpoint, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	a := decodeAnalysis(t, stdout)
	if len(a.Summaries) != 2 {
		t.Fatalf("summaries %+v", a.Summaries)
	}
	p, w := a.Summaries[0], a.Summaries[1]
	if p.Name != "flashsale-processor" || p.Kind != coldstart.KindLambda || p.Invocations != 6 || p.ColdStarts != 3 ||
		p.First != 1 || p.ScaleOut != 1 || p.AfterIdle != 1 {
		t.Errorf("processor %+v", p)
	}
	if want := (coldstart.Dist{Count: 3, Min: 65, P50: 68, P90: 70.12, P99: 70.12, Max: 70.12}); p.Init != want {
		t.Errorf("init %+v, want %+v", p.Init, want)
	}
	// c1 started 3,065 ms before its REPORT, ten minutes after a4 ended.
	if gap := p.Starts[2].IdleGapMs; gap == nil || math.Abs(*gap-600_000) > 1e-6 || p.Starts[2].RequestID != "c1" {
		t.Errorf("idle gap of %s: %v, want 600000 ms", p.Starts[2].RequestID, gap)
	}
	if w.Name != "flashsale-worker" || w.Kind != coldstart.KindService || w.ColdStarts != 2 || w.Init.Min != 39.5 || w.Init.Max != 41.5 {
		t.Errorf("worker %+v", w)
	}
	if in := a.Input; in.Events != 11 || in.Reports != 6 || in.ServiceStarts != 2 || in.Malformed != 1 || in.Other != 2 {
		t.Errorf("input %+v", in)
	}
	if !strings.Contains(stderr, "skipped 1 malformed") {
		t.Errorf("stderr %q", stderr)
	}

	// A window that ends before C's cold start leaves it out.
	code, stdout, stderr = runCmd(t, "coldstarts", "--log-group", fn, "--since", "30m", "--until", "15m", "--endpoint-url", srv.Endpoint, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if s := decodeAnalysis(t, stdout).Summaries[0]; s.Invocations != 5 || s.ColdStarts != 2 {
		t.Errorf("window: %+v", s)
	}

	// A log group that is not there: an error naming it and the endpoint.
	code, _, stderr = runCmd(t, "coldstarts", "--log-group", "/aws/lambda/missing", "--endpoint-url", srv.Endpoint)
	if code != 1 || !strings.Contains(stderr, "/aws/lambda/missing") || !strings.Contains(stderr, srv.Endpoint) {
		t.Errorf("missing group: exit %d, %s", code, stderr)
	}
}
