package loadgen

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WriteSummary prints the result as Locust's end-of-run tables: requests,
// failures, avg/min/max/median and rates; the percentiles; the failures by
// reason. Times are in milliseconds.
func (r *Result) WriteSummary(w io.Writer) error {
	st := r.Stats
	b := &strings.Builder{}
	switch {
	case r.MaxWorkers > 0:
		fmt.Fprintf(b, "%s: open model at maximum rate, %d requests in flight, sent %s req/s, throughput %s req/s, timeout %v, %v\n",
			r.URL, r.MaxWorkers, fmtFloat(r.SentRate, 2), fmtFloat(r.Throughput, 2), r.Timeout, r.Elapsed.Round(time.Millisecond))
	case r.Closed():
		fmt.Fprintf(b, "%s: closed model, %d users (spawn %s/s), think %v-%v, timeout %v, %v\n", r.URL, r.Users,
			rateText(r.SpawnRate), r.ThinkMin, r.ThinkMax, r.Timeout, r.Elapsed.Round(time.Millisecond))
	default:
		fmt.Fprintf(b, "%s: open model, target %s req/s, sent %s req/s, throughput %s req/s, max send lag %v, timeout %v, %v\n",
			r.URL, fmtFloat(r.TargetRate, 2), fmtFloat(r.SentRate, 2), fmtFloat(r.Throughput, 2),
			r.MaxLag.Round(time.Microsecond), r.Timeout, r.Elapsed.Round(time.Millisecond))
	}
	method, path, _ := strings.Cut(r.Name, " ")
	sep := "--------|----------------------|-------|-------------|--------|--------|--------|--------|--------|-----------\n"
	fmt.Fprintf(b, "%-8s %-22s %7s %13s | %6s %8s %8s %8s | %7s %11s\n", "Type", "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s")
	b.WriteString(sep)
	line := func(typ, name string) {
		fails := fmt.Sprintf("%d(%.2f%%)", st.Failures, 100*st.FailureShare())
		fmt.Fprintf(b, "%-8s %-22s %7d %13s | %6s %8s %8s %8s | %7.2f %11.2f\n", typ, name, st.Requests, fails,
			ms(st.Avg), ms(st.Min), ms(st.Max), ms(st.Median), st.RPS, st.FailuresPerSecond)
	}
	line(method, path)
	b.WriteString(sep)
	line("", "Aggregated")

	fmt.Fprintf(b, "\nResponse time percentiles (ms, nearest rank over every request)\n")
	fmt.Fprintf(b, "%-8s %-22s", "Type", "Name")
	for _, p := range LocustPercentiles {
		fmt.Fprintf(b, " %7s", strconv.FormatFloat(p, 'f', -1, 64)+"%")
	}
	fmt.Fprintf(b, " %7s\n", "# reqs")
	pline := func(typ, name string) {
		fmt.Fprintf(b, "%-8s %-22s", typ, name)
		for _, v := range st.Percentiles {
			fmt.Fprintf(b, " %7s", ms(v))
		}
		fmt.Fprintf(b, " %7d\n", st.Requests)
	}
	pline(method, path)
	pline("", "Aggregated")

	fmt.Fprintf(b, "\nrequests %d, failures %d (%.1f%%), %.2f req/s, avg %s ms, min %s, median %s, p90 %s, p95 %s, p99 %s, max %s ms\n",
		st.Requests, st.Failures, 100*st.FailureShare(), st.RPS, ms(st.Avg), ms(st.Min), ms(st.Median),
		ms(st.P90), ms(st.P95), ms(st.P99), ms(st.Max))
	if r.Unfinished > 0 {
		fmt.Fprintf(b, "unfinished when the run ended (not counted, as in Locust): %d\n", r.Unfinished)
	}
	if len(st.Reasons) > 0 {
		fmt.Fprintf(b, "\nError report\n%-18s %s\n", "# occurrences", "Error")
		b.WriteString(strings.Repeat("-", 72) + "\n")
		for _, rc := range sortedReasons(st.Reasons) {
			fmt.Fprintf(b, "%-18d %s: %s\n", rc.count, r.Name, rc.reason)
		}
	}
	if c := r.Confirmation; c != nil {
		c.writeSummary(b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeSummary prints the confirmation section of the summary.
func (c *Confirmation) writeSummary(b *strings.Builder) {
	fmt.Fprintf(b, "\nConfirmation (GET /orders/{id} every %v, at most %d in flight; not in the request statistics above)\n",
		c.Interval, c.Concurrency)
	fmt.Fprintf(b, "followed %d of %d accepted orders (share %s)", c.Followed, c.Accepted, strconv.FormatFloat(c.Share, 'f', -1, 64))
	if c.Unreadable > 0 {
		fmt.Fprintf(b, ", %d more without a readable order_id in the 202", c.Unreadable)
	}
	fmt.Fprintf(b, "; finished %d (completed %d, failed %d), unfinished %d", c.Finished(), c.Completed, c.Failed, c.Unfinished)
	if c.Unfinished > 0 {
		fmt.Fprintf(b, " (%s)", countsText(c.UnfinishedBy))
	}
	b.WriteString("\n")
	if len(c.Times) > 0 {
		fmt.Fprintf(b, "202 to completed or failed, as polling saw it (ms, nearest rank over %d orders, resolution %v): avg %s, min %s, median %s, p95 %s, p99 %s, max %s\n",
			len(c.Times), c.Interval, ms(c.Avg), ms(c.Min), ms(c.Median), ms(c.P95), ms(c.P99), ms(c.Max))
	}
	if sv := c.Server; len(sv.Times) > 0 {
		fmt.Fprintf(b, "as the server recorded it, created_at to paid_at (updated_at if failed) (ms, %d orders, no poll in it): avg %s, min %s, median %s, p95 %s, p99 %s, max %s\n",
			len(sv.Times), ms(sv.Avg), ms(sv.Min), ms(sv.Median), ms(sv.P95), ms(sv.P99), ms(sv.Max))
	}
	fmt.Fprintf(b, "polls %d", c.Polls)
	if n := countSum(c.PollErrors); n > 0 {
		fmt.Fprintf(b, ", %d failed (%s; the order was polled again)", n, countsText(c.PollErrors))
	}
	if c.Polls > 0 {
		fmt.Fprintf(b, ", largest gap between two polls of one order %s ms", ms(c.MaxPollGap))
		if c.MaxPollGap > 2*c.Interval {
			b.WriteString(" (the polls fell behind: some times are late by up to that gap)")
		}
	}
	fmt.Fprintf(b, "; followed for %v after the load ended", c.After.Round(time.Millisecond))
	switch {
	case c.Interrupted:
		b.WriteString(" (interrupted)")
	case c.TimedOut:
		fmt.Fprintf(b, " (stopped at the %v cap)", c.Timeout)
	}
	b.WriteString("\n")
}

// countsText prints counts by reason, most frequent first: "pending 2,
// HTTP 404 Not Found 1".
func countsText(m map[string]int) string {
	var parts []string
	for _, rc := range sortedReasons(m) {
		parts = append(parts, fmt.Sprintf("%s %d", rc.reason, rc.count))
	}
	return strings.Join(parts, ", ")
}

func countSum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

type reasonCount struct {
	reason string
	count  int
}

// sortedReasons orders failure reasons by count, then name.
func sortedReasons(m map[string]int) []reasonCount {
	out := make([]reasonCount, 0, len(m))
	for k, v := range m {
		out = append(out, reasonCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].count != out[j].count {
			return out[i].count > out[j].count
		}
		return out[i].reason < out[j].reason
	})
	return out
}

// WriteCSV writes Locust's CSV files: PREFIX_stats.csv (one row for the
// endpoint, one Aggregated), PREFIX_stats_history.csv (one Aggregated row
// per second) and PREFIX_failures.csv; with followed orders, also
// PREFIX_confirmations.csv (one row per followed order). Times are in
// milliseconds, with two decimals since local latencies are often below
// one.
func (r *Result) WriteCSV(prefix string) error {
	files := []struct {
		suffix string
		write  func(*csv.Writer)
	}{
		{"_stats.csv", r.writeStatsCSV},
		{"_stats_history.csv", r.writeHistoryCSV},
		{"_failures.csv", r.writeFailuresCSV},
	}
	if r.Confirmation != nil {
		files = append(files, struct {
			suffix string
			write  func(*csv.Writer)
		}{"_confirmations.csv", r.Confirmation.writeCSV})
	}
	for _, f := range files {
		if err := writeCSVFile(prefix+f.suffix, f.write); err != nil {
			return err
		}
	}
	return nil
}

func writeCSVFile(name string, write func(*csv.Writer)) (err error) {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("write csv %s: %w", name, cerr)
		}
	}()
	w := csv.NewWriter(f)
	write(w)
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write csv %s: %w", name, err)
	}
	return nil
}

func percentileHeader() []string {
	out := make([]string, len(LocustPercentiles))
	for i, p := range LocustPercentiles {
		out[i] = strconv.FormatFloat(p, 'f', -1, 64) + "%"
	}
	return out
}

func (r *Result) writeStatsCSV(w *csv.Writer) {
	st := r.Stats
	w.Write(append([]string{"Type", "Name", "Request Count", "Failure Count", "Median Response Time",
		"Average Response Time", "Min Response Time", "Max Response Time", "Average Content Size",
		"Requests/s", "Failures/s"}, percentileHeader()...))
	method, path, _ := strings.Cut(r.Name, " ")
	row := func(typ, name string) {
		rec := []string{typ, name, strconv.Itoa(st.Requests), strconv.Itoa(st.Failures), msCSV(st.Median),
			msCSV(st.Avg), msCSV(st.Min), msCSV(st.Max), fmtFloat(st.AvgBytes, 2),
			fmtFloat(st.RPS, 6), fmtFloat(st.FailuresPerSecond, 6)}
		for _, v := range st.Percentiles {
			rec = append(rec, msCSV(v))
		}
		w.Write(rec)
	}
	row(method, path)
	row("", "Aggregated")
}

func (r *Result) writeHistoryCSV(w *csv.Writer) {
	w.Write(append(append([]string{"Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s"},
		percentileHeader()...), "Total Request Count", "Total Failure Count", "Total Median Response Time",
		"Total Average Response Time", "Total Min Response Time", "Total Max Response Time",
		"Total Average Content Size"))
	for _, s := range r.History {
		rec := []string{strconv.FormatInt(r.Started.Add(s.At).Unix(), 10), strconv.Itoa(s.Users), "", "Aggregated",
			strconv.Itoa(s.Requests), strconv.Itoa(s.Failures)}
		for i := range LocustPercentiles {
			if s.Percentiles == nil {
				rec = append(rec, "N/A")
				continue
			}
			rec = append(rec, msCSV(s.Percentiles[i]))
		}
		rec = append(rec, strconv.Itoa(s.TotalRequests), strconv.Itoa(s.TotalFailures), msCSV(s.TotalMedian),
			msCSV(s.TotalAvg), msCSV(s.TotalMin), msCSV(s.TotalMax), fmtFloat(s.TotalAvgBytes, 2))
		w.Write(rec)
	}
}

func (r *Result) writeFailuresCSV(w *csv.Writer) {
	w.Write([]string{"Method", "Name", "Error", "Occurrences"})
	method, path, _ := strings.Cut(r.Name, " ")
	for _, rc := range sortedReasons(r.Stats.Reasons) {
		w.Write([]string{method, path, rc.reason, strconv.Itoa(rc.count)})
	}
}

// writeCSV writes one row per followed order: its order_id, when its 202
// arrived (ms from the start of the run), the last state seen, and, once
// finished, the time from the 202 to the poll that saw it and the time the
// server recorded (ms).
func (c *Confirmation) writeCSV(w *csv.Writer) {
	w.Write([]string{"Order ID", "Accepted At", "Status", "Finished", "Confirmation Time", "Server Time", "Polls"})
	for _, o := range c.Orders {
		t, st := "", ""
		if o.Finished {
			t = msCSV(o.Time)
		}
		if o.HasServerTime {
			st = msCSV(o.ServerTime)
		}
		w.Write([]string{o.ID, msCSV(o.Accepted), o.Status, strconv.FormatBool(o.Finished), t, st, strconv.Itoa(o.Polls)})
	}
}

// MarshalJSON encodes the result for machines: times in milliseconds,
// rates per second, the per-second history; not the samples.
func (r *Result) MarshalJSON() ([]byte, error) {
	type statsJSON struct {
		Requests    int                `json:"requests"`
		Failures    int                `json:"failures"`
		FailureRate float64            `json:"failure_share"`
		Reasons     map[string]int     `json:"failures_by_reason"`
		RPS         float64            `json:"rps"`
		FailuresPS  float64            `json:"failures_per_s"`
		AvgMS       float64            `json:"avg_ms"`
		MinMS       float64            `json:"min_ms"`
		MedianMS    float64            `json:"median_ms"`
		P90MS       float64            `json:"p90_ms"`
		P95MS       float64            `json:"p95_ms"`
		P99MS       float64            `json:"p99_ms"`
		MaxMS       float64            `json:"max_ms"`
		Percentiles map[string]float64 `json:"percentiles_ms"`
		AvgBytes    float64            `json:"avg_content_size"`
	}
	type secondJSON struct {
		At            float64            `json:"t_s"`
		Users         int                `json:"users"`
		Requests      int                `json:"requests"`
		Failures      int                `json:"failures"`
		Percentiles   map[string]float64 `json:"percentiles_ms,omitempty"`
		TotalRequests int                `json:"total_requests"`
		TotalFailures int                `json:"total_failures"`
		TotalMedianMS float64            `json:"total_median_ms"`
		TotalAvgMS    float64            `json:"total_avg_ms"`
	}
	pcts := func(v []time.Duration) map[string]float64 {
		if v == nil {
			return nil
		}
		m := make(map[string]float64, len(v))
		for i, p := range LocustPercentiles {
			m[strconv.FormatFloat(p, 'f', -1, 64)] = msf(v[i])
		}
		return m
	}
	type distJSON struct {
		Orders   int     `json:"orders"`
		AvgMS    float64 `json:"avg_ms"`
		MinMS    float64 `json:"min_ms"`
		MedianMS float64 `json:"median_ms"`
		P95MS    float64 `json:"p95_ms"`
		P99MS    float64 `json:"p99_ms"`
		MaxMS    float64 `json:"max_ms"`
	}
	type confirmationJSON struct {
		Share        float64        `json:"share"`
		IntervalMS   float64        `json:"interval_ms"`
		Concurrency  int            `json:"concurrency"`
		TimeoutS     float64        `json:"timeout_s"`
		Accepted     int            `json:"accepted"`
		Followed     int            `json:"followed"`
		Unreadable   int            `json:"unreadable"`
		Finished     int            `json:"finished"`
		Completed    int            `json:"completed"`
		Failed       int            `json:"failed"`
		Unfinished   int            `json:"unfinished"`
		UnfinishedBy map[string]int `json:"unfinished_by"`
		Polls        int            `json:"polls"`
		PollErrors   map[string]int `json:"poll_errors"`
		MaxPollGapMS float64        `json:"max_poll_gap_ms"`
		AfterS       float64        `json:"after_load_s"`
		TimedOut     bool           `json:"timed_out"`
		Interrupted  bool           `json:"interrupted"`
		AvgMS        float64        `json:"avg_ms"`
		MinMS        float64        `json:"min_ms"`
		MedianMS     float64        `json:"median_ms"`
		P95MS        float64        `json:"p95_ms"`
		P99MS        float64        `json:"p99_ms"`
		MaxMS        float64        `json:"max_ms"`
		Server       distJSON       `json:"server"`
	}
	dist := func(d Distribution) distJSON {
		return distJSON{Orders: len(d.Times), AvgMS: msf(d.Avg), MinMS: msf(d.Min), MedianMS: msf(d.Median),
			P95MS: msf(d.P95), P99MS: msf(d.P99), MaxMS: msf(d.Max)}
	}
	var conf *confirmationJSON
	if c := r.Confirmation; c != nil {
		conf = &confirmationJSON{
			Share: c.Share, IntervalMS: msf(c.Interval), Concurrency: c.Concurrency, TimeoutS: c.Timeout.Seconds(),
			Accepted: c.Accepted, Followed: c.Followed, Unreadable: c.Unreadable, Finished: c.Finished(),
			Completed: c.Completed, Failed: c.Failed, Unfinished: c.Unfinished, UnfinishedBy: c.UnfinishedBy,
			Polls: c.Polls, PollErrors: c.PollErrors, MaxPollGapMS: msf(c.MaxPollGap), AfterS: c.After.Seconds(),
			TimedOut: c.TimedOut, Interrupted: c.Interrupted, AvgMS: msf(c.Avg), MinMS: msf(c.Min),
			MedianMS: msf(c.Median), P95MS: msf(c.P95), P99MS: msf(c.P99), MaxMS: msf(c.Max), Server: dist(c.Server),
		}
		if c.Timeout < 0 {
			conf.TimeoutS = -1
		}
	}
	st := r.Stats
	out := struct {
		Name       string       `json:"name"`
		Model      string       `json:"model"`
		Scenario   Scenario     `json:"scenario"`
		URL        string       `json:"url"`
		Started    time.Time    `json:"started"`
		ElapsedS   float64      `json:"elapsed_s"`
		Users      int          `json:"users,omitempty"`
		SpawnRate  float64      `json:"spawn_rate,omitempty"`
		TargetRate float64      `json:"target_rate,omitempty"`
		SentRate   float64      `json:"sent_rate,omitempty"`
		Throughput float64      `json:"throughput,omitempty"`
		MaxWorkers int          `json:"max_workers,omitempty"`
		MaxLagMS   float64      `json:"max_lag_ms"`
		Unfinished int          `json:"unfinished"`
		Stats      statsJSON    `json:"stats"`
		History    []secondJSON `json:"history"`
		// Confirmation is omitted when no order was followed.
		Confirmation *confirmationJSON `json:"confirmation,omitempty"`
	}{
		Name: r.Name, Model: r.Model, Scenario: r.Scenario, URL: r.URL, Started: r.Started.UTC(),
		ElapsedS: r.Elapsed.Seconds(), Users: r.Users, SpawnRate: r.SpawnRate, TargetRate: r.TargetRate,
		SentRate: r.SentRate, Throughput: r.Throughput, MaxWorkers: r.MaxWorkers, MaxLagMS: msf(r.MaxLag), Unfinished: r.Unfinished,
		Stats: statsJSON{
			Requests: st.Requests, Failures: st.Failures, FailureRate: st.FailureShare(), Reasons: st.Reasons,
			RPS: st.RPS, FailuresPS: st.FailuresPerSecond, AvgMS: msf(st.Avg), MinMS: msf(st.Min),
			MedianMS: msf(st.Median), P90MS: msf(st.P90), P95MS: msf(st.P95), P99MS: msf(st.P99),
			MaxMS: msf(st.Max), Percentiles: pcts(st.Percentiles), AvgBytes: st.AvgBytes,
		},
		History:      []secondJSON{},
		Confirmation: conf,
	}
	for _, s := range r.History {
		out.History = append(out.History, secondJSON{
			At: s.At.Seconds(), Users: s.Users, Requests: s.Requests, Failures: s.Failures,
			Percentiles: pcts(s.Percentiles), TotalRequests: s.TotalRequests, TotalFailures: s.TotalFailures,
			TotalMedianMS: msf(s.TotalMedian), TotalAvgMS: msf(s.TotalAvg),
		})
	}
	return json.Marshal(out)
}

// msf is d in milliseconds.
func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ms prints d in milliseconds: integers from 100 ms, with decimals below.
func ms(d time.Duration) string {
	v := msf(d)
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func msCSV(d time.Duration) string { return strconv.FormatFloat(msf(d), 'f', 2, 64) }

func fmtFloat(x float64, decimals int) string { return strconv.FormatFloat(x, 'f', decimals, 64) }

func rateText(r float64) string {
	if r <= 0 {
		return "all"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// ProgressPrinter prints Progress snapshots to a writer: on a terminal, one
// line rewritten in place with a carriage return; elsewhere, one line per
// snapshot (set a longer ProgressInterval there, such as 5 s).
type ProgressPrinter struct {
	w        io.Writer
	terminal bool
	mu       sync.Mutex
	width    int
	err      error
}

// NewProgressPrinter returns a printer writing to w; terminal selects the
// in-place line.
func NewProgressPrinter(w io.Writer, terminal bool) *ProgressPrinter {
	return &ProgressPrinter{w: w, terminal: terminal}
}

// Print prints one snapshot; use it as Config.Progress.
func (p *ProgressPrinter) Print(pr Progress) {
	line := ProgressLine(pr)
	p.mu.Lock()
	defer p.mu.Unlock()
	var err error
	if p.terminal {
		pad := ""
		if n := p.width - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		p.width = len(line)
		end := ""
		if pr.Final {
			end = "\n"
		}
		_, err = fmt.Fprintf(p.w, "\r%s%s%s", line, pad, end)
	} else {
		_, err = fmt.Fprintln(p.w, line)
	}
	if err != nil && p.err == nil {
		p.err = err
	}
}

// Err is the first write error, if any.
func (p *ProgressPrinter) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return fmt.Errorf("progress: %w", p.err)
	}
	return nil
}

// ProgressLine formats a snapshot as one line.
func ProgressLine(p Progress) string {
	who := fmt.Sprintf("users %d", p.Users)
	if p.Model == "open" {
		who = fmt.Sprintf("in flight %d", p.InFlight)
	}
	share := 0.0
	if p.Requests > 0 {
		share = 100 * float64(p.Failures) / float64(p.Requests)
	}
	state := "running"
	if p.Final {
		state = "done"
	}
	return fmt.Sprintf("[%s %v/%v] %s | reqs %d | fails %d (%.1f%%) | %.1f req/s | p50 %s ms | p95 %s ms",
		state, p.Elapsed.Round(time.Second), p.Duration, who, p.Requests, p.Failures, share, p.CurrentRPS,
		ms(p.CurrentMedian), ms(p.CurrentP95))
}
