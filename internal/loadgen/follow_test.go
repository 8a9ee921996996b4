package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeAPI fakes the async API: POST /orders/async answers 202 with a new
// order_id ("o-0", "o-1", ...); GET /orders/{id} answers what poll says
// for the n-th GET (from 1) of that order: an HTTP status and, for 200,
// the order's status.
type fakeAPI struct {
	poll    func(id string, n int) (code int, status string)
	noID    bool // 202s without an order_id
	getLat  time.Duration
	postLat time.Duration

	mu     sync.Mutex
	posts  int
	gets   map[string]int
	getsIn atomic.Int64 // GETs in flight
	peak   atomic.Int64
}

func (f *fakeAPI) handle(method, path string) (int, string) {
	switch {
	case method == http.MethodPost && path == "/orders/async":
		f.mu.Lock()
		id := fmt.Sprintf("o-%d", f.posts)
		f.posts++
		f.mu.Unlock()
		if f.noID {
			return http.StatusAccepted, `{"status":"pending"}`
		}
		return http.StatusAccepted, `{"order_id":"` + id + `","status":"pending"}`
	case method == http.MethodGet && strings.HasPrefix(path, "/orders/"):
		id := strings.TrimPrefix(path, "/orders/")
		f.mu.Lock()
		if f.gets == nil {
			f.gets = map[string]int{}
		}
		f.gets[id]++
		n := f.gets[id]
		f.mu.Unlock()
		code, status := f.poll(id, n)
		if code != http.StatusOK {
			return code, `{"error":"no"}`
		}
		// The server's record: created at 0, last changed n x 100 ms later,
		// and paid then if completed.
		created := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		updated := created.Add(time.Duration(n) * 100 * time.Millisecond).Format(time.RFC3339Nano)
		paid := ""
		if status == "completed" {
			paid = `,"paid_at":"` + updated + `"`
		}
		return code, `{"order_id":"` + id + `","customer_id":1,"items":[],"total":0,"status":"` + status +
			`","created_at":"` + created.Format(time.RFC3339Nano) + `","updated_at":"` + updated + `"` + paid + `,"attempts":1}`
	}
	return http.StatusNotFound, `{"error":"no such path"}`
}

func (f *fakeAPI) totalGets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.gets {
		n += v
	}
	return n
}

// ServeHTTP serves the fake API on a real listener.
func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	code, body := f.handle(r.Method, r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	io.WriteString(w, body)
}

// RoundTrip serves the fake API in fake time (inside a synctest bubble),
// after postLat or getLat.
func (f *fakeAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	delay := f.postLat
	if req.Method == http.MethodGet {
		delay = f.getLat
		now := f.getsIn.Add(1)
		defer f.getsIn.Add(-1)
		for p := f.peak.Load(); now > p && !f.peak.CompareAndSwap(p, now); p = f.peak.Load() {
		}
	}
	select {
	case <-time.After(delay):
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	code, body := f.handle(req.Method, req.URL.Path)
	return &http.Response{StatusCode: code, Header: http.Header{}, Request: req,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: -1}, nil
}

// after answers pending until the n-th poll, then final.
func after(n int, final string) func(string, int) (int, string) {
	return func(_ string, i int) (int, string) {
		if i < n {
			return http.StatusOK, "pending"
		}
		return http.StatusOK, final
	}
}

// TestFollow runs both models against a fake API on 127.0.0.1 and checks
// what the follow-up counts: finished orders, poll errors, orders that
// never finish, and that its GETs are not load requests.
func TestFollow(t *testing.T) {
	tests := []struct {
		name    string
		poll    func(id string, n int) (int, string)
		noID    bool
		timeout time.Duration
		check   func(t *testing.T, c *Confirmation)
	}{
		{"completed after 3 polls", after(3, "completed"), false, 0, func(t *testing.T, c *Confirmation) {
			if c.Completed != c.Followed || c.Unfinished != 0 || c.Polls != 3*c.Followed || len(c.PollErrors) != 0 {
				t.Errorf("%+v: want every order completed at its 3rd poll", c)
			}
			// Three polls 10 ms apart: at least 30 ms after the 202.
			if c.Min < 30*time.Millisecond || c.TimedOut || c.Interrupted {
				t.Errorf("min %v, timed out %v, interrupted %v", c.Min, c.TimedOut, c.Interrupted)
			}
		}},
		{"processing, then failed", func(_ string, n int) (int, string) {
			return http.StatusOK, map[bool]string{true: "processing", false: "failed"}[n < 2]
		}, false, 0, func(t *testing.T, c *Confirmation) {
			if c.Failed != c.Followed || c.Completed != 0 || c.Finished() != c.Followed || len(c.Times) != c.Followed {
				t.Errorf("%+v: want every order failed", c)
			}
			// Failed at the 2nd poll: updated_at 200 ms after created_at.
			if len(c.Server.Times) != c.Followed || c.Server.Min != 200*time.Millisecond || c.Server.Max != 200*time.Millisecond {
				t.Errorf("server times %v: want 200 ms each, from updated_at", c.Server.Times)
			}
		}},
		{"404 and 503 while following", func(_ string, n int) (int, string) {
			switch n {
			case 1:
				return http.StatusNotFound, ""
			case 2:
				return http.StatusServiceUnavailable, ""
			}
			return http.StatusOK, "completed"
		}, false, 0, func(t *testing.T, c *Confirmation) {
			if c.Completed != c.Followed || c.PollErrors["HTTP 404 Not Found"] != c.Followed ||
				c.PollErrors["HTTP 503 Service Unavailable"] != c.Followed || c.Polls != 3*c.Followed {
				t.Errorf("%+v: want one 404 and one 503 per order, then completed", c)
			}
		}},
		{"never finishes", func(string, int) (int, string) { return http.StatusOK, "pending" }, false, 50 * time.Millisecond,
			func(t *testing.T, c *Confirmation) {
				if c.Unfinished != c.Followed || c.UnfinishedBy["pending"] != c.Followed || c.Finished() != 0 ||
					!c.TimedOut || len(c.Times) != 0 || c.Max != 0 {
					t.Errorf("%+v: want every order unfinished, pending, at the cap", c)
				}
				if c.After < 50*time.Millisecond || c.After > 2*time.Second {
					t.Errorf("followed %v after the load, want about the 50 ms cap", c.After)
				}
			}},
		{"always 404", func(string, int) (int, string) { return http.StatusNotFound, "" }, false, 50 * time.Millisecond,
			func(t *testing.T, c *Confirmation) {
				if c.Unfinished != c.Followed || c.UnfinishedBy["HTTP 404 Not Found"] != c.Followed ||
					c.PollErrors["HTTP 404 Not Found"] != c.Polls {
					t.Errorf("%+v: want every order unfinished, last seen 404", c)
				}
			}},
		{"unreadable status", func(string, int) (int, string) { return http.StatusOK, "" }, false, 50 * time.Millisecond,
			func(t *testing.T, c *Confirmation) {
				if c.Unfinished != c.Followed || c.PollErrors["unreadable answer"] != c.Polls {
					t.Errorf("%+v: want unreadable answers counted as poll errors", c)
				}
			}},
		{"no order_id in the 202", after(1, "completed"), true, 0, func(t *testing.T, c *Confirmation) {
			if c.Followed != 0 || c.Unreadable == 0 || c.Polls != 0 {
				t.Errorf("%+v: want nothing followed, every sampled 202 unreadable", c)
			}
		}},
	}
	models := []struct {
		name string
		cfg  Config
	}{
		{"closed", Config{Users: 2, SpawnRate: 0, ThinkMin: 5 * time.Millisecond, ThinkMax: 10 * time.Millisecond, Duration: 150 * time.Millisecond}},
		{"open", Config{Rate: 100, Duration: 150 * time.Millisecond}},
	}
	for _, tt := range tests {
		for _, m := range models {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				api := &fakeAPI{poll: tt.poll, noID: tt.noID}
				srv := httptest.NewServer(api)
				defer srv.Close()
				cfg := m.cfg
				cfg.BaseURL, cfg.Scenario = srv.URL, ScenarioAsync
				cfg.Follow, cfg.FollowInterval, cfg.FollowTimeout = 0.5, 10*time.Millisecond, tt.timeout
				if cfg.FollowTimeout == 0 {
					cfg.FollowTimeout = 10 * time.Second
				}
				res, err := Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				c := res.Confirmation
				if c == nil {
					t.Fatal("no confirmation")
				}
				// Every 202 was offered; half of them (the first, then every
				// second) followed.
				if c.Accepted != res.Stats.Requests || c.Followed+c.Unreadable != (c.Accepted+1)/2 || c.Accepted == 0 {
					t.Errorf("accepted %d, followed %d + %d unreadable, of %d requests", c.Accepted, c.Followed, c.Unreadable, res.Stats.Requests)
				}
				// The GETs are the follow-up's only: every load request is a POST.
				api.mu.Lock()
				posts := api.posts
				api.mu.Unlock()
				// Polls cut short when the follow-up stops at its cap are not
				// counted: at most one per GET slot.
				cut := api.totalGets() - c.Polls
				// (A request dropped at the end of the run may or may not have
				// reached the server.)
				if posts < res.Stats.Requests || posts > res.Stats.Requests+res.Unfinished || res.Stats.Failures != 0 || cut < 0 ||
					cut > c.Concurrency || (!c.TimedOut && cut != 0) {
					t.Errorf("load counted %d (+%d unfinished) of %d POSTs; follow-up counted %d polls of %d GETs",
						res.Stats.Requests, res.Unfinished, posts, c.Polls, api.totalGets())
				}
				if len(c.Orders) != c.Followed || c.Finished()+c.Unfinished != c.Followed {
					t.Errorf("%d orders listed, %d finished + %d unfinished, %d followed", len(c.Orders), c.Finished(), c.Unfinished, c.Followed)
				}
				tt.check(t, c)
			})
		}
	}
}

// TestFollowTimes checks the follow-up's timing in fake time: the first
// poll one interval after the 202, the next one interval after each, the
// time counted from the 202 to the answer of the poll that saw the order
// completed, percentiles by nearest rank, and at most FollowConcurrency
// GETs in flight, while the load's statistics count the POSTs only.
func TestFollowTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Order o-k completes at its (k+1)-th poll: o-0 at the first, ...
		api := &fakeAPI{postLat: 5 * time.Millisecond, getLat: 10 * time.Millisecond,
			poll: func(id string, n int) (int, string) {
				var k int
				fmt.Sscanf(id, "o-%d", &k)
				if n <= k {
					return http.StatusOK, "pending"
				}
				return http.StatusOK, "completed"
			}}
		res, err := Run(context.Background(), Config{
			BaseURL: "http://127.0.0.1:1", Scenario: ScenarioAsync, Rate: 10, Duration: time.Second,
			Client: &http.Client{Transport: api}, Follow: 1, FollowInterval: 250 * time.Millisecond,
			FollowConcurrency: 2, FollowClient: &http.Client{Transport: api},
		})
		if err != nil {
			t.Fatal(err)
		}
		c := res.Confirmation
		if res.Stats.Requests != 10 || res.Stats.Max != 5*time.Millisecond || c.Followed != 10 || c.Completed != 10 {
			t.Fatalf("requests %d (max %v), followed %d, completed %d; want 10 POSTs of 5 ms, all followed and completed",
				res.Stats.Requests, res.Stats.Max, c.Followed, c.Completed)
		}
		// o-k: k+1 polls, 250 ms after the 202 then 250 ms after each other's
		// start, 10 ms each: (k+1) x 250 ms + 10 ms.
		for k, o := range c.Orders {
			want := time.Duration(k+1)*250*time.Millisecond + 10*time.Millisecond
			if o.ID != fmt.Sprintf("o-%d", k) || o.Time != want || o.Polls != k+1 || o.Status != "completed" {
				t.Errorf("order %+v: want o-%d confirmed after %v in %d polls", o, k, want, k+1)
			}
			if !o.HasServerTime || o.ServerTime != time.Duration(k+1)*100*time.Millisecond {
				t.Errorf("order %s: server time %v (%v), want %v from created_at to paid_at", o.ID, o.ServerTime, o.HasServerTime, time.Duration(k+1)*100*time.Millisecond)
			}
			if wantAt := time.Duration(k+1)*100*time.Millisecond + 5*time.Millisecond; o.Accepted != wantAt {
				t.Errorf("order %s accepted at %v, want %v", o.ID, o.Accepted, wantAt)
			}
		}
		ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
		if c.Min != ms(260) || c.Median != ms(1260) || c.P95 != ms(2510) || c.P99 != ms(2510) || c.Max != ms(2510) || c.Avg != ms(1385) {
			t.Errorf("min %v median %v p95 %v p99 %v max %v avg %v", c.Min, c.Median, c.P95, c.P99, c.Max, c.Avg)
		}
		if c.Polls != 55 || c.MaxPollGap != 250*time.Millisecond || api.peak.Load() > 2 {
			t.Errorf("polls %d, max gap %v, peak GETs in flight %d; want 55, 250 ms, at most 2", c.Polls, c.MaxPollGap, api.peak.Load())
		}
		// The last order was accepted at 1.005 s and confirmed 2.51 s later.
		if c.After+res.Elapsed != 3515*time.Millisecond {
			t.Errorf("followed %v after the load (elapsed %v)", c.After, res.Elapsed)
		}
		var b strings.Builder
		if err := res.WriteSummary(&b); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"Confirmation (GET /orders/{id} every 250ms, at most 2 in flight; not in the request statistics above)",
			"followed 10 of 10 accepted orders (share 1); finished 10 (completed 10, failed 0), unfinished 0",
			"(ms, nearest rank over 10 orders, resolution 250ms): avg 1385, min 260, median 1260, p95 2510, p99 2510, max 2510",
			"polls 55, largest gap between two polls of one order 250 ms",
			"as the server recorded it, created_at to paid_at (updated_at if failed) (ms, 10 orders, no poll in it): avg 550, min 100, median 500, p95 1000, p99 1000, max 1000",
			"requests 10, failures 0",
		} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("summary lacks %q:\n%s", want, b.String())
			}
		}
	})
}

// TestFollowConcurrency: with every GET slot busy, polls wait for one and
// the largest poll gap shows it.
func TestFollowConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &fakeAPI{getLat: 100 * time.Millisecond, poll: after(3, "completed")}
		res, err := Run(context.Background(), Config{
			BaseURL: "http://127.0.0.1:1", Scenario: ScenarioAsync, Rate: 100, Duration: 100 * time.Millisecond,
			Client: &http.Client{Transport: api}, Follow: 1, FollowInterval: 10 * time.Millisecond,
			FollowConcurrency: 1, FollowClient: &http.Client{Transport: api},
		})
		if err != nil {
			t.Fatal(err)
		}
		c := res.Confirmation
		if api.peak.Load() != 1 || c.Completed != 10 || c.MaxPollGap < 500*time.Millisecond {
			t.Errorf("peak %d GETs in flight, %d completed, largest gap %v; want 1, 10 and gaps far above the 10 ms interval",
				api.peak.Load(), c.Completed, c.MaxPollGap)
		}
	})
}

// TestFollowInterrupted: ending ctx while following stops the follow-up at
// once; the orders still open are unfinished and Run reports the context.
func TestFollowInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &fakeAPI{poll: func(string, int) (int, string) { return http.StatusOK, "processing" }}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		res, err := Run(ctx, Config{
			BaseURL: "http://127.0.0.1:1", Scenario: ScenarioAsync, Rate: 10, Duration: 500 * time.Millisecond,
			Client: &http.Client{Transport: api}, Follow: 1, FollowTimeout: -1, FollowClient: &http.Client{Transport: api},
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the context's", err)
		}
		c := res.Confirmation
		if c == nil || !c.Interrupted || c.TimedOut || c.Unfinished != 5 || c.UnfinishedBy["processing"] != 5 {
			t.Fatalf("confirmation %+v: want 5 unfinished, processing, interrupted", c)
		}
	})
}

// TestFollowSampling: a share follows the first accepted order, then
// spreads evenly: ⌈n·share⌉ of n.
func TestFollowSampling(t *testing.T) {
	for _, tt := range []struct {
		share float64
		n     int
		want  []int // accepted orders followed, from 1
	}{
		{1, 3, []int{1, 2, 3}},
		{0.5, 5, []int{1, 3, 5}},
		{0.1, 25, []int{1, 11, 21}},
		{0.3, 10, []int{1, 4, 7}},
		{0.3, 11, []int{1, 4, 7, 11}},
		{0.001, 5, []int{1}},
	} {
		f := &follower{share: tt.share, interval: time.Second, wake: make(chan struct{}, 1)}
		var got []int
		for i := 1; i <= tt.n; i++ {
			before := len(f.orders)
			f.offer([]byte(fmt.Sprintf(`{"order_id":"o-%d"}`, i)), time.Now())
			if len(f.orders) > before {
				got = append(got, i)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("share %v of %d: followed %v, want %v", tt.share, tt.n, got, tt.want)
		}
	}
}

func TestFollowConfigErrors(t *testing.T) {
	ok := Config{BaseURL: "http://127.0.0.1:1", Scenario: ScenarioAsync, Rate: 1, Duration: time.Second}
	for name, edit := range map[string]func(*Config){
		"share above 1":        func(c *Config) { c.Follow = 1.5 },
		"negative share":       func(c *Config) { c.Follow = -0.1 },
		"sync scenario":        func(c *Config) { c.Follow, c.Scenario = 0.5, ScenarioSync },
		"negative interval":    func(c *Config) { c.Follow, c.FollowInterval = 0.5, -time.Second },
		"negative concurrency": func(c *Config) { c.Follow, c.FollowConcurrency = 0.5, -1 },
	} {
		cfg := ok
		edit(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestConfirmationReport: the JSON and CSV of a result with followed
// orders.
func TestConfirmationReport(t *testing.T) {
	r := sampleResult()
	r.Confirmation = &Confirmation{
		Share: 0.5, Interval: 250 * time.Millisecond, Concurrency: 16, Timeout: 2 * time.Minute, Accepted: 4, Followed: 2,
		Completed: 1, Unfinished: 1, UnfinishedBy: map[string]int{"pending": 1}, Polls: 9,
		PollErrors: map[string]int{"HTTP 503 Service Unavailable": 2}, TimedOut: true,
		Distribution: Distribution{Times: []time.Duration{1500 * time.Millisecond}},
		Server:       Distribution{Times: []time.Duration{1400 * time.Millisecond}},
		Orders: []FollowedOrder{
			{ID: "a", Accepted: 10 * time.Millisecond, Status: "completed", Finished: true, Time: 1500 * time.Millisecond,
				ServerTime: 1400 * time.Millisecond, HasServerTime: true, Polls: 6},
			{ID: "b", Accepted: 20 * time.Millisecond, Status: "pending", Polls: 3},
		},
	}
	r.Confirmation.summarize()
	var out struct {
		Confirmation struct {
			Followed     int            `json:"followed"`
			Finished     int            `json:"finished"`
			Unfinished   int            `json:"unfinished"`
			UnfinishedBy map[string]int `json:"unfinished_by"`
			MedianMS     float64        `json:"median_ms"`
			IntervalMS   float64        `json:"interval_ms"`
			TimeoutS     float64        `json:"timeout_s"`
			Server       struct {
				Orders   int     `json:"orders"`
				MedianMS float64 `json:"median_ms"`
			} `json:"server"`
		} `json:"confirmation"`
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	c := out.Confirmation
	if c.Followed != 2 || c.Finished != 1 || c.Unfinished != 1 || c.UnfinishedBy["pending"] != 1 || c.MedianMS != 1500 ||
		c.IntervalMS != 250 || c.TimeoutS != 120 || c.Server.Orders != 1 || c.Server.MedianMS != 1400 {
		t.Errorf("confirmation JSON %+v from %s", c, data)
	}
	if plain, _ := json.Marshal(sampleResult()); bytes.Contains(plain, []byte("confirmation")) {
		t.Errorf("a run without follow-up has a confirmation: %s", plain)
	}

	var b strings.Builder
	if err := r.WriteSummary(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"unfinished 1 (pending 1)", "polls 9, 2 failed (HTTP 503 Service Unavailable 2; the order was polled again)",
		"(stopped at the 2m0s cap)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}

	prefix := t.TempDir() + "/run"
	if err := r.WriteCSV(prefix); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, prefix+"_confirmations.csv")
	want := [][]string{
		{"Order ID", "Accepted At", "Status", "Finished", "Confirmation Time", "Server Time", "Polls"},
		{"a", "10.00", "completed", "true", "1500.00", "1400.00", "6"},
		{"b", "20.00", "pending", "false", "", "", "3"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("confirmations.csv = %v, want %v", rows, want)
	}
}
