package coldstart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// Defaults of `coldstarts --follow`.
const (
	// DefaultFollowInterval is how often the live table is redrawn and a
	// log group polled.
	DefaultFollowInterval = 5 * time.Second
	// DefaultLookback is how far before the newest event seen each poll of
	// a log group starts again: an event that reaches CloudWatch Logs later
	// than events newer than it (ingestion delay, another log stream) is
	// still read when its timestamp is within this window.
	DefaultLookback = 30 * time.Second
)

// Follow reads r line by line as lines arrive (a pipe from `sam logs
// --tail`) and calls update, from Follow's own goroutine, at most once per
// interval when lines were read since the last call: update may call
// Snapshot. It returns nil at the end of r, the read error, or ctx's error
// when ctx ends first; the Parser then holds every line read, for Finish.
// A read blocked on r when ctx ends is left behind: close r to end it.
func (p *Parser) Follow(ctx context.Context, r io.Reader, interval time.Duration, update func()) error {
	if interval <= 0 {
		interval = DefaultFollowInterval
	}
	type scanned struct {
		line    string
		tooLong bool
	}
	lines := make(chan scanned, 256)
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		readErr <- scanLines(r, func(line string, tooLong bool) error {
			select {
			case lines <- scanned{line, tooLong}:
				return nil
			case <-stop:
				return errStopped
			}
		})
	}()
	// drain parses the lines already read, so that none is lost at the end.
	drain := func() {
		for {
			select {
			case l := <-lines:
				p.scanned(l.line, l.tooLong)
			default:
				return
			}
		}
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	dirty := false
	for {
		select {
		case l := <-lines:
			p.scanned(l.line, l.tooLong)
			dirty = true
		case err := <-readErr:
			// Every line was queued before the reader returned.
			drain()
			return err
		case <-tick.C:
			if dirty {
				update()
				dirty = false
			}
		case <-ctx.Done():
			drain()
			return ctx.Err()
		}
	}
}

var errStopped = errors.New("stopped")

// FollowOptions configures a LogGroupFollower.
type FollowOptions struct {
	// Start is the time of the oldest event read (like `--since`).
	Start time.Time
	// FilterPattern is a CloudWatch Logs filter pattern; empty reads every
	// event.
	FilterPattern string
	// PageSize is the most events a page may hold; 0 lets the service
	// choose.
	PageSize int32
	// Lookback is how far before the newest event seen a poll starts
	// again; DefaultLookback when zero.
	Lookback time.Duration
}

// FollowStats says what a LogGroupFollower read.
type FollowStats struct {
	Polls  int // polls made
	Pages  int // pages of FilterLogEvents results
	Events int // new events fed to the Parser
	// Repeats counts the events returned again by an overlapping poll and
	// skipped.
	Repeats int
	// Newest is the timestamp of the newest event seen.
	Newest time.Time
}

// LogGroupFollower polls one log group with FilterLogEvents, as `aws logs
// tail --follow` does, and feeds each event to its Parser once.
//
// Each poll starts at the newest timestamp seen less the lookback window,
// not after it: FilterLogEvents bounds are milliseconds, several events share
// one, and an event can reach CloudWatch Logs after newer ones. Every poll
// therefore returns events already read, which are skipped by event id (or,
// for a service that gives none, by stream, timestamp and message). The ids
// kept are those within the window, so memory stays bounded by the events
// of one window; an event that arrives later than the window is lost.
type LogGroupFollower struct {
	client cloudwatchlogs.FilterLogEventsAPIClient
	group  string
	parser *Parser
	opts   FollowOptions
	seen   map[string]int64 // event key -> timestamp (ms)
	newest int64            // newest timestamp seen (ms); 0 before any
	stats  FollowStats
}

// NewLogGroupFollower returns a follower of group feeding p.
func NewLogGroupFollower(client cloudwatchlogs.FilterLogEventsAPIClient, group string, opts FollowOptions, p *Parser) *LogGroupFollower {
	if opts.Lookback <= 0 {
		opts.Lookback = DefaultLookback
	}
	return &LogGroupFollower{client: client, group: group, parser: p, opts: opts, seen: map[string]int64{}}
}

// Group is the log group followed.
func (f *LogGroupFollower) Group() string { return f.group }

// Parser is the Parser the follower feeds.
func (f *LogGroupFollower) Parser() *Parser { return f.parser }

// Stats says what the follower read so far.
func (f *LogGroupFollower) Stats() FollowStats { return f.stats }

// Poll reads the events from the start of the window to now, following
// every page, feeds the new ones to the Parser and returns how many there
// were. A log group that does not exist yet (no invocation so far) has no
// events.
func (f *LogGroupFollower) Poll(ctx context.Context) (int, error) {
	start := f.opts.Start
	if f.newest > 0 {
		if from := time.UnixMilli(f.newest - f.opts.Lookback.Milliseconds()); from.After(start) {
			start = from
		}
	}
	f.stats.Polls++
	added := 0
	pages, err := filterLogEvents(ctx, f.client, filterInput(f.group, start, time.Time{}, f.opts.FilterPattern, f.opts.PageSize), func(ev types.FilteredLogEvent) {
		key := eventKey(ev)
		if _, dup := f.seen[key]; dup {
			f.stats.Repeats++
			return
		}
		ts := aws.ToInt64(ev.Timestamp)
		f.seen[key] = ts
		if ts > f.newest {
			f.newest = ts
			f.stats.Newest = time.UnixMilli(ts).UTC()
		}
		added++
		f.stats.Events++
		f.parser.Event(logEvent(ev))
	})
	f.stats.Pages += pages
	if err != nil {
		var missing *types.ResourceNotFoundException
		if !errors.As(err, &missing) {
			return added, fmt.Errorf("follow log group %s: %w", f.group, err)
		}
		// No log group yet: no events.
	}
	// Forget the events that no later poll can return again.
	cutoff := f.newest - f.opts.Lookback.Milliseconds()
	for k, ts := range f.seen {
		if ts < cutoff {
			delete(f.seen, k)
		}
	}
	return added, nil
}

// eventKey identifies an event across polls: its event id, or its stream,
// timestamp and message when the service gives no id.
func eventKey(ev types.FilteredLogEvent) string {
	if id := aws.ToString(ev.EventId); id != "" {
		return id
	}
	return aws.ToString(ev.LogStreamName) + "\x00" + strconv.FormatInt(aws.ToInt64(ev.Timestamp), 10) + "\x00" + aws.ToString(ev.Message)
}

// Remembered is how many event keys the follower keeps for deduplication.
func (f *LogGroupFollower) Remembered() int { return len(f.seen) }
