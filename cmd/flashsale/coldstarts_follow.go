package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"flashsale/internal/coldstart"
)

// liveView draws the live table of `coldstarts --follow`: redrawn in place
// on a terminal, otherwise printed again only when it changed.
type liveView struct {
	w    io.Writer
	tty  bool
	last []byte // the table last drawn
}

// newLiveView draws on stdout, or on stderr when stdout carries the final
// report for machines (--json, --csv).
func newLiveView(stdout, stderr io.Writer, machine bool) *liveView {
	w := stdout
	if machine {
		w = stderr
	}
	return &liveView{w: w, tty: isTerminal(w)}
}

// Terminal control: cursor home and clear the screen.
const clearScreen = "\x1b[H\x1b[2J"

// draw shows a's table and a status line.
func (v *liveView) draw(a *coldstart.Analysis, status string) {
	var table bytes.Buffer
	coldstart.WriteTable(&table, a)
	if !v.tty && bytes.Equal(table.Bytes(), v.last) {
		return
	}
	v.last = table.Bytes()
	var out bytes.Buffer
	if v.tty {
		out.WriteString(clearScreen)
	} else {
		out.WriteString("\n")
	}
	out.WriteString(status + "\n")
	out.Write(table.Bytes())
	v.w.Write(out.Bytes())
}

// end clears the live table from a terminal before the final report.
func (v *liveView) end() {
	if v.tty && v.last != nil {
		io.WriteString(v.w, clearScreen)
	} else if v.last != nil {
		io.WriteString(v.w, "\n")
	}
}

// followRun is one `coldstarts --follow`.
type followRun struct {
	live     *liveView
	interval time.Duration
	stderr   io.Writer
	now      func() time.Time // time.Now when nil
}

func (f *followRun) clock() time.Time {
	if f.now != nil {
		return f.now()
	}
	return time.Now()
}

// reader follows r (standard input) until its end or ctx's, and returns
// the final analysis.
func (f *followRun) reader(ctx context.Context, r io.Reader, function string) (*coldstart.Analysis, error) {
	p := &coldstart.Parser{Function: function}
	update := func() {
		a := coldstart.Analyze(p.Snapshot())
		f.live.draw(a, fmt.Sprintf("flashsale coldstarts --follow: standard input, %d lines at %s; Ctrl-C or the end of the input for the final report",
			a.Input.Lines, f.clock().UTC().Format("15:04:05Z")))
	}
	err := p.Follow(ctx, r, f.interval, update)
	if err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	return coldstart.Analyze(p.Finish()), nil
}

// logGroups polls the log groups every interval until ctx ends, and returns
// the final analysis. The first poll's error ends it; a later one is said
// on stderr and the poll tried again at the next interval.
func (f *followRun) logGroups(ctx context.Context, client cloudwatchlogs.FilterLogEventsAPIClient, groups []string, opts coldstart.FollowOptions) (*coldstart.Analysis, error) {
	followers := make([]*coldstart.LogGroupFollower, len(groups))
	for i, g := range groups {
		p := &coldstart.Parser{Function: coldstart.FunctionFromLogGroup(g)}
		if p.Function == "" {
			p.Service = path.Base(g)
		}
		followers[i] = coldstart.NewLogGroupFollower(client, g, opts, p)
	}
	analysis := func(final bool) *coldstart.Analysis {
		d := &coldstart.Dataset{}
		for _, fl := range followers {
			if final {
				d.Merge(fl.Parser().Finish())
			} else {
				d.Merge(fl.Parser().Snapshot())
			}
		}
		return coldstart.Analyze(d)
	}
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	for polls := 0; ; polls++ {
		for _, fl := range followers {
			if _, err := fl.Poll(ctx); err != nil {
				switch {
				case ctx.Err() != nil:
					return analysis(true), nil
				case polls == 0:
					return nil, err
				default:
					fmt.Fprintf(f.stderr, "flashsale coldstarts: %v; trying again in %v\n", err, f.interval)
				}
			}
		}
		var events, repeats int
		var newest time.Time
		for _, fl := range followers {
			st := fl.Stats()
			events += st.Events
			repeats += st.Repeats
			if st.Newest.After(newest) {
				newest = st.Newest
			}
		}
		newestText := "none yet"
		if !newest.IsZero() {
			newestText = newest.Format("15:04:05.000Z")
		}
		f.live.draw(analysis(false), fmt.Sprintf("flashsale coldstarts --follow: %d log group(s), %d events (%d read again and skipped), newest %s, polled at %s; Ctrl-C for the final report",
			len(groups), events, repeats, newestText, f.clock().UTC().Format("15:04:05Z")))
		select {
		case <-ctx.Done():
			return analysis(true), nil
		case <-tick.C:
		}
	}
}
