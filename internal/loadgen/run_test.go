package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"flashsale/internal/order"
)

// fakeServer is an http.RoundTripper that answers in fake time (inside a
// synctest bubble): it records every request and answers after the delay
// that answer chooses; a negative delay never answers.
type fakeServer struct {
	start  time.Time
	answer func(n int, req *http.Request) (status int, delay time.Duration)

	mu    sync.Mutex
	calls []call

	inFlight, peak atomic.Int64
}

type call struct {
	user string
	at   time.Duration
	body []byte
}

func newFakeServer(answer func(n int, req *http.Request) (int, time.Duration)) *fakeServer {
	return &fakeServer{start: time.Now(), answer: answer}
}

func (f *fakeServer) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, call{user: req.Header.Get(HeaderUser), at: time.Since(f.start), body: body})
	f.mu.Unlock()
	now := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for p := f.peak.Load(); now > p && !f.peak.CompareAndSwap(p, now); p = f.peak.Load() {
	}
	status, delay := f.answer(n, req)
	if delay < 0 {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	return &http.Response{StatusCode: status, Header: http.Header{}, Request: req,
		Body: io.NopCloser(strings.NewReader(`{"status":"pending"}`)), ContentLength: -1}, nil
}

func (f *fakeServer) callsByUser() map[string][]call {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]call{}
	for _, c := range f.calls {
		out[c.user] = append(out[c.user], c)
	}
	return out
}

func fixed(status int, delay time.Duration) func(int, *http.Request) (int, time.Duration) {
	return func(int, *http.Request) (int, time.Duration) { return status, delay }
}

// TestClosedPacing checks Locust's semantics in fake time: users start at
// the spawn rate, each waits for its answer, then thinks a uniform
// 100-500 ms before the next request, until the run ends.
func TestClosedPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(fixed(http.StatusAccepted, 100*time.Millisecond))
		res, err := Run(context.Background(), Config{
			BaseURL: "http://127.0.0.1:1", Scenario: ScenarioAsync, Users: 4, SpawnRate: 2,
			Duration: 10 * time.Second, Seed: 42, Client: &http.Client{Transport: srv},
		})
		if err != nil {
			t.Fatal(err)
		}
		wantSpawns := []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
		if len(res.spawns) != 4 {
			t.Fatalf("spawned %d users, want 4", len(res.spawns))
		}
		for i, s := range res.spawns {
			if s != wantSpawns[i] {
				t.Errorf("user %d started at %v, want %v", i, s, wantSpawns[i])
			}
		}
		var thinks []time.Duration
		for u, calls := range srv.callsByUser() {
			i, _ := strconv.Atoi(u)
			if calls[0].at != wantSpawns[i] {
				t.Errorf("user %s first request at %v, want its spawn time %v", u, calls[0].at, wantSpawns[i])
			}
			for j := 1; j < len(calls); j++ {
				think := calls[j].at - calls[j-1].at - 100*time.Millisecond
				if think < DefaultThinkMin || think > DefaultThinkMax {
					t.Errorf("user %s waited %v between an answer and its next request, want 100-500 ms", u, think)
				}
				thinks = append(thinks, think)
			}
		}
		var sum time.Duration
		distinct := map[time.Duration]bool{}
		for _, th := range thinks {
			sum += th
			distinct[th] = true
		}
		mean := sum / time.Duration(len(thinks))
		if mean < 250*time.Millisecond || mean > 350*time.Millisecond || len(distinct) < len(thinks)/2 {
			t.Errorf("think times: mean %v over %d (%d distinct), want uniform 100-500 ms", mean, len(thinks), len(distinct))
		}
		if res.Elapsed != 10*time.Second || res.Stats.Requests+res.Unfinished != len(srv.calls) {
			t.Errorf("elapsed %v, %d counted + %d unfinished != %d sent", res.Elapsed, res.Stats.Requests, res.Unfinished, len(srv.calls))
		}
		for _, s := range res.Samples {
			if s.Latency != 100*time.Millisecond || !s.OK() || s.End() > 10*time.Second {
				t.Errorf("sample %+v: want 100 ms, ok, ended within the run", s)
			}
		}
		if res.Stats.Failures != 0 || res.History[len(res.History)-1].Users != 4 || res.History[0].Users != 3 {
			t.Errorf("failures %d, users in history %d..%d", res.Stats.Failures, res.History[0].Users, res.History[len(res.History)-1].Users)
		}
	})
}

// TestClosedTimeout: a server that never answers costs each request the
// 30 s client timeout; the request open at the end is dropped.
func TestClosedTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(fixed(0, -1))
		res, err := Run(context.Background(), Config{
			BaseURL: "http://127.0.0.1:1", Scenario: ScenarioSync, Users: 1,
			Duration: 65 * time.Second, Client: &http.Client{Transport: srv},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stats.Requests != 2 || res.Stats.Failures != 2 || res.Stats.Reasons[ReasonTimeout] != 2 || res.Unfinished != 1 {
			t.Errorf("requests %d failures %v unfinished %d; want 2 timeouts and 1 unfinished",
				res.Stats.Requests, res.Stats.Reasons, res.Unfinished)
		}
		for _, s := range res.Samples {
			if s.Latency != DefaultTimeout {
				t.Errorf("timed-out request took %v, want %v", s.Latency, DefaultTimeout)
			}
		}
	})
}

// TestOpenSchedule: vegeta's pacer sends on schedule however slow the
// answers are (150 requests in flight here), so there is no coordinated
// omission: each latency is the server's 3 s, counted from the due time.
func TestOpenSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(fixed(http.StatusAccepted, 3*time.Second))
		var peak atomic.Int64
		res, err := Run(context.Background(), Config{
			BaseURL: "http://127.0.0.1:1", Scenario: ScenarioAsync, Rate: 50, Duration: 2 * time.Second,
			Client:   &http.Client{Transport: srv},
			Progress: func(p Progress) { peak.Store(max(peak.Load(), int64(p.InFlight))) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(srv.calls) != 100 || res.Stats.Requests != 100 {
			t.Fatalf("sent %d, counted %d; want exactly 50/s x 2 s = 100", len(srv.calls), res.Stats.Requests)
		}
		for k, c := range srv.calls {
			if want := time.Duration(k+1) * 20 * time.Millisecond; c.at != want {
				t.Errorf("request %d sent at %v, want %v", k, c.at, want)
				break
			}
		}
		for _, s := range res.Samples {
			if s.Latency != 3*time.Second || s.Start%(20*time.Millisecond) != 0 {
				t.Errorf("sample %+v: want 3 s latency from a due time on the 20 ms grid", s)
				break
			}
		}
		if res.MaxLag != 0 || res.Elapsed != 5*time.Second || res.Stats.Failures != 0 {
			t.Errorf("max lag %v, elapsed %v, failures %d", res.MaxLag, res.Elapsed, res.Stats.Failures)
		}
		if math.Abs(res.SentRate-50)/50 > 0.02 || res.TargetRate != 50 {
			t.Errorf("sent rate %v, target %v; want 50", res.SentRate, res.TargetRate)
		}
		if peak.Load() < 100 {
			t.Errorf("peak in flight %d, want the 100 requests of the first 2 s", peak.Load())
		}
	})
}

// TestOpenMaxRate: at maximum rate, exactly MaxWorkers requests are in
// flight back to back for the whole run.
func TestOpenMaxRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(fixed(http.StatusAccepted, 10*time.Millisecond))
		res, err := Run(context.Background(), Config{BaseURL: "http://127.0.0.1:1", Scenario: ScenarioAsync,
			MaxWorkers: 5, Duration: time.Second, Client: &http.Client{Transport: srv}})
		if err != nil {
			t.Fatal(err)
		}
		// 5 at a time, 10 ms each, for 1 s: about 500.
		if n := res.Stats.Requests; n < 490 || n > 510 || srv.peak.Load() != 5 {
			t.Errorf("%d requests, peak in flight %d; want ~500 and 5", n, srv.peak.Load())
		}
		if res.MaxWorkers != 5 || res.Stats.Max != 10*time.Millisecond || res.MaxLag != 0 {
			t.Errorf("max workers %d, max latency %v, lag %v", res.MaxWorkers, res.Stats.Max, res.MaxLag)
		}
		var b strings.Builder
		if err := res.WriteSummary(&b); err != nil || !strings.Contains(b.String(), "maximum rate, 5 requests in flight") {
			t.Errorf("summary: %v\n%s", err, b.String())
		}
	})
}

// TestOpenCancel: ending ctx stops the schedule and drops the requests in
// flight at once instead of waiting for their timeout.
func TestOpenCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(fixed(0, -1))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		res, err := Run(ctx, Config{BaseURL: "http://127.0.0.1:1", Scenario: ScenarioAsync, Rate: 10,
			Duration: time.Minute, Client: &http.Client{Transport: srv}})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the context's", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("cancelled run took %v", took)
		}
		// Requests went out at 0.1 s, 0.2 s, ... 0.9 s, and perhaps at 1 s,
		// the instant of the cancellation.
		if res == nil || res.Stats.Requests != 0 || res.Unfinished < len(srv.calls) || len(srv.calls) < 9 || len(srv.calls) > 10 {
			t.Errorf("result %+v: want no counted request, 9 or 10 unfinished (all %d sent)", res, len(srv.calls))
		}
	})
}

// TestProgress: snapshots every interval, then a final one.
func TestProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []Progress
		var mu sync.Mutex
		srv := newFakeServer(fixed(http.StatusAccepted, 50*time.Millisecond))
		res, err := Run(context.Background(), Config{
			BaseURL: "http://127.0.0.1:1", Scenario: ScenarioAsync, Users: 2, SpawnRate: 0, Duration: 5 * time.Second,
			Client: &http.Client{Transport: srv}, ProgressInterval: time.Second,
			Progress: func(p Progress) { mu.Lock(); got = append(got, p); mu.Unlock() },
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < 5 || !got[len(got)-1].Final {
			t.Fatalf("%d snapshots, last final=%v; want >= 5 and a final one", len(got), got[len(got)-1].Final)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Requests < got[i-1].Requests {
				t.Errorf("requests went down: %d then %d", got[i-1].Requests, got[i].Requests)
			}
		}
		if last := got[len(got)-1]; last.Requests != res.Stats.Requests || last.Users != 2 || got[0].CurrentRPS <= 0 {
			t.Errorf("final snapshot %+v vs %d requests; first %+v", last, res.Stats.Requests, got[0])
		}
	})
}

// TestAgainstServer runs both models against a real server on 127.0.0.1
// and checks how answers and connection failures are classified.
func TestAgainstServer(t *testing.T) {
	var n atomic.Int64
	var bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := order.DecodeRequest(r.Body); err != nil || r.Method != http.MethodPost || r.URL.Path != "/orders/async" {
			bad.Add(1)
		}
		switch n.Add(1) % 3 {
		case 0:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
		io.WriteString(w, `{"status":"pending"}`)
	}))
	defer srv.Close()

	tests := []struct {
		name string
		cfg  Config
	}{
		{"closed", Config{Users: 3, SpawnRate: 0, ThinkMin: time.Millisecond, ThinkMax: 5 * time.Millisecond, Duration: 300 * time.Millisecond}},
		{"open", Config{Rate: 100, Duration: 300 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.BaseURL, cfg.Scenario = srv.URL, ScenarioAsync
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			st := res.Stats
			if st.Requests == 0 || st.Failures == 0 || st.Failures != st.Reasons["HTTP 503 Service Unavailable"] || len(st.Reasons) != 1 {
				t.Errorf("requests %d failures %d reasons %v; want some 503s and nothing else", st.Requests, st.Failures, st.Reasons)
			}
			if tt.name == "open" && st.Requests != 30 {
				t.Errorf("open model sent %d, want 100/s x 0.3 s = 30", st.Requests)
			}
			if st.AvgBytes != float64(len(`{"status":"pending"}`)) {
				t.Errorf("avg content size %v", st.AvgBytes)
			}
		})
	}
	if bad.Load() != 0 {
		t.Errorf("%d requests were not valid POST /orders/async orders", bad.Load())
	}

	// A closed port on 127.0.0.1: connection refused, for both models.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	for _, cfg := range []Config{
		{Users: 1, ThinkMin: 10 * time.Millisecond, ThinkMax: 10 * time.Millisecond, Duration: 100 * time.Millisecond},
		{Rate: 20, Duration: 100 * time.Millisecond},
	} {
		cfg.BaseURL, cfg.Scenario = closed, ScenarioSync
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stats.Requests == 0 || res.Stats.Reasons[ReasonConnRefused] != res.Stats.Requests {
			t.Errorf("%s model against a closed port: reasons %v of %d", res.Model, res.Stats.Reasons, res.Stats.Requests)
		}
	}
}

// TestClientTimeoutAgainstServer: a real server slower than the client
// timeout gives "timeout" failures.
func TestClientTimeoutAgainstServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client leaving.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	for _, cfg := range []Config{
		{Users: 1, Duration: 200 * time.Millisecond},
		{Rate: 10, Duration: 100 * time.Millisecond},
	} {
		cfg.BaseURL, cfg.Scenario, cfg.Timeout = srv.URL, ScenarioSync, 50*time.Millisecond
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stats.Requests == 0 || res.Stats.Reasons[ReasonTimeout] != res.Stats.Requests {
			t.Errorf("%s model: reasons %v of %d, want all timeouts", res.Model, res.Stats.Reasons, res.Stats.Requests)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	ok := Config{BaseURL: "http://127.0.0.1:1", Scenario: ScenarioSync, Users: 1, Duration: time.Second}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no model", func(c *Config) { c.Users = 0 }},
		{"both models", func(c *Config) { c.Rate = 1 }},
		{"no URL", func(c *Config) { c.BaseURL = "" }},
		{"bad scenario", func(c *Config) { c.Scenario = "batch" }},
		{"no duration", func(c *Config) { c.Duration = 0 }},
		{"think max below min", func(c *Config) { c.ThinkMin, c.ThinkMax = time.Second, time.Millisecond }},
		{"rate below one request", func(c *Config) { c.Users, c.Rate = 0, 0.1 }},
		{"max workers with users", func(c *Config) { c.MaxWorkers = 4 }},
	}
	for _, tt := range tests {
		cfg := ok
		tt.edit(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestOrderGenerator(t *testing.T) {
	a, b := NewOrderGenerator(7, 1), NewOrderGenerator(7, 1)
	other := NewOrderGenerator(7, 2)
	same := true
	for i := 0; i < 200; i++ {
		body := a.NextBody()
		if _, err := order.DecodeRequest(strings.NewReader(string(body))); err != nil {
			t.Fatalf("generated order %s is invalid: %v", body, err)
		}
		if string(body) != string(b.NextBody()) {
			t.Fatal("same seed and stream gave different orders")
		}
		if string(body) != string(other.NextBody()) {
			same = false
		}
	}
	if same {
		t.Error("different streams gave the same orders")
	}
	var req order.Request
	if err := json.Unmarshal(a.NextBody(), &req); err != nil || req.OrderID != "" {
		t.Errorf("order %+v: want no client order_id (the server assigns one), err %v", req, err)
	}
}

func TestParseScenario(t *testing.T) {
	for _, s := range []string{"sync", "async"} {
		sc, err := ParseScenario(s)
		if err != nil || sc.Path() != "/orders/"+s || sc.Name() != "POST /orders/"+s {
			t.Errorf("ParseScenario(%q) = %q, %v", s, sc, err)
		}
	}
	if _, err := ParseScenario("Sync"); err == nil {
		t.Error("scenarios are case-sensitive")
	}
}
