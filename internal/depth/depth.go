// Package depth samples the depth of an order queue over time: while a load
// runs, and after it until the queue is empty, so that a run reports the
// peak backlog and the time to drain it, and a chart can draw the timeline.
//
// The source of a reading is any queue.DepthReader: a local server's
// GET /metrics (Metrics, in this package), or the SQS queue of the worker
// service (sqs.Gauge, whose Depth reads ApproximateNumberOfMessages; SQS in
// this package adds the messages in flight). A source that also implements
// Reader adds payments processed and in flight to each sample, from which
// the processing rate of the workers is measured.
package depth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"flashsale/internal/queue"
)

// Reading is one observation of a queue and its workers.
type Reading struct {
	// Depth is the orders waiting in the queue.
	Depth int
	// Processed is the payments finished so far (any result), or -1 when
	// the source does not know.
	Processed int64
	// InFlight is the payments in progress, or -1 when unknown.
	InFlight int
}

// Reader is a depth source that reads more than the depth.
type Reader interface {
	Read(ctx context.Context) (Reading, error)
}

// Sample is one reading, timed from the start of the sampling.
type Sample struct {
	// At is the time of the reading from the start of Run.
	At time.Duration
	Reading
}

// Sampler reads a queue's depth every Interval.
type Sampler struct {
	// Source is read at each tick; when it also implements Reader, its
	// Read is used instead of Depth.
	Source queue.DepthReader
	// Interval is the time between readings; 1 s when zero.
	Interval time.Duration
	// EmptyReadings is how many consecutive zero readings after the load
	// count as drained (1 when zero). SQS's approximate counts can read 0
	// for a moment while messages are in flight; 3 is safer there.
	EmptyReadings int
	// WaitForPayments also requires no payment in flight (when the source
	// knows) for a reading to count as empty.
	WaitForPayments bool
	// MaxErrors is how many consecutive failed readings end the sampling
	// with an error (5 when zero).
	MaxErrors int
	// ReadTimeout bounds one reading (Interval when zero, at least 1 s).
	ReadTimeout time.Duration
	// OnSample, when set, is called after each successful reading.
	OnSample func(Sample)
}

// Timeline is the outcome of a sampling run.
type Timeline struct {
	// Started is the wall-clock time the sampling started; every At
	// counts from it.
	Started time.Time
	// Samples holds every successful reading in time order.
	Samples []Sample
	// Peak is the largest depth read, first at PeakAt.
	Peak   int
	PeakAt time.Duration
	// LoadEnd is when the load ended (the loadDone channel closed), from
	// the start; -1 when it never did.
	LoadEnd time.Duration
	// Drained reports whether the queue was read empty after the load.
	Drained bool
	// DrainedAt is the first of the empty readings that ended the run.
	DrainedAt time.Duration
	// Errors counts failed readings.
	Errors int
}

// TimeToDrain is from the end of the load to the first empty reading after
// it; precise to one Interval. It is 0 when the queue never drained.
func (t *Timeline) TimeToDrain() time.Duration {
	if !t.Drained || t.LoadEnd < 0 {
		return 0
	}
	return max(0, t.DrainedAt-t.LoadEnd)
}

// ProcessingRate is the payments per second between the first and the last
// readings where the queue was not empty, when every worker was busy: the
// measured counterpart of the model's workers / payment delay. ok is false
// without a Processed count or with fewer than two such readings.
func (t *Timeline) ProcessingRate() (rate float64, ok bool) {
	first, last := -1, -1
	for i, s := range t.Samples {
		if s.Depth > 0 && s.Processed >= 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 || last <= first {
		return 0, false
	}
	a, b := t.Samples[first], t.Samples[last]
	span := (b.At - a.At).Seconds()
	if span <= 0 {
		return 0, false
	}
	return float64(b.Processed-a.Processed) / span, true
}

// ErrSource is wrapped by the error Run returns after MaxErrors consecutive
// failed readings.
var ErrSource = errors.New("depth source keeps failing")

// Run reads the depth now and every Interval until the queue reads empty
// after loadDone is closed (EmptyReadings times in a row), or ctx ends. A
// nil loadDone means the load is already over. It also reads once at the
// moment loadDone closes. When ctx ends first, Run returns the timeline so
// far and an error wrapping ctx's.
func (s *Sampler) Run(ctx context.Context, loadDone <-chan struct{}) (*Timeline, error) {
	if s.Source == nil {
		return nil, errors.New("depth sampler: no source")
	}
	interval := s.Interval
	if interval <= 0 {
		interval = time.Second
	}
	empties := max(1, s.EmptyReadings)
	maxErrors := s.MaxErrors
	if maxErrors <= 0 {
		maxErrors = 5
	}
	readTimeout := s.ReadTimeout
	if readTimeout <= 0 {
		readTimeout = max(interval, time.Second)
	}

	start := time.Now()
	tl := &Timeline{Started: start, LoadEnd: -1}
	if loadDone == nil {
		tl.LoadEnd = 0
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var failing, emptyRun int
	var emptySince time.Duration
	for {
		rctx, cancel := context.WithTimeout(ctx, readTimeout)
		r, err := s.read(rctx)
		cancel()
		at := time.Since(start)
		switch {
		case err != nil && ctx.Err() != nil:
			return tl, fmt.Errorf("depth sampling stopped: %w", ctx.Err())
		case err != nil:
			tl.Errors++
			failing++
			if failing >= maxErrors {
				return tl, fmt.Errorf("%w: %d readings in a row failed, last: %w", ErrSource, failing, err)
			}
		default:
			failing = 0
			sample := Sample{At: at, Reading: r}
			tl.Samples = append(tl.Samples, sample)
			if r.Depth > tl.Peak {
				tl.Peak, tl.PeakAt = r.Depth, at
			}
			if s.OnSample != nil {
				s.OnSample(sample)
			}
			empty := r.Depth == 0 && (!s.WaitForPayments || r.InFlight <= 0)
			switch {
			case !empty || tl.LoadEnd < 0:
				emptyRun = 0
			case emptyRun == 0:
				emptyRun, emptySince = 1, at
			default:
				emptyRun++
			}
			if emptyRun >= empties {
				tl.Drained, tl.DrainedAt = true, emptySince
				return tl, nil
			}
		}
		select {
		case <-ctx.Done():
			return tl, fmt.Errorf("depth sampling stopped: %w", ctx.Err())
		case <-loadDone:
			tl.LoadEnd = time.Since(start)
			loadDone = nil // read at once, then every interval from now
			ticker.Reset(interval)
		case <-ticker.C:
		}
	}
}

func (s *Sampler) read(ctx context.Context) (Reading, error) {
	if r, ok := s.Source.(Reader); ok {
		reading, err := r.Read(ctx)
		if err != nil {
			return Reading{}, fmt.Errorf("read queue: %w", err)
		}
		return reading, nil
	}
	n, err := s.Source.Depth(ctx)
	if err != nil {
		return Reading{}, fmt.Errorf("read queue depth: %w", err)
	}
	return Reading{Depth: n, Processed: -1, InFlight: -1}, nil
}
