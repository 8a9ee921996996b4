package coldstart

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// ReadOptions selects the events ReadLogGroup reads.
type ReadOptions struct {
	// Start and End bound the events' times; a zero End means now.
	Start, End time.Time
	// FilterPattern is a CloudWatch Logs filter pattern; empty reads every
	// event. For example `?REPORT ?cold_start ?init_ms ?platform.report`
	// reads only what the analysis uses.
	FilterPattern string
	// PageSize is the most events a page may hold; 0 lets the service
	// choose (up to 10,000).
	PageSize int32
}

// ReadStats says what ReadLogGroup read.
type ReadStats struct {
	Pages  int // pages of FilterLogEvents results
	Events int // events read
}

// ReadLogGroup reads every event of the log group between opts.Start and
// opts.End with FilterLogEvents, following every page, and feeds them to p.
func ReadLogGroup(ctx context.Context, client cloudwatchlogs.FilterLogEventsAPIClient, group string, opts ReadOptions, p *Parser) (ReadStats, error) {
	var st ReadStats
	in := filterInput(group, opts.Start, opts.End, opts.FilterPattern, opts.PageSize)
	pages, err := filterLogEvents(ctx, client, in, func(ev types.FilteredLogEvent) {
		st.Events++
		p.Event(logEvent(ev))
	})
	st.Pages = pages
	if err != nil {
		return st, fmt.Errorf("read log group %s: %w", group, err)
	}
	return st, nil
}

// filterInput is the FilterLogEvents request of group between start and
// end (either zero: unbounded).
func filterInput(group string, start, end time.Time, pattern string, pageSize int32) *cloudwatchlogs.FilterLogEventsInput {
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)}
	if !start.IsZero() {
		in.StartTime = aws.Int64(start.UnixMilli())
	}
	if !end.IsZero() {
		in.EndTime = aws.Int64(end.UnixMilli())
	}
	if pattern != "" {
		in.FilterPattern = aws.String(pattern)
	}
	if pageSize > 0 {
		in.Limit = aws.Int32(pageSize)
	}
	return in
}

// filterLogEvents calls fn for every event of every page of in, and
// returns the pages read.
func filterLogEvents(ctx context.Context, client cloudwatchlogs.FilterLogEventsAPIClient, in *cloudwatchlogs.FilterLogEventsInput, fn func(types.FilteredLogEvent)) (int, error) {
	pages := cloudwatchlogs.NewFilterLogEventsPaginator(client, in, func(o *cloudwatchlogs.FilterLogEventsPaginatorOptions) {
		o.StopOnDuplicateToken = true
	})
	n := 0
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return n, err
		}
		n++
		for _, ev := range out.Events {
			fn(ev)
		}
	}
	return n, nil
}

// logEvent is the Parser's view of a CloudWatch Logs event.
func logEvent(ev types.FilteredLogEvent) LogEvent {
	e := LogEvent{Stream: aws.ToString(ev.LogStreamName), Message: aws.ToString(ev.Message)}
	if ev.Timestamp != nil {
		e.Time = time.UnixMilli(*ev.Timestamp).UTC()
	}
	return e
}

// ParseSince reads a point in time as `aws logs tail --since` does: a
// duration before now ("30m", "2h", "1h30m", or whole days and weeks, "2d",
// "1w"), or an RFC 3339 time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err = days(n, 24*time.Hour)
	} else if n, ok := strings.CutSuffix(s, "w"); ok {
		d, err = days(n, 7*24*time.Hour)
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither a duration (30m, 2h, 7d, 1w) nor an RFC 3339 time", s)
	}
	return now.Add(-d), nil
}

func days(n string, unit time.Duration) (time.Duration, error) {
	v, err := strconv.Atoi(n)
	if err != nil || v < 0 || v > 3660 {
		return 0, fmt.Errorf("bad count %q", n)
	}
	return time.Duration(v) * unit, nil
}
