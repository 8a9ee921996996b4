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
	_, err := io.WriteString(w, b.String())
	return err
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
// per second) and PREFIX_failures.csv. Times are in milliseconds, with two
// decimals since local latencies are often below one.
func (r *Result) WriteCSV(prefix string) error {
	files := []struct {
		suffix string
		write  func(*csv.Writer)
	}{
		{"_stats.csv", r.writeStatsCSV},
		{"_stats_history.csv", r.writeHistoryCSV},
		{"_failures.csv", r.writeFailuresCSV},
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
		History: []secondJSON{},
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
