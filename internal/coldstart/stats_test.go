package coldstart_test

import (
	"math"
	"reflect"
	"testing"
	"time"

	"flashsale/internal/coldstart"
)

func TestNewDist(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		want   coldstart.Dist
	}{
		{"none", nil, coldstart.Dist{}},
		{"one", []float64{7}, coldstart.Dist{Count: 1, Min: 7, P50: 7, P90: 7, P99: 7, Max: 7}},
		// Nearest rank: p50 of 4 is the 2nd, p90 and p99 the 4th.
		{"four, unsorted", []float64{40, 10, 30, 20}, coldstart.Dist{Count: 4, Min: 10, P50: 20, P90: 40, P99: 40, Max: 40}},
		// 1..10: p50 the 5th, p90 the 9th, p99 the 10th.
		{"ten", []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, coldstart.Dist{Count: 10, Min: 1, P50: 5, P90: 9, P99: 10, Max: 10}},
		// The study's init durations, 65-73 ms.
		{"study", []float64{65.3, 68.91, 72.4}, coldstart.Dist{Count: 3, Min: 65.3, P50: 68.91, P90: 72.4, P99: 72.4, Max: 72.4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.values...)
			if got := coldstart.NewDist(tt.values); got != tt.want {
				t.Errorf("NewDist(%v) = %+v, want %+v", tt.values, got, tt.want)
			}
			if !reflect.DeepEqual(in, tt.values) {
				t.Errorf("NewDist modified its input: %v", tt.values)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	s := make([]float64, 100)
	for i := range s {
		s[i] = float64(i + 1)
	}
	for p, want := range map[float64]float64{1: 1, 50: 50, 90: 90, 99: 99, 99.5: 100, 100: 100, 0.001: 1} {
		if got := coldstart.Percentile(s, p); got != want {
			t.Errorf("p%v of 1..100 = %v, want %v", p, got, want)
		}
	}
}

func near(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s unknown, want %v", what, want)
		return
	}
	if math.Abs(*got-want) > 1e-6 {
		t.Errorf("%s = %v, want %v", what, *got, want)
	}
}

// TestAnalyzeScenario checks the statistics of the testdata scenario
// against values computed by hand.
func TestAnalyzeScenario(t *testing.T) {
	d := parseFile(t, "aws-logs-tail.txt")
	d.Merge(parseFile(t, "worker.jsonl"))
	a := coldstart.Analyze(d)
	if len(a.Summaries) != 2 {
		t.Fatalf("%d summaries, want the function and the worker", len(a.Summaries))
	}
	s := a.Summaries[0]
	if s.Name != "flashsale-ProcessorFunction-AbC123" || s.Kind != coldstart.KindLambda {
		t.Fatalf("first summary %s (%s)", s.Name, s.Kind)
	}
	if s.Invocations != 6 || s.ColdStarts != 3 || s.ColdShare != 0.5 {
		t.Errorf("invocations %d, cold %d, share %v; want 6, 3, 0.5", s.Invocations, s.ColdStarts, s.ColdShare)
	}
	if want := (coldstart.Dist{Count: 3, Min: 65.30, P50: 68.91, P90: 72.40, P99: 72.40, Max: 72.40}); s.Init != want {
		t.Errorf("init %+v, want %+v", s.Init, want)
	}
	if want := (coldstart.Dist{Count: 3, Min: 11.8, P50: 12.3, P90: 13.1, P99: 13.1, Max: 13.1}); s.AppInit != want {
		t.Errorf("app init %+v, want %+v", s.AppInit, want)
	}
	// Cold durations 3003.12, 3004.60, 3003.30; warm 3001.50, 3002.00, 3000.90.
	near(t, "cold duration p50", s.ColdDurationP50, 3003.30)
	near(t, "warm duration p50", s.WarmDurationP50, 3001.50)
	// init/duration: 68.91/3003.12 = 2.2946%, 72.40/3004.60 = 2.4096%,
	// 65.30/3003.30 = 2.1743%: the median is the first, the study's ~2.2%.
	near(t, "overhead", s.OverheadPct, 68.91/3003.12*100)
	// All init over all durations: 206.61 / 18015.42.
	near(t, "amortized", s.AmortizedPct, 206.61/18015.42*100)
	if s.First != 1 || s.ScaleOut != 1 || s.AfterIdle != 1 || s.Unknown != 0 {
		t.Errorf("causes first %d, scale-out %d, idle %d, unknown %d; want 1, 1, 1, 0", s.First, s.ScaleOut, s.AfterIdle, s.Unknown)
	}
	// C started at 10:20:01.9314, 19m45.9314s after B's last invocation
	// ended at 10:00:16.
	gap := float64(19*time.Minute+45931400*time.Microsecond) / float64(time.Millisecond)
	if s.IdleGap.Count != 1 || math.Abs(s.IdleGap.P50-gap) > 1e-6 {
		t.Errorf("idle gap %+v, want one of %v ms", s.IdleGap, gap)
	}
	causes := []string{}
	for _, c := range s.Starts {
		causes = append(causes, c.Cause)
	}
	if !reflect.DeepEqual(causes, []string{coldstart.CauseFirst, coldstart.CauseScaleOut, coldstart.CauseIdle}) {
		t.Errorf("causes %v", causes)
	}
	if s.Starts[1].IdleGapMs == nil || *s.Starts[1].IdleGapMs != 0 || s.Starts[0].IdleGapMs != nil {
		t.Errorf("gaps: first %v, scale-out %v; want unknown and 0", s.Starts[0].IdleGapMs, s.Starts[1].IdleGapMs)
	}

	w := a.Summaries[1]
	if w.Name != "flashsale-worker" || w.Kind != coldstart.KindService || w.ColdStarts != 2 || w.Invocations != 0 {
		t.Errorf("worker summary %+v", w)
	}
	if want := (coldstart.Dist{Count: 2, Min: 38.2, P50: 38.2, P90: 41.7, P99: 41.7, Max: 41.7}); w.Init != want || w.AppInit != want {
		t.Errorf("worker init %+v, want %+v", w.Init, want)
	}
	if len(w.Starts) != 2 || w.Starts[0].Cause != coldstart.CauseStart || w.Starts[0].Start.After(w.Starts[1].Start) {
		t.Errorf("worker starts %+v", w.Starts)
	}
}

// TestAnalyzeCauses checks how cold starts are told apart, on invocations
// built by hand.
func TestAnalyzeCauses(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	inv := func(id string, startMs, durMs int, init float64) coldstart.Invocation {
		i := coldstart.Invocation{Function: "fn", RequestID: id, DurationMs: f(float64(durMs))}
		if startMs >= 0 {
			i.Start = t0.Add(time.Duration(startMs) * time.Millisecond)
			i.End = i.Start.Add(time.Duration(durMs)*time.Millisecond + time.Duration(init*float64(time.Millisecond)))
		}
		if init > 0 {
			i.Cold, i.InitMs = true, f(init)
		}
		return i
	}
	d := &coldstart.Dataset{Invocations: []coldstart.Invocation{
		inv("c4", 60_000, 100, 10), // after c3 ended at 5,110: idle for 54,890 ms
		inv("c1", 0, 3000, 50),     // first
		inv("w1", 3_100, 1000, 0),  // warm
		inv("c2", 3_200, 1000, 20), // w1 running: scale-out
		inv("c3", 5_000, 100, 10),  // c2 ended at 4,220: idle for 780 ms
		inv("u1", -1, 100, 5),      // no time: unknown
	}}
	s := coldstart.Analyze(d).Summaries[0]
	var got []string
	var gaps []any
	for _, c := range s.Starts {
		got = append(got, c.RequestID+":"+c.Cause)
		if c.IdleGapMs == nil {
			gaps = append(gaps, nil)
		} else {
			gaps = append(gaps, *c.IdleGapMs)
		}
	}
	want := []string{"c1:first", "c2:scale-out", "c3:idle", "c4:idle", "u1:unknown"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("starts %v, want %v", got, want)
	}
	if wantGaps := []any{nil, 0.0, 780.0, 54890.0, nil}; !reflect.DeepEqual(gaps, wantGaps) {
		t.Errorf("gaps %v, want %v", gaps, wantGaps)
	}
	if s.Invocations != 6 || s.ColdStarts != 5 || s.First != 1 || s.ScaleOut != 1 || s.AfterIdle != 2 || s.Unknown != 1 {
		t.Errorf("summary %+v", s)
	}
	if want := (coldstart.Dist{Count: 2, Min: 780, P50: 780, P90: 54890, P99: 54890, Max: 54890}); s.IdleGap != want {
		t.Errorf("idle gap %+v, want %+v", s.IdleGap, want)
	}
	// Overheads: 50/3000, 20/1000, 10/100, 10/100, 5/100 -> sorted
	// 1.667, 2, 5, 10, 10: the median is 5%.
	near(t, "overhead", s.OverheadPct, 5)
	near(t, "warm p50", s.WarmDurationP50, 1000)
}

func TestAnalyzeEmpty(t *testing.T) {
	a := coldstart.Analyze(&coldstart.Dataset{})
	if len(a.Summaries) != 0 {
		t.Errorf("summaries %+v", a.Summaries)
	}
	// Structured records only: no durations, so no overhead, but the cold
	// start and its init are known.
	a = coldstart.Analyze(&coldstart.Dataset{Invocations: []coldstart.Invocation{{Function: "p", Cold: true, AppInitMs: f(9)}, {Function: "p"}}})
	s := a.Summaries[0]
	if s.ColdStarts != 1 || s.Init.P50 != 9 || s.OverheadPct != nil || s.AmortizedPct != nil || s.WarmDurationP50 != nil || s.Unknown != 1 {
		t.Errorf("summary %+v", s)
	}
}
