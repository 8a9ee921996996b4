package serverless

import (
	"log/slog"
	"sync"
	"time"
)

// Invocations tells the first invocation of an execution environment (a cold
// start) from the following ones (warm), and measures how long the
// environment took to get from process start to its first invocation. It is
// safe for concurrent use.
type Invocations struct {
	start time.Time
	now   func() time.Time
	mu    sync.Mutex
	count int64
}

// NewInvocations counts invocations of a process that started at start; now
// is the clock (time.Now when nil).
func NewInvocations(start time.Time, now func() time.Time) *Invocations {
	if now == nil {
		now = time.Now
	}
	return &Invocations{start: start, now: now}
}

// Invocation describes one invocation for the logs.
type Invocation struct {
	// Cold is true for the first invocation of the environment.
	Cold bool
	// Init is the time from process start to the first invocation; zero on
	// warm invocations.
	Init time.Duration
	// Number counts invocations of this environment from 1.
	Number int64
}

// Next records an invocation and describes it.
func (c *Invocations) Next() Invocation {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count++
	if c.count == 1 {
		return Invocation{Cold: true, Init: c.now().Sub(c.start), Number: 1}
	}
	return Invocation{Number: c.count}
}

// Attrs are the log attributes of the invocation: cold_start always, init_ms
// (milliseconds, fractional) only on a cold start.
func (i Invocation) Attrs() []any {
	if !i.Cold {
		return []any{slog.Bool(FieldColdStart, false)}
	}
	return []any{slog.Bool(FieldColdStart, true), slog.Float64(FieldInitMS, ms(i.Init))}
}

// ms is d in milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}
