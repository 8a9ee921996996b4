package coldstart_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"flashsale/internal/coldstart"
	"flashsale/internal/testutil/moto"
)

// fixtureEvent is one event of testdata/filter-log-events.json.
type fixtureEvent struct {
	Stream    string `json:"logStreamName"`
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

func fixtureEvents(t *testing.T) []fixtureEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "filter-log-events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Events []fixtureEvent }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Events
}

// putEvents creates the log group and its streams on the server and puts
// the events, each stream's in time order.
func putEvents(t *testing.T, client *cloudwatchlogs.Client, group string, events []fixtureEvent) {
	t.Helper()
	ctx := context.Background()
	if _, err := client.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatalf("create log group: %v", err)
	}
	byStream := map[string][]types.InputLogEvent{}
	var streams []string
	for _, e := range events {
		if _, ok := byStream[e.Stream]; !ok {
			streams = append(streams, e.Stream)
		}
		byStream[e.Stream] = append(byStream[e.Stream], types.InputLogEvent{Timestamp: aws.Int64(e.Timestamp), Message: aws.String(e.Message)})
	}
	for _, s := range streams {
		if _, err := client.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(s)}); err != nil {
			t.Fatalf("create log stream: %v", err)
		}
		evs := byStream[s]
		slices.SortStableFunc(evs, func(a, b types.InputLogEvent) int { return int(*a.Timestamp - *b.Timestamp) })
		if _, err := client.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(s), LogEvents: evs}); err != nil {
			t.Fatalf("put log events: %v", err)
		}
	}
}

// TestReadLogGroup fills a log group on moto_server with the testdata
// scenario, moved to the last half hour, plus a malformed REPORT, and reads
// it back through FilterLogEvents five events a page.
func TestReadLogGroup(t *testing.T) {
	srv := moto.Start(t)
	client := cloudwatchlogs.NewFromConfig(srv.Config(t))
	ctx := context.Background()

	events := fixtureEvents(t)
	first := time.UnixMilli(events[0].Timestamp).UTC()
	shift := time.Now().Truncate(time.Second).Add(-25 * time.Minute).Sub(first)
	for i := range events {
		events[i].Timestamp += shift.Milliseconds()
	}
	events = append(events, fixtureEvent{Stream: events[0].Stream, Timestamp: events[3].Timestamp, Message: "REPORT RequestId: broken\tDuration: soon ms\n"})
	const group = "/aws/lambda/flashsale-ProcessorFunction-AbC123"
	putEvents(t, client, group, events)

	p := coldstart.Parser{Function: coldstart.FunctionFromLogGroup(group)}
	st, err := coldstart.ReadLogGroup(ctx, client, group, coldstart.ReadOptions{Start: first.Add(shift - time.Minute), PageSize: 5}, &p)
	if err != nil {
		t.Fatal(err)
	}
	if want := (coldstart.ReadStats{Pages: (len(events) + 4) / 5, Events: len(events)}); st != want {
		t.Errorf("read %+v, want %+v: every page followed", st, want)
	}
	d := p.Finish()
	want := scenario(t, true)
	for i := range want {
		want[i].Start = want[i].Start.Add(shift)
		want[i].End = want[i].End.Add(shift)
	}
	if len(d.Invocations) != len(want) {
		t.Fatalf("%d invocations, want %d", len(d.Invocations), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(d.Invocations[i], want[i]) {
			t.Errorf("invocation %d:\n got  %s\n want %s", i, show(d.Invocations[i]), show(want[i]))
		}
	}
	c := d.Counts
	if c.Events != len(events) || c.Lines != 0 || c.Reports != 6 || c.Records != 6 || c.Other != 22 || c.Malformed != 1 {
		t.Errorf("counts %+v", c)
	}

	// A time window: only C's cold start, twenty minutes later.
	p = coldstart.Parser{Function: "processor"}
	from := want[5].Start.Add(-time.Second)
	if _, err := coldstart.ReadLogGroup(ctx, client, group, coldstart.ReadOptions{Start: from, End: from.Add(time.Minute)}, &p); err != nil {
		t.Fatal(err)
	}
	d = p.Finish()
	if len(d.Invocations) != 1 || d.Invocations[0].RequestID != want[5].RequestID || d.Invocations[0].Function != "processor" {
		t.Errorf("window: %s", show(d.Invocations))
	}

	// A log group that does not exist: the service's error, wrapped.
	_, err = coldstart.ReadLogGroup(ctx, client, "/aws/lambda/missing", coldstart.ReadOptions{}, &coldstart.Parser{})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("missing group: %v, want a ResourceNotFoundException", err)
	}
}

func TestReadLogGroupCanceled(t *testing.T) {
	srv := moto.Start(t)
	client := cloudwatchlogs.NewFromConfig(srv.Config(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := coldstart.ReadLogGroup(ctx, client, "/aws/lambda/x", coldstart.ReadOptions{}, &coldstart.Parser{}); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"30m":                  now.Add(-30 * time.Minute),
		"1h30m":                now.Add(-90 * time.Minute),
		"2d":                   now.Add(-48 * time.Hour),
		"1w":                   now.Add(-7 * 24 * time.Hour),
		"0s":                   now,
		"2026-11-20T10:00:00Z": time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
	} {
		got, err := coldstart.ParseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "-5m", "1.5d", "2026-11-20"} {
		if _, err := coldstart.ParseSince(in, now); err == nil {
			t.Errorf("ParseSince(%q): no error", in)
		}
	}
}
