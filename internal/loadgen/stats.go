package loadgen

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Sample is one request of a load run.
type Sample struct {
	// Start is when the request was due, from the start of the run: when a
	// user sent it (closed model) or when the schedule said it should be
	// sent (open model).
	Start time.Duration
	// Latency is from Start to the end of the response (or to the error).
	Latency time.Duration
	// Status is the HTTP status code; 0 when no response came.
	Status int
	// Reason is why the request failed; empty when it succeeded.
	Reason string
	// Bytes is the size of the response body.
	Bytes int64
}

// OK reports whether the request succeeded.
func (s Sample) OK() bool { return s.Reason == "" }

// End is when the request ended, from the start of the run.
func (s Sample) End() time.Duration { return s.Start + s.Latency }

// LocustPercentiles are the percentiles of Locust's tables and CSV files.
var LocustPercentiles = []float64{50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest sample such that at least p% of the
// samples are less than or equal to it, that is sorted[⌈p/100·n⌉ − 1]. It
// never interpolates, so every percentile is a latency that was observed.
// p <= 0 gives the minimum; an empty slice gives 0.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	// The small epsilon keeps p/100·n from landing just above an integer
	// through floating-point error (for example 0.9·10 = 9.000000000000002).
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// Stats summarizes a set of samples in Locust's terms.
type Stats struct {
	// Requests counts every request, failed or not.
	Requests int
	// Failures counts failed requests; Reasons breaks them down.
	Failures int
	// Reasons counts failures by reason ("HTTP 504 Gateway Timeout",
	// "timeout", "connection refused", ...).
	Reasons map[string]int
	// Elapsed is the time the rates are computed over.
	Elapsed time.Duration
	// RPS and FailuresPerSecond are per second of Elapsed.
	RPS, FailuresPerSecond float64
	// Avg, Min, Max and the percentiles cover every request, failures
	// included, as Locust's do.
	Avg, Min, Max         time.Duration
	Median, P90, P95, P99 time.Duration
	// Percentiles holds LocustPercentiles, in that order.
	Percentiles []time.Duration
	// AvgBytes is the mean response size.
	AvgBytes float64
}

// FailureShare is Failures / Requests, or 0 without requests.
func (s Stats) FailureShare() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Failures) / float64(s.Requests)
}

// Summarize computes the statistics of samples over elapsed.
func Summarize(samples []Sample, elapsed time.Duration) Stats {
	st := Stats{Requests: len(samples), Reasons: map[string]int{}, Elapsed: elapsed}
	lat := make([]time.Duration, len(samples))
	var total time.Duration
	var bytes int64
	for i, s := range samples {
		lat[i] = s.Latency
		total += s.Latency
		bytes += s.Bytes
		if !s.OK() {
			st.Failures++
			st.Reasons[s.Reason]++
		}
	}
	slices.Sort(lat)
	if elapsed > 0 {
		st.RPS = float64(st.Requests) / elapsed.Seconds()
		st.FailuresPerSecond = float64(st.Failures) / elapsed.Seconds()
	}
	st.Percentiles = make([]time.Duration, len(LocustPercentiles))
	if len(lat) == 0 {
		return st
	}
	st.Avg = total / time.Duration(len(lat))
	st.AvgBytes = float64(bytes) / float64(len(lat))
	st.Min, st.Max = lat[0], lat[len(lat)-1]
	st.Median = Percentile(lat, 50)
	st.P90 = Percentile(lat, 90)
	st.P95 = Percentile(lat, 95)
	st.P99 = Percentile(lat, 99)
	for i, p := range LocustPercentiles {
		st.Percentiles[i] = Percentile(lat, p)
	}
	return st
}

// Second is one row of the per-second history, as Locust's
// stats_history.csv: the requests that ended within the second, and the
// totals from the start of the run to the end of the second.
type Second struct {
	// At is the end of the second, from the start of the run (1 s, 2 s, ...).
	At time.Duration
	// Users is the users running at the end of the second (closed model),
	// or the requests in flight then (open model).
	Users int
	// Requests and Failures ended within the second.
	Requests, Failures int
	// Percentiles are LocustPercentiles of the requests that ended within
	// the second; nil when none did.
	Percentiles []time.Duration
	// TotalRequests and TotalFailures ended from the start to At.
	TotalRequests, TotalFailures int
	// TotalMedian, TotalAvg, TotalMin and TotalMax cover the same requests.
	TotalMedian, TotalAvg, TotalMin, TotalMax time.Duration
	// TotalAvgBytes is their mean response size.
	TotalAvgBytes float64
}

// History buckets samples by the second in which they ended, over
// ⌈elapsed⌉ seconds (later samples go in the last second). users gives the
// Users column for the end of each second; nil leaves it zero.
func History(samples []Sample, elapsed time.Duration, users func(at time.Duration) int) []Second {
	n := int(math.Ceil(elapsed.Seconds()))
	if n < 1 {
		n = 1
	}
	buckets := make([][]Sample, n)
	for _, s := range samples {
		i := int((s.End() - 1) / time.Second) // (i s, (i+1) s] goes to bucket i
		i = max(0, min(i, n-1))
		buckets[i] = append(buckets[i], s)
	}
	out := make([]Second, n)
	var all []time.Duration
	var total time.Duration
	var bytes int64
	var totalFailures int
	for i, b := range buckets {
		row := Second{At: time.Duration(i+1) * time.Second, Requests: len(b)}
		if users != nil {
			row.Users = users(row.At)
		}
		lat := make([]time.Duration, len(b))
		for j, s := range b {
			lat[j] = s.Latency
			total += s.Latency
			bytes += s.Bytes
			if !s.OK() {
				row.Failures++
			}
		}
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		if len(lat) > 0 {
			row.Percentiles = make([]time.Duration, len(LocustPercentiles))
			for j, p := range LocustPercentiles {
				row.Percentiles[j] = Percentile(lat, p)
			}
		}
		all = mergeSorted(all, lat)
		totalFailures += row.Failures
		row.TotalRequests, row.TotalFailures = len(all), totalFailures
		if len(all) > 0 {
			row.TotalMedian = Percentile(all, 50)
			row.TotalAvg = total / time.Duration(len(all))
			row.TotalMin, row.TotalMax = all[0], all[len(all)-1]
			row.TotalAvgBytes = float64(bytes) / float64(len(all))
		}
		out[i] = row
	}
	return out
}

// mergeSorted merges two sorted slices into a new sorted slice.
func mergeSorted(a, b []time.Duration) []time.Duration {
	if len(b) == 0 {
		return a
	}
	out := make([]time.Duration, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] <= b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// InFlight returns a function that counts the samples in flight at a given
// time: started at or before it and not yet ended.
func InFlight(samples []Sample) func(at time.Duration) int {
	starts := make([]time.Duration, len(samples))
	ends := make([]time.Duration, len(samples))
	for i, s := range samples {
		starts[i], ends[i] = s.Start, s.End()
	}
	slices.Sort(starts)
	slices.Sort(ends)
	return func(at time.Duration) int {
		started, _ := slices.BinarySearch(starts, at+1) // starts <= at
		ended, _ := slices.BinarySearch(ends, at+1)     // ends <= at
		return started - ended
	}
}
