package coldstart_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"flashsale/internal/coldstart"
	"flashsale/internal/testutil/moto"
)

// tally is what a test checks of an analysis.
type tally struct{ invocations, cold, serviceStarts, lines int }

func tallyOf(a *coldstart.Analysis) tally {
	t := tally{lines: a.Input.Lines}
	for _, s := range a.Summaries {
		if s.Kind == coldstart.KindService {
			t.serviceStarts += s.ColdStarts
			continue
		}
		t.invocations += s.Invocations
		t.cold += s.ColdStarts
	}
	return t
}

// TestFollowPipe feeds Follow line by line through a pipe, as `sam logs
// --tail | flashsale coldstarts --follow` does, and checks the counts after
// each line, then at the end of the input.
func TestFollowPipe(t *testing.T) {
	r, w := io.Pipe()
	var p coldstart.Parser
	updates := make(chan tally, 100)
	done := make(chan error, 1)
	go func() {
		done <- p.Follow(context.Background(), r, 5*time.Millisecond, func() {
			updates <- tallyOf(coldstart.Analyze(p.Snapshot()))
		})
	}()
	steps := []struct {
		line string
		want tally
	}{
		{"START RequestId: req-1 Version: $LATEST", tally{lines: 1}},
		{emfColdProcessor, tally{invocations: 1, cold: 1, lines: 2}},
		{reportCold, tally{invocations: 1, cold: 1, lines: 3}}, // the same cold start
		{reportWarm, tally{invocations: 2, cold: 1, lines: 4}},
		{emfWarmProcessor, tally{invocations: 2, cold: 1, lines: 5}},
		{slogWorker, tally{invocations: 2, cold: 1, serviceStarts: 1, lines: 6}},
		{emfWorker, tally{invocations: 2, cold: 1, serviceStarts: 1, lines: 7}}, // the same start
	}
	for i, st := range steps {
		if _, err := io.WriteString(w, st.line+"\n"); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(10 * time.Second)
		var got tally
	wait:
		for {
			select {
			case got = <-updates:
				if got.lines >= st.want.lines {
					break wait
				}
			case <-deadline:
				t.Fatalf("step %d: no update showing line %d (last %+v)", i, st.want.lines, got)
			}
		}
		if got != st.want {
			t.Fatalf("step %d (%.30q): %+v, want %+v", i, st.line, got, st.want)
		}
	}
	// A last line, then the end of the input: Follow returns with it read.
	io.WriteString(w, strings.Replace(reportWarm, "req-2", "req-3", 1)+"\n")
	w.Close()
	if err := <-done; err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if got, want := tallyOf(coldstart.Analyze(p.Finish())), (tally{invocations: 3, cold: 1, serviceStarts: 1, lines: 8}); got != want {
		t.Errorf("at the end: %+v, want %+v", got, want)
	}
}

// TestFollowPipeCancel: when ctx ends (Ctrl-C), Follow returns ctx's error
// and keeps every line read so far.
func TestFollowPipeCancel(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var p coldstart.Parser
	read := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() {
		done <- p.Follow(ctx, r, time.Millisecond, func() { read <- struct{}{} })
	}()
	io.WriteString(w, reportCold+"\n")
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("no update")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow: %v, want context.Canceled", err)
	}
	if d := p.Finish(); len(d.Invocations) != 1 || !d.Invocations[0].Cold {
		t.Errorf("invocations %+v", d.Invocations)
	}
}

// logGroup creates a log group with streams on the emulator.
func logGroup(t *testing.T, client *cloudwatchlogs.Client, group string, streams ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := client.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	for _, s := range streams {
		if _, err := client.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(s)}); err != nil {
			t.Fatal(err)
		}
	}
}

// put puts events, in time order, into one stream.
func put(t *testing.T, client *cloudwatchlogs.Client, group, stream string, at time.Time, messages ...string) {
	t.Helper()
	evs := make([]types.InputLogEvent, len(messages))
	for i, m := range messages {
		evs[i] = types.InputLogEvent{Timestamp: aws.Int64(at.Add(time.Duration(i) * time.Millisecond).UnixMilli()), Message: aws.String(m)}
	}
	if _, err := client.PutLogEvents(context.Background(), &cloudwatchlogs.PutLogEventsInput{
		LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: evs}); err != nil {
		t.Fatal(err)
	}
}

// report is a REPORT line of request id, cold with an init or warm.
func report(id string, initMs float64) string {
	if initMs > 0 {
		return fmt.Sprintf("REPORT RequestId: %s\tInit Duration: %.2f ms\tDuration: 3001.00 ms\tBilled Duration: 3070 ms\tMemory Size: 512 MB\tMax Memory Used: 30 MB", id, initMs)
	}
	return fmt.Sprintf("REPORT RequestId: %s\tDuration: 3001.00 ms\tBilled Duration: 3002 ms\tMemory Size: 512 MB\tMax Memory Used: 30 MB", id)
}

// TestLogGroupFollower follows a log group on moto_server while events are
// put: every poll overlaps the previous one (it starts before the newest
// event seen), events arrive out of order (older than the newest seen, in
// another stream), pages are small, and the group does not exist at first.
// Every event counts once.
func TestLogGroupFollower(t *testing.T) {
	srv := moto.Start(t)
	client := cloudwatchlogs.NewFromConfig(srv.Config(t))
	ctx := context.Background()
	const group = "/aws/lambda/flashsale-processor"
	base := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	p := &coldstart.Parser{Function: coldstart.FunctionFromLogGroup(group)}
	f := coldstart.NewLogGroupFollower(client, group, coldstart.FollowOptions{Start: base.Add(-time.Minute), PageSize: 2, Lookback: 30 * time.Second}, p)

	poll := func(wantNew int) {
		t.Helper()
		n, err := f.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != wantNew {
			t.Fatalf("poll %d: %d new events, want %d (stats %+v)", f.Stats().Polls, n, wantNew, f.Stats())
		}
	}
	check := func(want tally) {
		t.Helper()
		got := tallyOf(coldstart.Analyze(p.Snapshot()))
		got.lines = 0
		if got != want {
			t.Fatalf("after poll %d: %+v, want %+v", f.Stats().Polls, got, want)
		}
	}

	poll(0) // no log group yet: nothing, no error
	logGroup(t, client, group, "2026/01/01/[$LATEST]a", "2026/01/01/[$LATEST]b")
	put(t, client, group, "2026/01/01/[$LATEST]a", base,
		"START RequestId: a-1 Version: $LATEST", strings.ReplaceAll(emfColdProcessor, "req-1", "a-1"), report("a-1", 65), report("a-2", 0))
	poll(4)
	check(tally{invocations: 2, cold: 1})

	// Newer events in stream a; then, in stream b, a cold start whose
	// events are older than the newest seen (they arrived late).
	put(t, client, group, "2026/01/01/[$LATEST]a", base.Add(10*time.Second), report("a-3", 0), report("a-4", 0))
	put(t, client, group, "2026/01/01/[$LATEST]b", base.Add(5*time.Second), report("b-1", 70), report("b-2", 0))
	poll(4)
	check(tally{invocations: 6, cold: 2})
	if f.Stats().Repeats == 0 {
		t.Errorf("stats %+v: the second poll read nothing again; want an overlap", f.Stats())
	}

	// Nothing new: every event returned is one already read.
	repeats := f.Stats().Repeats
	poll(0)
	if f.Stats().Repeats <= repeats {
		t.Errorf("stats %+v: the third poll read nothing again", f.Stats())
	}
	// An event at the very millisecond of the newest seen, put after it.
	put(t, client, group, "2026/01/01/[$LATEST]b", base.Add(10*time.Second+time.Millisecond), report("b-3", 0))
	poll(1)
	check(tally{invocations: 7, cold: 2})

	d := p.Finish()
	if d.Counts.Duplicates != 0 || d.Counts.Events != 9 || d.Counts.Reports != 7 || d.Counts.EMF != 1 {
		t.Errorf("counts %+v: want 9 events, 7 reports, 1 EMF record, no duplicate", d.Counts)
	}
	if f.Remembered() > 9 {
		t.Errorf("%d event ids remembered", f.Remembered())
	}
}

// TestLogGroupFollowerForgets: ids older than the lookback window before
// the newest event are forgotten, so memory stays bounded.
func TestLogGroupFollowerForgets(t *testing.T) {
	srv := moto.Start(t)
	client := cloudwatchlogs.NewFromConfig(srv.Config(t))
	const group = "/aws/lambda/api"
	logGroup(t, client, group, "s")
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	p := &coldstart.Parser{}
	f := coldstart.NewLogGroupFollower(client, group, coldstart.FollowOptions{Start: base, Lookback: time.Minute}, p)
	put(t, client, group, "s", base, report("r-1", 60), report("r-2", 0), report("r-3", 0))
	put(t, client, group, "s", base.Add(5*time.Minute), report("r-4", 0))
	if _, err := f.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.Remembered() != 1 {
		t.Errorf("%d ids remembered, want 1: the newest event's (the others are outside the window)", f.Remembered())
	}
	if n, err := f.Poll(context.Background()); err != nil || n != 0 {
		t.Errorf("second poll: %d new, %v", n, err)
	}
	if d := p.Finish(); len(d.Invocations) != 4 {
		t.Errorf("%d invocations, want 4", len(d.Invocations))
	}
}
