package coldstart

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Kinds of Summary.
const (
	// KindLambda is a Lambda function: one start per execution environment.
	KindLambda = "lambda"
	// KindService is a long-running service: one start per deployment or
	// scale-out.
	KindService = "service"
)

// Causes of a cold start.
const (
	// CauseFirst is the first invocation in the log: what came before is
	// unknown.
	CauseFirst = "first"
	// CauseIdle is a cold start while no other invocation of the function
	// was running: the function had been idle for the idle gap.
	CauseIdle = "idle"
	// CauseScaleOut is a cold start while another invocation of the
	// function was running: Lambda added an execution environment.
	CauseScaleOut = "scale-out"
	// CauseUnknown is a cold start whose log carries no time.
	CauseUnknown = "unknown"
	// CauseStart is a service start.
	CauseStart = "start"
)

// Dist summarises a set of values (milliseconds). Percentiles are
// nearest-rank: the p-th is the smallest value with at least p% of the
// values at or below it. A Dist of no values has Count 0 and zeros.
type Dist struct {
	Count int     `json:"count"` // how many values
	Min   float64 `json:"min"`   // the smallest
	P50   float64 `json:"p50"`   // the median
	P90   float64 `json:"p90"`   // the 90th percentile
	P99   float64 `json:"p99"`   // the 99th percentile
	Max   float64 `json:"max"`   // the largest
}

// NewDist summarises values; it does not modify them.
func NewDist(values []float64) Dist {
	if len(values) == 0 {
		return Dist{}
	}
	s := slices.Clone(values)
	slices.Sort(s)
	return Dist{
		Count: len(s), Min: s[0], Max: s[len(s)-1],
		P50: Percentile(s, 50), P90: Percentile(s, 90), P99: Percentile(s, 99),
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, which must be sorted ascending and not empty.
func Percentile(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// ColdStart is one cold start (or service start) and what preceded it.
type ColdStart struct {
	Name      string    `json:"name"`                 // the function or service
	Kind      string    `json:"kind"`                 // KindLambda or KindService
	RequestID string    `json:"request_id,omitempty"` // the invocation's request id
	Stream    string    `json:"stream,omitempty"`     // the log stream, when known
	Start     time.Time `json:"start,omitzero"`       // when it started, when known
	// InitMs is the initialisation: the platform's Init Duration when
	// known, else what the code logged.
	InitMs     *float64 `json:"init_ms,omitempty"`
	DurationMs *float64 `json:"duration_ms,omitempty"` // the invocation's duration
	// IdleGapMs is the time from the end of the function's latest earlier
	// invocation to this start: how long it had been idle. It is 0 for a
	// scale-out and nil when unknown.
	IdleGapMs *float64 `json:"idle_gap_ms,omitempty"`
	// Cause is CauseFirst, CauseIdle, CauseScaleOut, CauseUnknown or
	// CauseStart.
	Cause string `json:"cause"`
}

// Summary is what the log says about one function or service.
type Summary struct {
	Name string `json:"name"` // the function or service
	// Kind is KindLambda or KindService.
	Kind string `json:"kind"`
	// Invocations counts a function's invocations (0 for a service).
	Invocations int `json:"invocations"`
	// ColdStarts counts a function's cold starts, or a service's starts.
	ColdStarts int `json:"cold_starts"`
	// ColdShare is ColdStarts / Invocations (0 for a service).
	ColdShare float64 `json:"cold_share"`
	// Init summarises the initialisations of the cold starts: the
	// platform's Init Duration where known, else what the code logged.
	Init Dist `json:"init_ms"`
	// AppInit summarises the init_ms the code logged (process start to
	// first invocation, or to ready for a service): the measure the
	// function and the service have in common.
	AppInit Dist `json:"app_init_ms"`
	// ColdDurationP50 and WarmDurationP50 are the median durations of the
	// cold and of the warm invocations (initialisation excluded).
	ColdDurationP50 *float64 `json:"cold_duration_p50_ms,omitempty"`
	WarmDurationP50 *float64 `json:"warm_duration_p50_ms,omitempty"` // see ColdDurationP50
	// OverheadPct is the median, over cold starts, of the initialisation as
	// a share of the invocation it delayed (the study: 65-73 ms on 3,000 ms,
	// about 2.2%).
	OverheadPct *float64 `json:"overhead_pct,omitempty"`
	// AmortizedPct is all initialisation as a share of all invocation time:
	// what cold starts cost on average.
	AmortizedPct *float64 `json:"amortized_pct,omitempty"`
	// AfterIdle, ScaleOut, First and Unknown count the cold starts by cause.
	AfterIdle int `json:"after_idle"`
	ScaleOut  int `json:"scale_out"` // see AfterIdle
	First     int `json:"first"`     // see AfterIdle
	Unknown   int `json:"unknown"`   // see AfterIdle
	// IdleGap summarises the idle gaps of the cold starts after idle.
	IdleGap Dist `json:"idle_gap_ms"`
	// Starts lists every cold start (or service start) in time order.
	Starts []ColdStart `json:"starts"`
}

// Analysis is the result of Analyze: one Summary per function, then one per
// service, and the counts of what was read.
type Analysis struct {
	Summaries []Summary `json:"summaries"` // functions by name, then services by name
	Input     Counts    `json:"input"`     // what was read and skipped
}

// Analyze summarises d per function and per service.
func Analyze(d *Dataset) *Analysis {
	a := &Analysis{Input: d.Counts}
	byFn := map[string][]Invocation{}
	for _, inv := range d.Invocations {
		byFn[inv.Function] = append(byFn[inv.Function], inv)
	}
	for _, name := range sortedKeys(byFn) {
		a.Summaries = append(a.Summaries, summarizeFunction(name, byFn[name]))
	}
	bySvc := map[string][]ServiceStart{}
	for _, s := range d.ServiceStarts {
		bySvc[s.Service] = append(bySvc[s.Service], s)
	}
	for _, name := range sortedKeys(bySvc) {
		a.Summaries = append(a.Summaries, summarizeService(name, bySvc[name]))
	}
	return a
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func summarizeFunction(name string, invs []Invocation) Summary {
	// Timed invocations in order of start; untimed ones after them.
	slices.SortStableFunc(invs, func(a, b Invocation) int {
		if a.Start.IsZero() != b.Start.IsZero() {
			if a.Start.IsZero() {
				return 1
			}
			return -1
		}
		return cmp.Or(a.Start.Compare(b.Start), a.End.Compare(b.End))
	})
	s := Summary{Name: name, Kind: KindLambda, Invocations: len(invs)}
	var inits, appInits, coldDur, warmDur, overheads, gaps []float64
	var initSum, durSum float64
	var lastEnd time.Time // latest end of the timed invocations so far
	for _, inv := range invs {
		if inv.AppInitMs != nil && inv.Cold {
			appInits = append(appInits, *inv.AppInitMs)
		}
		if inv.DurationMs != nil {
			durSum += *inv.DurationMs
			if inv.Cold {
				coldDur = append(coldDur, *inv.DurationMs)
			} else {
				warmDur = append(warmDur, *inv.DurationMs)
			}
		}
		if inv.Cold {
			cs := ColdStart{
				Name: name, Kind: KindLambda, RequestID: inv.RequestID, Stream: inv.Stream,
				Start: inv.Start, DurationMs: inv.DurationMs,
			}
			if init, ok := inv.Init(); ok {
				cs.InitMs = new(init)
				inits = append(inits, init)
				initSum += init
				if inv.DurationMs != nil && *inv.DurationMs >= minRatioDuration {
					overheads = append(overheads, init / *inv.DurationMs * 100)
				}
			}
			switch {
			case inv.Start.IsZero():
				cs.Cause = CauseUnknown
				s.Unknown++
			case lastEnd.IsZero():
				cs.Cause = CauseFirst
				s.First++
			case lastEnd.After(inv.Start):
				cs.Cause = CauseScaleOut
				cs.IdleGapMs = new(0.0)
				s.ScaleOut++
			default:
				gap := float64(inv.Start.Sub(lastEnd)) / float64(time.Millisecond)
				cs.Cause = CauseIdle
				cs.IdleGapMs = new(gap)
				gaps = append(gaps, gap)
				s.AfterIdle++
			}
			s.Starts = append(s.Starts, cs)
			s.ColdStarts++
		}
		if !inv.End.IsZero() && inv.End.After(lastEnd) {
			lastEnd = inv.End
		}
	}
	if s.Invocations > 0 {
		s.ColdShare = float64(s.ColdStarts) / float64(s.Invocations)
	}
	s.Init, s.AppInit, s.IdleGap = NewDist(inits), NewDist(appInits), NewDist(gaps)
	s.ColdDurationP50 = median(coldDur)
	s.WarmDurationP50 = median(warmDur)
	s.OverheadPct = median(overheads)
	if durSum >= minRatioDuration && len(inits) > 0 {
		s.AmortizedPct = new(initSum / durSum * 100)
	}
	return s
}

func summarizeService(name string, starts []ServiceStart) Summary {
	slices.SortStableFunc(starts, func(a, b ServiceStart) int { return a.Time.Compare(b.Time) })
	s := Summary{Name: name, Kind: KindService, ColdStarts: len(starts)}
	inits := make([]float64, 0, len(starts))
	for _, st := range starts {
		inits = append(inits, st.InitMs)
		s.Starts = append(s.Starts, ColdStart{
			Name: name, Kind: KindService, Stream: st.Stream, Start: st.Time,
			InitMs: new(st.InitMs), Cause: CauseStart,
		})
	}
	s.Init = NewDist(inits)
	s.AppInit = s.Init
	return s
}

// minRatioDuration is the shortest duration that init is divided by: the
// resolution of a REPORT line.
const minRatioDuration = 0.01

func median(values []float64) *float64 {
	if len(values) == 0 {
		return nil
	}
	return new(NewDist(values).P50)
}
