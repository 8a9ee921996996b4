package coldstart

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"flashsale/internal/textout"
)

// WriteText writes a as tables for people: one row per function and
// service, then one row per cold start, then what was read and skipped.
func WriteText(w io.Writer, a *Analysis) error {
	ew := &textout.ErrWriter{W: w}
	if len(a.Summaries) == 0 {
		fmt.Fprintln(ew, "No invocations or service starts found.")
	} else {
		writeSummaries(ew, a)
		fmt.Fprintln(ew)
		fmt.Fprintln(ew, "Starts (idle gap: time since the function's previous invocation ended; scale-out: another was running):")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKIND\tSTART\tREQUEST ID\tINIT ms\tDURATION ms\tIDLE GAP\tCAUSE")
		for _, s := range a.Summaries {
			for _, c := range s.Starts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Kind, timeText(c.Start), orDash(c.RequestID),
					msText(c.InitMs), msText(c.DurationMs), gapText(c.IdleGapMs), c.Cause)
			}
		}
		tw.Flush()
		fmt.Fprintln(ew)
		fmt.Fprintln(ew, "OVERHEAD: median of init / duration over cold starts (the study: 65-73 ms on 3,000 ms, ~2.2%).")
	}
	fmt.Fprintln(ew, inputText(a.Input))
	return ew.Err
}

// WriteTable writes a's per-function and per-service table only, then one
// line saying what was read: the live view of `coldstarts --follow`.
func WriteTable(w io.Writer, a *Analysis) error {
	ew := &textout.ErrWriter{W: w}
	if len(a.Summaries) == 0 {
		fmt.Fprintln(ew, "No invocations or service starts found yet.")
	} else {
		writeSummaries(ew, a)
	}
	fmt.Fprintln(ew, strings.SplitN(inputText(a.Input), "\n", 2)[0])
	return ew.Err
}

// writeSummaries writes one row per function and service.
func writeSummaries(w io.Writer, a *Analysis) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tINVOCATIONS\tCOLD STARTS\tCOLD %\tINIT ms min/p50/p90/p99/max\tAPP INIT p50\tDURATION p50 cold/warm\tOVERHEAD\tAFTER IDLE\tSCALE-OUT")
	for _, s := range a.Summaries {
		if s.Kind == KindService {
			fmt.Fprintf(tw, "%s\t%s\t-\t%d\t-\t%s\t%s\t-\t-\t-\t-\n",
				s.Name, s.Kind, s.ColdStarts, distText(s.Init), p50Text(s.AppInit))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f%%\t%s\t%s\t%s/%s\t%s\t%d\t%d\n",
			s.Name, s.Kind, s.Invocations, s.ColdStarts, s.ColdShare*100, distText(s.Init), p50Text(s.AppInit),
			msText(s.ColdDurationP50), msText(s.WarmDurationP50), pctText(s.OverheadPct), s.AfterIdle, s.ScaleOut)
	}
	tw.Flush()
}

// inputText says what was read and what was skipped.
func inputText(c Counts) string {
	var b strings.Builder
	b.WriteString("Read ")
	switch {
	case c.Lines > 0 && c.Events > 0:
		fmt.Fprintf(&b, "%s and %s", plural(c.Lines, "line"), plural(c.Events, "event"))
	case c.Events > 0:
		b.WriteString(plural(c.Events, "event"))
	default:
		b.WriteString(plural(c.Lines, "line"))
	}
	fmt.Fprintf(&b, ": %s, %s, %s; skipped %d other, %d malformed",
		plural(c.Reports, "report"), plural(c.Records, "cold-start record"), plural(c.ServiceStarts, "service start"), c.Other, c.Malformed)
	if c.Duplicates > 0 {
		fmt.Fprintf(&b, ", %s", plural(c.Duplicates, "duplicate report"))
	}
	if c.EMF > 0 {
		fmt.Fprintf(&b, "; %s", plural(c.EMF, "EMF record"))
	}
	if c.EmulatorInits > 0 {
		fmt.Fprintf(&b, "; init from %s", plural(c.EmulatorInits, "emulator INIT REPORT line"))
	}
	b.WriteString(".")
	for _, e := range c.Examples {
		b.WriteString("\n  malformed: " + e)
	}
	return b.String()
}

// plural says n things: "1 report", "2 reports".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// csvSummaryHeader is the header of WriteCSV's per-function rows.
var csvSummaryHeader = []string{
	"name", "kind", "invocations", "cold_starts", "cold_share",
	"init_count", "init_min_ms", "init_p50_ms", "init_p90_ms", "init_p99_ms", "init_max_ms",
	"app_init_p50_ms", "cold_duration_p50_ms", "warm_duration_p50_ms", "overhead_pct", "amortized_pct",
	"after_idle", "scale_out", "first", "unknown", "idle_gap_p50_ms", "idle_gap_max_ms",
}

// csvStartHeader is the header of WriteCSV's per-start rows.
var csvStartHeader = []string{"name", "kind", "start", "request_id", "stream", "init_ms", "duration_ms", "idle_gap_ms", "cause"}

// WriteCSV writes one row per function and service or, when starts is
// true, one row per cold start and service start. Unknown values are empty.
func WriteCSV(w io.Writer, a *Analysis, starts bool) error {
	cw := csv.NewWriter(w)
	if starts {
		cw.Write(csvStartHeader)
		for _, s := range a.Summaries {
			for _, c := range s.Starts {
				start := ""
				if !c.Start.IsZero() {
					start = c.Start.UTC().Format(time.RFC3339Nano)
				}
				cw.Write([]string{c.Name, c.Kind, start, c.RequestID, c.Stream,
					optNum(c.InitMs), optNum(c.DurationMs), optNum(c.IdleGapMs), c.Cause})
			}
		}
	} else {
		cw.Write(csvSummaryHeader)
		for _, s := range a.Summaries {
			row := []string{s.Name, s.Kind, strconv.Itoa(s.Invocations), strconv.Itoa(s.ColdStarts), num(s.ColdShare)}
			row = append(row, distCells(s.Init)...)
			row = append(row, optNum(p50(s.AppInit)), optNum(s.ColdDurationP50), optNum(s.WarmDurationP50),
				optNum(s.OverheadPct), optNum(s.AmortizedPct),
				strconv.Itoa(s.AfterIdle), strconv.Itoa(s.ScaleOut), strconv.Itoa(s.First), strconv.Itoa(s.Unknown))
			if s.IdleGap.Count > 0 {
				row = append(row, num(s.IdleGap.P50), num(s.IdleGap.Max))
			} else {
				row = append(row, "", "")
			}
			cw.Write(row)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

func distCells(d Dist) []string {
	if d.Count == 0 {
		return []string{"0", "", "", "", "", ""}
	}
	return []string{strconv.Itoa(d.Count), num(d.Min), num(d.P50), num(d.P90), num(d.P99), num(d.Max)}
}

func p50(d Dist) *float64 {
	if d.Count == 0 {
		return nil
	}
	return &d.P50
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func optNum(v *float64) string {
	if v == nil {
		return ""
	}
	return num(*v)
}

func distText(d Dist) string {
	if d.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f/%.2f/%.2f/%.2f/%.2f", d.Min, d.P50, d.P90, d.P99, d.Max)
}

func p50Text(d Dist) string {
	if d.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f ms", d.P50)
}

func msText(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *v)
}

func pctText(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", *v)
}

func gapText(v *float64) string {
	if v == nil {
		return "-"
	}
	d := time.Duration(*v * float64(time.Millisecond))
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
