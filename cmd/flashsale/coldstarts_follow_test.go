package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"flashsale/internal/coldstart"
	"flashsale/internal/testutil/moto"
	"flashsale/internal/testutil/syncbuf"
)

// followReport is a REPORT line of request id, cold with an init or warm.
func followReport(id string, initMs float64) string {
	if initMs > 0 {
		return fmt.Sprintf("REPORT RequestId: %s\tInit Duration: %.2f ms\tDuration: 3001.00 ms\tBilled Duration: 3070 ms\tMemory Size: 512 MB\tMax Memory Used: 30 MB", id, initMs)
	}
	return fmt.Sprintf("REPORT RequestId: %s\tDuration: 3001.00 ms\tBilled Duration: 3002 ms\tMemory Size: 512 MB\tMax Memory Used: 30 MB", id)
}

// followEMF is the processor's EMF record of a cold start.
func followEMF(id string, at time.Time) string {
	return fmt.Sprintf(`{"ColdStart":1,"InitDuration":61.5,"PaymentDuration":3000.5,"_aws":{"Timestamp":%d,"CloudWatchMetrics":[{"Namespace":"flashsale","Dimensions":[["function"]],"Metrics":[{"Name":"ColdStart","Unit":"Count"},{"Name":"InitDuration","Unit":"Milliseconds"},{"Name":"PaymentDuration","Unit":"Milliseconds"}]}]},"function":"processor","request_id":"%s"}`, at.UnixMilli(), id)
}

// waitFor waits until cond holds of s(), or fails the test.
func waitFor(t *testing.T, what string, s func() string, cond func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond(s()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; output:\n%s", what, s())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestColdstartsFollowLogGroup runs `coldstarts --follow --log-group`
// against moto_server while events are put, some late (older than events
// already read) and all read again by overlapping polls, then stops it as
// Ctrl-C would: the live tables (on stderr, as the final report is JSON)
// follow the events, and the final report counts each once.
func TestColdstartsFollowLogGroup(t *testing.T) {
	srv := moto.Start(t)
	awsTestEnv(t, srv)
	client := cloudwatchlogs.NewFromConfig(srv.Config(t))
	ctx := context.Background()
	const group = "/aws/lambda/processor"
	base := time.Now().Add(-3 * time.Minute).Truncate(time.Second)
	if _, err := client.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	put := func(stream string, at time.Time, msgs ...string) {
		t.Helper()
		client.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
		evs := make([]types.InputLogEvent, len(msgs))
		for i, m := range msgs {
			evs[i] = types.InputLogEvent{Timestamp: aws.Int64(at.Add(time.Duration(i) * time.Millisecond).UnixMilli()), Message: aws.String(m)}
		}
		if _, err := client.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: evs}); err != nil {
			t.Fatal(err)
		}
	}
	put("a", base, followEMF("a-1", base), followReport("a-1", 65), followReport("a-2", 0))

	runCtx, stop := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(runCtx, []string{"coldstarts", "--follow", "--log-group", group, "--since", "10m",
			"--follow-interval", "50ms", "--json"}, &stdout, &stderr)
	}()
	waitFor(t, "the first table", stderr.String, func(s string) bool {
		return strings.Contains(s, "processor  lambda  2            1")
	})
	put("a", base.Add(20*time.Second), followReport("a-3", 0))
	put("b", base.Add(10*time.Second), followReport("b-1", 70), followReport("b-2", 0)) // late: older than a-3
	waitFor(t, "the late events", stderr.String, func(s string) bool {
		return strings.Contains(s, "processor  lambda  5            2")
	})
	time.Sleep(200 * time.Millisecond) // a few more overlapping polls
	stop()
	var code int
	select {
	case code = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("coldstarts --follow did not stop")
	}
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	a := decodeAnalysis(t, stdout.String())
	if len(a.Summaries) != 1 || a.Summaries[0].Invocations != 5 || a.Summaries[0].ColdStarts != 2 ||
		a.Input.Events != 6 || a.Input.Duplicates != 0 || a.Input.EMF != 1 {
		t.Errorf("final report %+v, input %+v: want 5 invocations, 2 cold starts, 6 events, 1 EMF record, no duplicate", a.Summaries, a.Input)
	}
	if !strings.Contains(stderr.String(), "read again and skipped") {
		t.Errorf("no status line on stderr:\n%s", stderr.String())
	}
}

// TestColdstartsFollowStdin feeds `coldstarts --follow` through a pipe on
// standard input, line by line: a new table is printed (stdout is no
// terminal) as each line changes it, and the end of the input prints the
// final report.
func TestColdstartsFollowStdin(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old; r.Close() }()
	var stdout, stderr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"coldstarts", "--follow", "--follow-interval", "20ms"}, &stdout, &stderr)
	}()
	steps := []struct{ line, want string }{
		{followReport("r-1", 60), "function  lambda  1            1"},
		{followReport("r-2", 0), "function  lambda  2            1"},
		{followReport("r-1", 60), "1 duplicate report"}, // printed twice by the tail: counted once
		{followReport("r-3", 75), "function  lambda  3            2"},
	}
	for _, st := range steps {
		fmt.Fprintln(w, st.line)
		waitFor(t, st.want, stdout.String, func(s string) bool { return strings.Contains(s, st.want) })
	}
	w.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("coldstarts --follow did not end with its input")
	}
	out := stdout.String()
	starts := strings.LastIndex(out, "Starts (idle gap")
	if starts < 0 {
		t.Fatalf("no final report:\n%s", out)
	}
	final := out[strings.LastIndex(out[:starts], "NAME  "):]
	for _, want := range []string{"function  lambda  3            2", "Read 4 lines: 3 reports"} {
		if !strings.Contains(final, want) {
			t.Errorf("final report lacks %q:\n%s", want, final)
		}
	}
	if n := strings.Count(out, "flashsale coldstarts --follow: standard input"); n < len(steps) {
		t.Errorf("%d live tables, want one per change (%d)", n, len(steps))
	}
}

// TestColdstartsFollowUsage checks the flags that do not go with --follow.
func TestColdstartsFollowUsage(t *testing.T) {
	tests := [][]string{
		{"coldstarts", "--follow", "some.log"},
		{"coldstarts", "--follow", "--log-group", "/aws/lambda/x", "--until", "5m"},
		{"coldstarts", "--follow", "--follow-interval", "0s"},
	}
	for _, args := range tests {
		if code, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestLiveViewOnlyOnChange: off a terminal, the same table is not printed
// twice.
func TestLiveViewOnlyOnChange(t *testing.T) {
	var out syncbuf.Buffer
	v := newLiveView(&out, nil, false)
	var p coldstart.Parser
	p.Line(followReport("x", 50))
	a := coldstart.Analyze(p.Snapshot())
	v.draw(a, "status 1")
	v.draw(a, "status 2")
	if n := strings.Count(out.String(), "NAME"); n != 1 {
		t.Errorf("%d tables printed, want 1:\n%s", n, out.String())
	}
}
