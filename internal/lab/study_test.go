package lab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flashsale/internal/loadgen"
)

// TestStudyShortRun is the short lab run of `make test`: the sync normal
// phase and one worker-scaling phase against the real local server, at 20
// times real speed, checked against the model within the report's
// tolerances (processing rate within 10% of workers / payment delay, peak
// depth, drain time and median confirmation time within 15%, sync failure
// share within 15 points).
func TestStudyShortRun(t *testing.T) {
	// At 20 times real speed a payment takes 150 ms: long enough that the
	// scheduling delays of a busy 2-core host under -race (a few ms per
	// payment) stay well inside the tolerances.
	s := DefaultStudy(20)
	s.Phases = []string{PhaseSyncNormal, PhaseWorkers}
	s.Workers = []int{20}
	s.WorkerRate = 20 // 400 orders/s at this scale: light enough under -race
	s.DrainTimeout = 10 * time.Minute
	res, err := RunStudy(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Closed) != 1 || len(res.Workers) != 1 {
		t.Fatalf("ran %d closed and %d worker phases, want 1 and 1", len(res.Closed), len(res.Workers))
	}
	normal := res.Closed[0].Run.Load.Stats
	// The study's normal sync run: 9 requests in 30 s, none failed.
	if normal.Requests < 8 || normal.Requests > 10 || normal.Failures != 0 {
		t.Errorf("sync normal: %d requests, %d failures; want ~9 and 0", normal.Requests, normal.Failures)
	}
	w := res.Workers[0]
	if _, ok := w.ProcessingRate(); !ok {
		t.Fatalf("no processing rate measured: %+v", w.Run.Depth)
	}
	if _, ok := w.DrainTime(); !ok {
		t.Fatal("the queue did not drain")
	}
	// 20/s for 60 s: 1,200 orders, 24 of them followed until paid.
	c := w.Confirmation()
	if c == nil || c.Followed != 24 || c.Completed != 24 || len(c.Server.Times) != 24 {
		t.Fatalf("confirmation %+v: want 24 orders followed and completed", c)
	}
	// Auto interval: 1% of the model's longest confirmation, 3 s + 2 x 60 s.
	if w.FollowInterval != 1230*time.Millisecond {
		t.Errorf("poll interval %v, want 1.23 s", w.FollowInterval)
	}
	checks := res.Checks()
	if len(checks) != 5 {
		t.Errorf("%d checks, want 5 (rate, peak, drain, confirmation, sync failures): %+v", len(checks), checks)
	}
	for _, c := range checks {
		if !c.OK() {
			t.Errorf("%s: measured %.3f, model %.3f, tolerance %.3f", c.Name, c.Measured, c.Model, c.Tolerance)
		}
	}

	dir := t.TempDir()
	if err := res.WriteReport(dir); err != nil {
		t.Fatal(err)
	}
	report, err := os.ReadFile(filepath.Join(dir, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Sync vs async", "## Worker scaling", "| 20 | measured |", "| | model |", "| | study |", "![depth](depth.png)",
		"confirmation p50 | p95 | max |", "### Confirmation: from the 202 to the payment", "| 20 | 24 | 24 | 0 | 0 | 1.2 s |",
		"workers=20 confirmation p50 (s)", "![confirmation](confirmation.png)"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("REPORT.md lacks %q", want)
		}
	}
	for _, name := range []string{"depth.png", "latency.png", "confirmation.png", "workers-20_depth.csv", "workers-20_confirmations.csv", "sync-normal_stats.csv"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(data) == 0 {
			t.Errorf("%s: %v", name, err)
		}
		if strings.HasSuffix(name, ".png") && !strings.HasPrefix(string(data), "\x89PNG") {
			t.Errorf("%s is not a PNG", name)
		}
	}
}

func TestStudyValidate(t *testing.T) {
	for _, edit := range []func(*Study){
		func(s *Study) { s.TimeScale = 0.5 },
		func(s *Study) { s.Phases = []string{"bogus"} },
		func(s *Study) { s.AsyncTimeScale = 0.1 },
		func(s *Study) { s.PaymentDelay = 0 },
		func(s *Study) { s.FollowShare = 1.5 },
		func(s *Study) { s.FollowShare = -0.5 },
		func(s *Study) { s.FollowInterval = -time.Second },
	} {
		s := DefaultStudy(10)
		edit(&s)
		if _, err := RunStudy(context.Background(), s); err == nil {
			t.Errorf("invalid study %+v ran", s)
		}
	}
}

func TestArrivalWindow(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		samples []loadgen.Sample
		want    time.Duration
	}{
		{"none", nil, 0},
		{"one", []loadgen.Sample{{Start: 5 * ms, Latency: 2 * ms}}, 2 * ms},
		{"first sent to last accepted", []loadgen.Sample{
			{Start: 10 * ms, Latency: ms},
			{Start: 2 * ms, Latency: ms},
			{Start: 50 * ms, Latency: 5 * ms},
		}, 53 * ms},
		{"a late failure does not stretch it", []loadgen.Sample{
			{Start: 0, Latency: 10 * ms},
			{Start: 20 * ms, Latency: 100 * ms, Reason: "HTTP 503 Service Unavailable"},
		}, 10 * ms},
		{"only failures", []loadgen.Sample{{Start: 3 * ms, Latency: ms, Reason: "timeout"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := arrivalWindow(tt.samples); got != tt.want {
				t.Errorf("arrivalWindow = %v, want %v", got, tt.want)
			}
		})
	}
}
