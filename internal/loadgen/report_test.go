package loadgen

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sampleResult() *Result {
	r := &Result{
		Name: ScenarioSync.Name(), Model: "closed", Scenario: ScenarioSync, URL: "http://127.0.0.1:8080/orders/sync",
		Started: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Elapsed: 3 * time.Second,
		Users: 2, SpawnRate: 10, ThinkMin: DefaultThinkMin, ThinkMax: DefaultThinkMax, Timeout: DefaultTimeout,
		Samples: []Sample{
			{Start: 0, Latency: 3 * time.Second, Status: 200, Bytes: 10},
			{Start: 0, Latency: 2500 * time.Millisecond, Status: 504, Reason: StatusReason(504), Bytes: 10},
			{Start: 100 * time.Millisecond, Latency: 500 * time.Millisecond, Status: 402, Reason: StatusReason(402), Bytes: 10},
		},
		Unfinished: 1,
		spawns:     []time.Duration{0, 100 * time.Millisecond},
	}
	r.finish()
	return r
}

func TestWriteSummary(t *testing.T) {
	var b bytes.Buffer
	if err := sampleResult().WriteSummary(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"closed model, 2 users", "Aggregated", "/orders/sync", "2(66.67%)", "Response time percentiles",
		"requests 3, failures 2 (66.7%), 1.00 req/s", "median 2500", "max 3000 ms",
		"unfinished when the run ended (not counted, as in Locust): 1",
		"Error report", "POST /orders/sync: HTTP 504 Gateway Timeout", "POST /orders/sync: HTTP 402 Payment Required",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func readCSV(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestWriteCSV(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "run")
	if err := sampleResult().WriteCSV(prefix); err != nil {
		t.Fatal(err)
	}
	stats := readCSV(t, prefix+"_stats.csv")
	if len(stats) != 3 || stats[0][0] != "Type" || stats[0][2] != "Request Count" || stats[0][len(stats[0])-1] != "100%" {
		t.Fatalf("stats.csv header/rows = %v", stats)
	}
	if stats[1][0] != "POST" || stats[1][1] != "/orders/sync" || stats[1][2] != "3" || stats[1][3] != "2" || stats[1][4] != "2500.00" {
		t.Errorf("endpoint row = %v", stats[1])
	}
	if stats[2][1] != "Aggregated" {
		t.Errorf("last row = %v, want Aggregated", stats[2])
	}
	hist := readCSV(t, prefix+"_stats_history.csv")
	if len(hist) != 4 || hist[0][0] != "Timestamp" || hist[0][1] != "User Count" {
		t.Fatalf("history = %v", hist)
	}
	// Second 1: the 402 (ends 0.6 s); second 2: none; second 3: the 504 and the 200.
	if hist[1][0] != strconv.FormatInt(sampleResult().Started.Unix()+1, 10) || hist[1][1] != "2" || hist[1][4] != "1" || hist[1][5] != "1" {
		t.Errorf("history second 1 = %v", hist[1])
	}
	if hist[2][4] != "0" || hist[2][6] != "N/A" {
		t.Errorf("history second 2 = %v, want no requests and N/A percentiles", hist[2])
	}
	if total := hist[3][len(hist[3])-7]; total != "3" {
		t.Errorf("history total requests at the end = %s, want 3", total)
	}
	fails := readCSV(t, prefix+"_failures.csv")
	if len(fails) != 3 || fails[0][2] != "Error" || fails[1][3] != "1" {
		t.Errorf("failures.csv = %v", fails)
	}
	if err := sampleResult().WriteCSV(filepath.Join(t.TempDir(), "missing", "dir", "run")); err == nil {
		t.Error("writing into a missing directory should fail")
	}
}

func TestResultJSON(t *testing.T) {
	data, err := json.Marshal(sampleResult())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Model      string `json:"model"`
		Unfinished int    `json:"unfinished"`
		Stats      struct {
			Requests    int                `json:"requests"`
			Failures    int                `json:"failures"`
			Reasons     map[string]int     `json:"failures_by_reason"`
			MedianMS    float64            `json:"median_ms"`
			P99MS       float64            `json:"p99_ms"`
			Percentiles map[string]float64 `json:"percentiles_ms"`
		} `json:"stats"`
		History []struct {
			Requests int `json:"requests"`
		} `json:"history"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Model != "closed" || got.Unfinished != 1 || got.Stats.Requests != 3 || got.Stats.Failures != 2 ||
		got.Stats.MedianMS != 2500 || got.Stats.P99MS != 3000 || got.Stats.Percentiles["99.9"] != 3000 ||
		got.Stats.Reasons["HTTP 504 Gateway Timeout"] != 1 || len(got.History) != 3 {
		t.Errorf("json = %s", data)
	}
}

func TestProgressPrinter(t *testing.T) {
	p := Progress{Elapsed: 2 * time.Second, Duration: time.Minute, Model: "closed", Users: 20, Requests: 100,
		Failures: 5, CurrentRPS: 51.2, CurrentMedian: 2 * time.Millisecond, CurrentP95: 7 * time.Millisecond}
	var term bytes.Buffer
	tp := NewProgressPrinter(&term, true)
	tp.Print(p)
	p.Final = true
	tp.Print(p)
	out := term.String()
	if strings.Count(out, "\r") != 2 || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("terminal output %q: want two \\r-rewritten lines and one final newline", out)
	}
	if !strings.Contains(out, "users 20 | reqs 100 | fails 5 (5.0%) | 51.2 req/s | p50 2.00 ms | p95 7.00 ms") {
		t.Errorf("line = %q", out)
	}
	var plain bytes.Buffer
	pp := NewProgressPrinter(&plain, false)
	p.Final, p.Model, p.InFlight = false, "open", 180
	pp.Print(p)
	pp.Print(p)
	if lines := strings.Split(strings.TrimSuffix(plain.String(), "\n"), "\n"); len(lines) != 2 || strings.Contains(plain.String(), "\r") ||
		!strings.Contains(lines[0], "in flight 180") {
		t.Errorf("plain output %q: want two lines, no \\r", plain.String())
	}
	if tp.Err() != nil || pp.Err() != nil {
		t.Errorf("errors: %v %v", tp.Err(), pp.Err())
	}
}
