package serverless

import (
	"log/slog"
	"sync"
	"time"
)

// Invocations tells the first invocation of an execution environment (a cold
// start) from the following ones (warm), and measures how long the
// environment took to get from process start to its first invocation
// (init_ms) and, when MarkReady is called, to the end of the function's own
// initialisation (ready_ms). It is safe for concurrent use.
type Invocations struct {
	start time.Time
	now   func() time.Time
	mu    sync.Mutex
	count int64
	ready time.Duration // process start to MarkReady; 0 until then
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
	// warm invocations. With proactive initialisation or provisioned
	// concurrency it includes the idle wait before that invocation.
	Init time.Duration
	// Ready is the time from process start to MarkReady (the function's own
	// initialisation, up to lambda.Start); zero on warm invocations and when
	// MarkReady was not called. Init - Ready is the runtime's hand-off plus
	// any idle wait.
	Ready time.Duration
	// Number counts invocations of this environment from 1.
	Number int64
}

// MarkReady records that the function has initialised (call it just before
// lambda.Start): the first invocation then reports ready_ms, the time from
// process start to now. Only the first call counts.
func (c *Invocations) MarkReady() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ready == 0 {
		c.ready = max(c.now().Sub(c.start), time.Nanosecond)
	}
}

// Next records an invocation and describes it.
func (c *Invocations) Next() Invocation {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count++
	if c.count == 1 {
		return Invocation{Cold: true, Init: c.now().Sub(c.start), Ready: c.ready, Number: 1}
	}
	return Invocation{Number: c.count}
}

// Attrs are the log attributes of the invocation: cold_start always; on a
// cold start only, init_ms and, when the function marked itself ready,
// ready_ms (milliseconds, fractional).
func (i Invocation) Attrs() []any {
	if !i.Cold {
		return []any{slog.Bool(FieldColdStart, false)}
	}
	attrs := []any{slog.Bool(FieldColdStart, true), slog.Float64(FieldInitMS, ms(i.Init))}
	if i.Ready > 0 {
		attrs = append(attrs, slog.Float64(FieldReadyMS, ms(i.Ready)))
	}
	return attrs
}

// ms is d in milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}
