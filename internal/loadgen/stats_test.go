package loadgen

import (
	"testing"
	"time"
)

func msd(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestPercentile(t *testing.T) {
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single", []time.Duration{7}, 99, 7},
		{"p0 is the minimum", ten, 0, 1},
		{"p10 of 10: rank 1", ten, 10, 1},
		{"p11 of 10: rank 2", ten, 11, 2},
		{"median of 10: rank 5, no interpolation", ten, 50, 5},
		{"p90 of 10: rank 9 despite 0.9*10 rounding", ten, 90, 9},
		{"p95 of 10: rank 10", ten, 95, 10},
		{"p100 is the maximum", ten, 100, 10},
		{"p99 of 100", hundred, 99, 99},
		{"p99.9 of 100", hundred, 99.9, 100},
		{"p66 of 100", hundred, 66, 66},
		{"median of 2 is the lower", []time.Duration{1, 100}, 50, 1},
	}
	for _, tt := range tests {
		if got := Percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: Percentile(p%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	samples := []Sample{
		{Start: 0, Latency: msd(10), Status: 202, Bytes: 100},
		{Start: msd(100), Latency: msd(30), Status: 503, Reason: StatusReason(503), Bytes: 50},
		{Start: msd(200), Latency: msd(20), Status: 202, Bytes: 100},
		{Start: msd(300), Latency: 30 * time.Second, Reason: ReasonTimeout},
	}
	st := Summarize(samples, 2*time.Second)
	if st.Requests != 4 || st.Failures != 2 {
		t.Fatalf("requests %d failures %d, want 4 and 2", st.Requests, st.Failures)
	}
	if st.Reasons["HTTP 503 Service Unavailable"] != 1 || st.Reasons[ReasonTimeout] != 1 || len(st.Reasons) != 2 {
		t.Errorf("reasons = %v", st.Reasons)
	}
	if st.RPS != 2 || st.FailuresPerSecond != 1 {
		t.Errorf("rps %v failures/s %v, want 2 and 1", st.RPS, st.FailuresPerSecond)
	}
	if st.Min != msd(10) || st.Max != 30*time.Second || st.Median != msd(20) {
		t.Errorf("min %v max %v median %v", st.Min, st.Max, st.Median)
	}
	if want := (msd(60) + 30*time.Second) / 4; st.Avg != want {
		t.Errorf("avg %v, want %v", st.Avg, want)
	}
	if st.AvgBytes != 62.5 || st.FailureShare() != 0.5 {
		t.Errorf("avg bytes %v, failure share %v", st.AvgBytes, st.FailureShare())
	}
	if len(st.Percentiles) != len(LocustPercentiles) || st.Percentiles[len(st.Percentiles)-1] != st.Max {
		t.Errorf("percentiles = %v", st.Percentiles)
	}
	empty := Summarize(nil, 0)
	if empty.Requests != 0 || empty.RPS != 0 || empty.FailureShare() != 0 || len(empty.Percentiles) != len(LocustPercentiles) {
		t.Errorf("empty summary = %+v", empty)
	}
}

func TestHistory(t *testing.T) {
	samples := []Sample{
		{Start: 0, Latency: msd(500)},                                           // ends 0.5 s -> second 1
		{Start: msd(900), Latency: msd(100)},                                    // ends 1.0 s -> second 1
		{Start: msd(1500), Latency: msd(200), Reason: ReasonTimeout},            // ends 1.7 s -> second 2
		{Start: msd(3500), Latency: msd(100)},                                   // ends 3.6 s -> second 4
		{Start: msd(3900), Latency: 2 * time.Second, Reason: ReasonConnRefused}, // ends 5.9 s -> clamped to the last
	}
	h := History(samples, 4*time.Second, func(at time.Duration) int { return int(at / time.Second) })
	if len(h) != 4 {
		t.Fatalf("%d rows, want 4", len(h))
	}
	wantReq := []int{2, 1, 0, 2}
	wantFail := []int{0, 1, 0, 1}
	wantTotal := []int{2, 3, 3, 5}
	for i, row := range h {
		if row.At != time.Duration(i+1)*time.Second || row.Users != i+1 {
			t.Errorf("row %d: at %v users %d", i, row.At, row.Users)
		}
		if row.Requests != wantReq[i] || row.Failures != wantFail[i] || row.TotalRequests != wantTotal[i] {
			t.Errorf("row %d: %d requests, %d failures, %d total; want %d, %d, %d",
				i, row.Requests, row.Failures, row.TotalRequests, wantReq[i], wantFail[i], wantTotal[i])
		}
	}
	if h[2].Percentiles != nil {
		t.Errorf("a second without requests has percentiles %v", h[2].Percentiles)
	}
	if h[0].Percentiles[0] != msd(100) || h[0].TotalMax != msd(500) || h[1].TotalMedian != msd(200) {
		t.Errorf("row 1 p50 %v max %v; row 2 total median %v", h[0].Percentiles[0], h[0].TotalMax, h[1].TotalMedian)
	}
	if h[3].TotalFailures != 2 || h[3].TotalMin != msd(100) || h[3].TotalMax != 2*time.Second {
		t.Errorf("last row totals %+v", h[3])
	}
}

func TestInFlight(t *testing.T) {
	f := InFlight([]Sample{
		{Start: 0, Latency: 3 * time.Second},
		{Start: time.Second, Latency: time.Second},
		{Start: 2 * time.Second, Latency: 5 * time.Second},
	})
	tests := []struct {
		at   time.Duration
		want int
	}{{0, 1}, {time.Second, 2}, {2 * time.Second, 2}, {3 * time.Second, 1}, {7 * time.Second, 0}}
	for _, tt := range tests {
		if got := f(tt.at); got != tt.want {
			t.Errorf("in flight at %v = %d, want %d", tt.at, got, tt.want)
		}
	}
}
