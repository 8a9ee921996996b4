package lab

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"flashsale/internal/capacity"
	"flashsale/internal/loadgen"
)

// The study's reference figures (AWS, 3 s payment, one sync payment slot).
var (
	refClosed = map[string]reference{
		PhaseSyncNormal: {Requests: "9", Failures: "0%", RPS: "~0.4", Avg: "10.6 s"},
		PhaseSyncFlash:  {Failures: "69%", RPS: "~0.3"},
		PhaseAsyncFlash: {Failures: "0%", RPS: "~51", Median: "~90 ms"},
	}
	refWorkers = map[int]struct {
		Peak  string
		Clear string
	}{1: {"~3,000", "~2.6 h"}, 5: {"~2,900", "~30 min"}, 20: {"~2,500", "~8 min"}, 100: {"~40", "~2 min"}}
)

type reference struct{ Requests, Failures, RPS, Avg, Median string }

// Real-time figures of a closed phase.
func (c ClosedResult) rps() float64 { return c.Run.Load.Stats.RPS / c.Scale }
func (c ClosedResult) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.Scale)
}

// real is d, measured in the phase's scaled time, in real time.
func (w WorkerResult) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) * w.Scale)
}

// Confirmation is the follow-up of the phase's accepted orders, in scaled
// time (see real); nil when none was followed.
func (w WorkerResult) Confirmation() *loadgen.Confirmation {
	if w.Run == nil || w.Run.Load == nil {
		return nil
	}
	return w.Run.Load.Confirmation
}

// ProcessingRate is the measured payments per second of real time while
// the queue was not empty; ok is false when it could not be measured.
func (w WorkerResult) ProcessingRate() (float64, bool) {
	if w.Run.Depth == nil {
		return 0, false
	}
	r, ok := w.Run.Depth.ProcessingRate()
	return r / w.Scale, ok
}

// Peak is the largest depth read.
func (w WorkerResult) Peak() int {
	if w.Run.Depth == nil {
		return 0
	}
	return w.Run.Depth.Peak
}

// DrainTime is the measured time from the end of the burst to an empty
// queue, in real time; ok is false when the queue never drained.
func (w WorkerResult) DrainTime() (time.Duration, bool) {
	tl := w.Run.Depth
	if tl == nil || !tl.Drained {
		return 0, false
	}
	return time.Duration(float64(tl.TimeToDrain()) * w.Scale), true
}

// Check is one comparison of a measured figure with the model.
type Check struct {
	Name     string
	Measured float64
	Model    float64
	// Tolerance is the allowed |measured − model|.
	Tolerance float64
}

// OK reports whether the measured figure is within tolerance.
func (c Check) OK() bool { return math.Abs(c.Measured-c.Model) <= c.Tolerance }

// Checks compares the measured figures with the model: for every worker
// count, the processing rate within 10% of workers / payment delay, the
// peak depth within 15% (plus what arrives in two sampling intervals) of
// the model's at the measured arrival rate, the drain time within 15%
// plus two sampling intervals, and, when orders were followed, the median
// confirmation time (from the 202 to the poll that saw the payment)
// within 15% plus one poll interval and two sampling intervals; for the
// sync phases, the failure share within 15 points of the simulated one.
func (r *Results) Checks() []Check {
	var out []Check
	s := r.Study
	for _, w := range r.Workers {
		p := w.Plan
		if rate, ok := w.ProcessingRate(); ok {
			out = append(out, Check{fmt.Sprintf("workers=%d processing rate (orders/s)", w.Workers), rate, p.ProcessingRate, 0.10 * p.ProcessingRate})
		}
		slack := 2 * s.SampleInterval.Seconds() * w.ArrivalRate
		out = append(out, Check{fmt.Sprintf("workers=%d peak depth", w.Workers), float64(w.Peak()), p.PeakBacklog, 0.15*p.PeakBacklog + slack})
		if d, ok := w.DrainTime(); ok && p.PeakBacklog > 0 {
			out = append(out, Check{fmt.Sprintf("workers=%d drain after the burst (s)", w.Workers), d.Seconds(), p.DrainTime.Seconds(),
				0.15*p.DrainTime.Seconds() + 2*s.SampleInterval.Seconds()})
		}
		if c := w.Confirmation(); c != nil && len(c.Times) > 0 {
			model := p.ConfirmationTime(0.5).Seconds()
			out = append(out, Check{fmt.Sprintf("workers=%d confirmation p50 (s)", w.Workers), w.real(c.Median).Seconds(), model,
				0.15*model + w.FollowInterval.Seconds() + 2*s.SampleInterval.Seconds()})
		}
	}
	for _, c := range r.Closed {
		if c.Model != nil {
			out = append(out, Check{c.Name + " failure share", c.Run.Load.Stats.FailureShare(), c.Model.FailureShare, 0.15})
		}
	}
	return out
}

// WriteReport writes the report folder: REPORT.md, depth.png,
// confirmation.png (when orders were followed), latency.png and each
// phase's CSV files.
func (r *Results) WriteReport(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report folder: %w", err)
	}
	for _, c := range r.Closed {
		if err := c.Run.WriteCSV(filepath.Join(dir, c.Name)); err != nil {
			return err
		}
	}
	for _, w := range r.Workers {
		if err := w.Run.WriteCSV(filepath.Join(dir, fmt.Sprintf("workers-%d", w.Workers))); err != nil {
			return err
		}
	}
	var charts []string
	if len(r.Workers) > 0 {
		if err := r.depthChart(filepath.Join(dir, "depth.png")); err != nil {
			return err
		}
		charts = append(charts, "depth.png")
	}
	if r.hasConfirmations() {
		if err := r.confirmationChart(filepath.Join(dir, "confirmation.png")); err != nil {
			return err
		}
		charts = append(charts, "confirmation.png")
	}
	if len(r.Closed) > 0 {
		if err := r.latencyChart(filepath.Join(dir, "latency.png")); err != nil {
			return err
		}
		charts = append(charts, "latency.png")
	}
	f, err := os.Create(filepath.Join(dir, "REPORT.md"))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := r.writeMarkdown(f, charts); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// confirmationCells are the measured confirmation p50, p95 and max of the
// worker table, in real time.
func (w WorkerResult) confirmationCells() string {
	c := w.Confirmation()
	switch {
	case c == nil:
		return "not followed | |"
	case len(c.Times) == 0:
		return "none finished | |"
	}
	return fmt.Sprintf("%s | %s | %s", secs(w.real(c.Median)), secs(w.real(c.P95)), secs(w.real(c.Max)))
}

// writeConfirmation writes the section on the time from the 202 to the
// payment: what following the orders measured beside the fluid model.
func (r *Results) writeConfirmation(b *strings.Builder) {
	var followed []WorkerResult
	for _, w := range r.Workers {
		if w.Confirmation() != nil {
			followed = append(followed, w)
		}
	}
	if len(followed) == 0 {
		return
	}
	c0 := followed[0].Confirmation()
	fmt.Fprintf(b, "### Confirmation: from the 202 to the payment\n\n")
	fmt.Fprintf(b, "A share of %g of each burst's accepted orders (the first, then evenly spread) was followed with `GET /orders/{id}` "+
		"until it was completed or failed, on connections of its own with at most %d GETs in flight; those GETs are in none of the figures above. "+
		"Measured: the time from the 202 to the answer of the first poll that saw the order completed or failed, real time, nearest rank; "+
		"it is at most one poll gap late, so the poll interval of each phase (real time) is its resolution. "+
		"Model: the fluid model, first in first out: an order accepted t into the burst finds (λ − N/S)·t orders ahead, waits (ρ − 1)·t "+
		"and is paid S later, so the confirmation times spread evenly from S to S + the drain time; its mean is its median "+
		"(`capacity.Plan.ConfirmationTime`). Without a backlog (ρ ≤ 1) it predicts S for every order: it has no randomness.\n\n",
		c0.Share, c0.Concurrency)
	fmt.Fprintf(b, "Server-recorded: the same orders' `paid_at` (`updated_at` if failed) minus `created_at`, from the order store, "+
		"which no poll delays (millisecond resolution in scaled time).\n\n")
	fmt.Fprintf(b, "| workers | followed | completed | failed | unfinished | poll every | largest poll gap | polls | measured mean | p99 | model mean (= p50) | "+
		"server-recorded p50 | p95 | max | p50 measured / model |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, w := range followed {
		c := w.Confirmation()
		unfinished := strconv.Itoa(c.Unfinished)
		if c.Unfinished > 0 {
			unfinished += " (" + countsText(c.UnfinishedBy) + ")"
		}
		mean, p99, ratio := "-", "-", "-"
		model := w.Plan.ConfirmationTime(0.5)
		if len(c.Times) > 0 {
			mean, p99 = secs(w.real(c.Avg)), secs(w.real(c.P99))
			if model > 0 {
				ratio = fmt.Sprintf("%.2f", float64(w.real(c.Median))/float64(model))
			}
		}
		server := "- | - | -"
		if sv := c.Server; len(sv.Times) > 0 {
			server = fmt.Sprintf("%s | %s | %s", secs(w.real(sv.Median)), secs(w.real(sv.P95)), secs(w.real(sv.Max)))
		}
		fmt.Fprintf(b, "| %d | %d | %d | %d | %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", w.Workers, c.Followed, c.Completed, c.Failed,
			unfinished, secs(w.FollowInterval), secs(w.real(c.MaxPollGap)), c.Polls, mean, p99, secs(model), server, ratio)
	}
	fmt.Fprintf(b, "\n")
	notes := 0
	for _, w := range followed {
		c := w.Confirmation()
		if len(c.PollErrors) > 0 {
			fmt.Fprintf(b, "Failed polls of workers=%d (the order was polled again): %s.\n", w.Workers, countsText(c.PollErrors))
			notes++
		}
		if gap := w.real(c.MaxPollGap); gap > 2*w.FollowInterval {
			fmt.Fprintf(b, "The polls of workers=%d fell behind (a gap of %s for an interval of %s: the host or the server was saturated); "+
				"its measured times are late by up to that gap, the server-recorded ones are not.\n", w.Workers, secs(gap), secs(w.FollowInterval))
			notes++
		}
	}
	if notes > 0 {
		fmt.Fprintf(b, "\n")
	}
}

// countsText prints counts by name, most frequent first.
func countsText(m map[string]int) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func secs(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%.2f h", d.Hours())
	case d >= 2*time.Minute:
		return fmt.Sprintf("%.1f min", d.Minutes())
	case d >= time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

func (r *Results) writeMarkdown(w io.Writer, charts []string) error {
	s := r.Study
	b := &strings.Builder{}
	fmt.Fprintf(b, "# Flash-sale lab report\n\n")
	fmt.Fprintf(b, "Run %s, took %v on %s/%s with %d CPUs (%s). Time scale K = %g", r.Started.UTC().Format(time.RFC3339),
		r.Took.Round(time.Second), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), s.TimeScale)
	if s.runs(PhaseAsyncFlash) {
		fmt.Fprintf(b, " (async flash phase: %g)", s.AsyncTimeScale)
	}
	fmt.Fprintf(b, ".\n\nEach phase ran against a fresh `flashsale serve` (in process, 127.0.0.1) with the payment delay, "+
		"timeouts, think times, durations and sampling interval divided by its time scale and the rates multiplied by it; "+
		"every figure below is scaled back to real time (durations and latencies x K, rates / K). "+
		"The async flash phase has its own scale (1 by default): its latency is the host's, not a simulated delay. "+
		"Model: `internal/capacity` (fluid model for the queue, simulated Locust users for the sync path, mean of 10 seeds). "+
		"Study: the reference figures measured on AWS.\n\n")
	fmt.Fprintf(b, "Payment %v, timeout %v, think %v-%v, spawn %g users/s.\n\n", s.PaymentDelay, s.Timeout, s.ThinkMin, s.ThinkMax, s.SpawnRate)

	if len(r.Closed) > 0 {
		fmt.Fprintf(b, "## Sync vs async\n\n")
		fmt.Fprintf(b, "| phase | source | requests | failures | req/s | avg | median | p95 | p99 |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, c := range r.Closed {
			st := c.Run.Load.Stats
			label := fmt.Sprintf("%s (%d users, %v)", c.Name, c.Load.Users, c.Load.Duration)
			fmt.Fprintf(b, "| %s | measured | %d | %s | %.2f | %s | %s | %s | %s |\n", label, st.Requests, pct(st.FailureShare()),
				c.rps(), secs(c.real(st.Avg)), secs(c.real(st.Median)), secs(c.real(st.P95)), secs(c.real(st.P99)))
			switch {
			case c.Model != nil:
				fmt.Fprintf(b, "| | model (this server: abandons late requests) | %.1f | %s | %.2f | %s | | | |\n",
					c.Model.Requests, pct(c.Model.FailureShare), c.Model.RPS, secs(c.Model.AvgResponse))
				fmt.Fprintf(b, "| | model (server keeps paying, as the study's) | %.1f | %s | %.2f | %s | | | |\n",
					c.ModelKeeping.Requests, pct(c.ModelKeeping.FailureShare), c.ModelKeeping.RPS, secs(c.ModelKeeping.AvgResponse))
			case c.Scenario == loadgen.ScenarioAsync:
				x := capacity.ClosedThroughput(c.Load.Users, c.real(st.Avg), (s.ThinkMin+s.ThinkMax)/2)
				fmt.Fprintf(b, "| | model (N / (R + Z) at the measured R) | | 0.0%% | %.2f | | | | |\n", x)
			}
			ref := refClosed[c.Name]
			fmt.Fprintf(b, "| | study | %s | %s | %s | %s | %s | | |\n", ref.Requests, ref.Failures, ref.RPS, ref.Avg, ref.Median)
		}
		fmt.Fprintf(b, "\n")
		for _, c := range r.Closed {
			if reasons := c.Run.Load.Stats.Reasons; len(reasons) > 0 {
				var parts []string
				for reason, n := range reasons {
					parts = append(parts, fmt.Sprintf("%s x %d", reason, n))
				}
				slices.Sort(parts)
				fmt.Fprintf(b, "Failures of %s: %s.\n", c.Name, strings.Join(parts, ", "))
			}
		}
		fmt.Fprintf(b, "\n")
	}

	if len(r.Workers) > 0 {
		fmt.Fprintf(b, "## Worker scaling\n\n%g orders/s for %v (open model), then the queue drains. The model runs at the measured "+
			"acceptance rate, over the measured arrival window when the load generator fell behind its schedule.\n\n", s.WorkerRate, s.WorkerBurst)
		fmt.Fprintf(b, "| workers | source | accepted/s | processing rate | peak depth | drained after the burst | cleared from the start | confirmation p50 | p95 | max |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, wr := range r.Workers {
			rate, okRate := wr.ProcessingRate()
			rateText := "n/a (no backlog)"
			if okRate {
				rateText = fmt.Sprintf("%.2f", rate)
			}
			drain, okDrain := wr.DrainTime()
			drainText, clearText := "not drained", "-"
			if okDrain {
				drainText, clearText = secs(drain), secs(wr.Burst+drain)
			}
			fmt.Fprintf(b, "| %d | measured | %.1f | %s | %d | %s | %s | %s |\n", wr.Workers, wr.ArrivalRate, rateText, wr.Peak(), drainText, clearText,
				wr.confirmationCells())
			p := wr.Plan
			fmt.Fprintf(b, "| | model | %.1f | %.2f | %.0f | %s | %s | %s | %s | %s |\n", p.Rate, p.ProcessingRate, p.PeakBacklog, secs(p.DrainTime), secs(p.ClearTime),
				secs(p.ConfirmationTime(0.5)), secs(p.ConfirmationTime(0.95)), secs(p.ConfirmationTime(1)))
			ref := refWorkers[wr.Workers]
			fmt.Fprintf(b, "| | study | ~51 | | %s | | %s | | | |\n", ref.Peak, ref.Clear)
		}
		if len(r.Workers) > 0 {
			p := r.Workers[0].Plan
			fmt.Fprintf(b, "\nReal time at %.1f orders/s needs %d workers (utilization below 1), or %.0f concurrent Lambda executions by Little's law.\n\n",
				p.Rate, p.WorkersForRealTime, p.LambdaConcurrency)
		}
		r.writeConfirmation(b)
	}

	if checks := r.Checks(); len(checks) > 0 {
		fmt.Fprintf(b, "## Measured against the model\n\n| check | measured | model | tolerance | |\n|---|---:|---:|---:|---|\n")
		for _, c := range checks {
			verdict := "ok"
			if !c.OK() {
				verdict = "**off**"
			}
			fmt.Fprintf(b, "| %s | %.3f | %.3f | ±%.3f | %s |\n", c.Name, c.Measured, c.Model, c.Tolerance, verdict)
		}
		fmt.Fprintf(b, "\n")
	}
	for _, c := range charts {
		fmt.Fprintf(b, "![%s](%s)\n\n", strings.TrimSuffix(c, ".png"), c)
	}
	fmt.Fprintf(b, "Raw data: `<phase>_stats.csv`, `<phase>_stats_history.csv`, `<phase>_failures.csv` and, for the worker phases, `workers-N_depth.csv` "+
		"and `workers-N_confirmations.csv` (one row per followed order) (all in scaled time).\n")
	_, err := io.WriteString(w, b.String())
	return err
}
