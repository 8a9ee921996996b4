package lab

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"flashsale/internal/depth"
	"flashsale/internal/loadgen"
)

// fakeSystem accepts orders and reports, as its depth, the orders accepted
// minus one paid every payEvery since the first.
type fakeSystem struct {
	accepted atomic.Int64
	first    atomic.Int64 // unix nanos of the first order
	payEvery time.Duration
}

func (f *fakeSystem) depth() int {
	first := f.first.Load()
	if first == 0 {
		return 0
	}
	paid := int64(time.Since(time.Unix(0, first)) / f.payEvery)
	return int(max(0, f.accepted.Load()-paid))
}

func (f *fakeSystem) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/orders/async":
		f.first.CompareAndSwap(0, time.Now().UnixNano())
		f.accepted.Add(1)
		w.WriteHeader(http.StatusAccepted)
	case "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("flashsale_queue_depth " + strconv.Itoa(f.depth()) + "\n"))
	default:
		http.NotFound(w, r)
	}
}

// TestRunPhase loads a fake system on 127.0.0.1 faster than it pays and
// samples its /metrics until the backlog is gone.
func TestRunPhase(t *testing.T) {
	sys := &fakeSystem{payEvery: 10 * time.Millisecond}
	srv := httptest.NewServer(sys)
	defer srv.Close()
	res, err := RunPhase(context.Background(), Phase{
		Load:         loadgen.Config{BaseURL: srv.URL, Scenario: loadgen.ScenarioAsync, Rate: 400, Duration: 300 * time.Millisecond},
		Depth:        &depth.Sampler{Source: depth.NewMetrics(depth.MetricsURL(srv.URL), nil), Interval: 20 * time.Millisecond},
		DrainTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Load.Stats.Requests != 120 || res.Load.Stats.Failures != 0 {
		t.Errorf("load: %d requests, %d failures; want 120, 0", res.Load.Stats.Requests, res.Load.Stats.Failures)
	}
	tl := res.Depth
	// 120 orders in 0.3 s against 100 paid per second: a backlog of tens
	// at the end of the load, gone about 0.9 s later.
	if tl == nil || !tl.Drained || tl.Peak < 30 || tl.TimeToDrain() <= 0 || tl.LoadEnd <= 0 {
		t.Fatalf("timeline: %+v", tl)
	}
	dir := t.TempDir()
	if err := res.WriteCSV(filepath.Join(dir, "p")); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := res.WriteSummary(&b); err != nil || !strings.Contains(b.String(), "queue depth:") || !strings.Contains(b.String(), "Aggregated") {
		t.Errorf("summary (%v):\n%s", err, b.String())
	}
	data, err := json.Marshal(res)
	if err != nil || !strings.Contains(string(data), `"load":`) || !strings.Contains(string(data), `"depth":`) {
		t.Errorf("json (%v): %.200s", err, data)
	}
}

// TestRunPhaseDrainTimeout: a queue that never empties ends at the drain
// timeout without an error, reported as not drained.
func TestRunPhaseDrainTimeout(t *testing.T) {
	sys := &fakeSystem{payEvery: time.Hour}
	srv := httptest.NewServer(sys)
	defer srv.Close()
	start := time.Now()
	res, err := RunPhase(context.Background(), Phase{
		Load:         loadgen.Config{BaseURL: srv.URL, Scenario: loadgen.ScenarioAsync, Rate: 100, Duration: 100 * time.Millisecond},
		Depth:        &depth.Sampler{Source: depth.NewMetrics(depth.MetricsURL(srv.URL), nil), Interval: 20 * time.Millisecond},
		DrainTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Depth.Drained || res.Depth.Peak != 10 || time.Since(start) > 5*time.Second {
		t.Errorf("drained %v, peak %d, took %v; want not drained, peak 10", res.Depth.Drained, res.Depth.Peak, time.Since(start))
	}
	// Without sampling, only the load runs.
	res, err = RunPhase(context.Background(), Phase{Load: loadgen.Config{BaseURL: srv.URL, Scenario: loadgen.ScenarioAsync, Rate: 50, Duration: 100 * time.Millisecond}})
	if err != nil || res.Depth != nil || res.Load.Stats.Requests != 5 {
		t.Errorf("no sampling: %+v, %v", res, err)
	}
	// A bad load config ends the phase at once, sampler included.
	if _, err := RunPhase(context.Background(), Phase{Load: loadgen.Config{}, Depth: &depth.Sampler{Source: depth.NewMetrics(depth.MetricsURL(srv.URL), nil)}}); err == nil {
		t.Error("an invalid load should be an error")
	}
}

// TestRunPhaseFollow: following the orders does not move the end of the
// load the depth is timed from; the phase ends when both are done, here at
// the follow-up's cap for orders that stay pending.
func TestRunPhaseFollow(t *testing.T) {
	sys := &fakeSystem{payEvery: 5 * time.Millisecond}
	var gets atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders/async", func(w http.ResponseWriter, r *http.Request) {
		sys.first.CompareAndSwap(0, time.Now().UnixNano())
		n := sys.accepted.Add(1)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"order_id":"o-` + strconv.FormatInt(n, 10) + `","status":"pending"}`))
	})
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		_, _ = w.Write([]byte(`{"order_id":"` + r.PathValue("id") + `","status":"pending"}`))
	})
	mux.Handle("/metrics", sys)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var ended atomic.Bool
	res, err := RunPhase(context.Background(), Phase{
		Load: loadgen.Config{BaseURL: srv.URL, Scenario: loadgen.ScenarioAsync, Rate: 100, Duration: 200 * time.Millisecond,
			Follow: 0.5, FollowInterval: 20 * time.Millisecond, FollowTimeout: 600 * time.Millisecond,
			LoadEnded: func() { ended.Store(true) }},
		Depth:        &depth.Sampler{Source: depth.NewMetrics(depth.MetricsURL(srv.URL), nil), Interval: 10 * time.Millisecond},
		DrainTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Load.Confirmation
	if c == nil || c.Followed != 10 || c.Unfinished != 10 || !c.TimedOut || gets.Load() == 0 || !ended.Load() {
		t.Fatalf("confirmation %+v, %d GETs, load-ended hook called %v", c, gets.Load(), ended.Load())
	}
	// 20 orders paid one every 5 ms: drained well before the 600 ms cap
	// of the follow-up.
	tl := res.Depth
	if tl == nil || !tl.Drained || tl.LoadEnd > 450*time.Millisecond || tl.TimeToDrain() > 300*time.Millisecond {
		t.Errorf("timeline %+v: want drained soon after the load, not after the follow-up", tl)
	}
	if res.Load.Stats.Requests != 20 {
		t.Errorf("%d load requests, want the 20 POSTs only", res.Load.Stats.Requests)
	}
}

func TestIntegerTicks(t *testing.T) {
	for _, r := range [][2]float64{{0, 2660}, {0, 3040}, {0, 1.5}, {100, 105}} {
		ticks := integerTicks{}.Ticks(r[0], r[1])
		labelled := 0
		for _, tk := range ticks {
			if tk.Label == "" {
				continue
			}
			labelled++
			if strings.Contains(tk.Label, ".") {
				t.Errorf("range %v: tick %v labelled %q, want a whole number", r, tk.Value, tk.Label)
			}
		}
		if labelled == 0 {
			t.Errorf("range %v: no labelled ticks", r)
		}
	}
}
