// Package lab runs the experiments of the flash-sale study against a running
// system: a phase is one load run (package loadgen) with, optionally, the
// queue depth sampled while it runs and after it until the queue is empty
// (package depth). The study's whole sequence of phases, and its report,
// build on RunPhase.
package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"flashsale/internal/depth"
	"flashsale/internal/loadgen"
)

// Phase is one load run with optional depth sampling.
type Phase struct {
	// Load is the load to run.
	Load loadgen.Config
	// Depth, when set, samples the queue from just before the load starts
	// until the queue reads empty after it. With Load.Follow, the orders
	// are followed at the same time: the phase ends when both are done.
	Depth *depth.Sampler
	// DrainTimeout bounds the wait for the queue to empty after the load;
	// zero waits until ctx ends. Running out of it is not an error: the
	// timeline then reports Drained false.
	DrainTimeout time.Duration
}

// PhaseResult is the outcome of a phase.
type PhaseResult struct {
	// Load is the load run's result.
	Load *loadgen.Result
	// Depth is the depth timeline; nil without sampling.
	Depth *depth.Timeline
}

// RunPhase runs p. When ctx ends early it returns what it has with an
// error wrapping ctx's; a failing depth source is an error too, returned
// with the load's result.
func RunPhase(ctx context.Context, p Phase) (*PhaseResult, error) {
	if p.Depth == nil {
		res, err := loadgen.Run(ctx, p.Load)
		return &PhaseResult{Load: res}, err
	}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	loadDone := make(chan struct{})
	type sampled struct {
		tl  *depth.Timeline
		err error
	}
	out := make(chan sampled, 1)
	go func() {
		tl, err := p.Depth.Run(sampleCtx, loadDone)
		out <- sampled{tl, err}
	}()

	// The drain is timed from the end of the load itself, not from the end
	// of a follow-up of its orders (Load.Follow), which Run waits for.
	var (
		endOnce    sync.Once
		drainTimer *time.Timer
	)
	loadEnded := func() {
		endOnce.Do(func() {
			close(loadDone)
			if p.DrainTimeout > 0 {
				drainTimer = time.AfterFunc(p.DrainTimeout, stopSampling)
			}
		})
	}
	load := p.Load
	if hook := load.LoadEnded; hook != nil {
		load.LoadEnded = func() { loadEnded(); hook() }
	} else {
		load.LoadEnded = loadEnded
	}
	res, loadErr := loadgen.Run(ctx, load)
	loadEnded() // when Run returned before the load started
	if drainTimer != nil {
		defer drainTimer.Stop()
	}
	if res == nil {
		stopSampling() // the load never ran: nothing to wait for
	}
	s := <-out
	result := &PhaseResult{Load: res, Depth: s.tl}
	if loadErr != nil {
		return result, fmt.Errorf("load phase: %w", loadErr)
	}
	if s.err != nil && ctx.Err() == nil && sampleCtx.Err() != nil {
		s.err = nil // the drain timeout ran out: not drained, not an error
	}
	if s.err != nil {
		return result, fmt.Errorf("depth sampling: %w", s.err)
	}
	return result, nil
}

// WriteSummary prints the load's summary and, if sampled, the depth's.
func (r *PhaseResult) WriteSummary(w io.Writer) error {
	if r.Load != nil {
		if err := r.Load.WriteSummary(w); err != nil {
			return err
		}
	}
	if r.Depth != nil {
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
		return r.Depth.WriteSummary(w)
	}
	return nil
}

// WriteCSV writes the load's CSV files under prefix (with
// PREFIX_confirmations.csv when orders were followed) and, if sampled, the
// depth timeline to PREFIX_depth.csv.
func (r *PhaseResult) WriteCSV(prefix string) error {
	if r.Load != nil {
		if err := r.Load.WriteCSV(prefix); err != nil {
			return err
		}
	}
	if r.Depth != nil {
		return r.Depth.WriteCSV(prefix + "_depth.csv")
	}
	return nil
}

// MarshalJSON encodes {"load": ..., "depth": ...}; depth is omitted
// without sampling.
func (r *PhaseResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Load  *loadgen.Result `json:"load"`
		Depth *depth.Timeline `json:"depth,omitempty"`
	}{r.Load, r.Depth})
}
