package capacity

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// studySync is the study's sync path: one slot, 3 s payments, 30 s
// timeout, Locust's 100-500 ms wait.
func studySync(users int) SyncPath {
	return SyncPath{Users: users, Slots: 1, PaymentDelay: 3 * time.Second, Timeout: 30 * time.Second,
		ThinkMin: 100 * time.Millisecond, ThinkMax: 500 * time.Millisecond}
}

func TestModelSync(t *testing.T) {
	tests := []struct {
		name         string
		path         SyncPath
		wantCeiling  float64
		wantResponse time.Duration
		wantMaxUsers int
		wantFail     float64
		wantFailKeep float64
	}{
		{"study flash, 20 users", studySync(20), 1.0 / 3, 59700 * time.Millisecond, 10, 1 - 30.3/60, 1},
		{"study normal, 5 users", studySync(5), 1.0 / 3, 14700 * time.Millisecond, 10, 0, 0},
		{"one user never queues", studySync(1), 1.0 / 3, 3 * time.Second, 10, 0, 0},
		{"ten slots", func() SyncPath { p := studySync(20); p.Slots = 10; return p }(), 10.0 / 3, 5700 * time.Millisecond, 101, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ModelSync(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if !near(m.Ceiling, tt.wantCeiling, 1e-9) {
				t.Errorf("ceiling = %v, want %v", m.Ceiling, tt.wantCeiling)
			}
			if d := m.ResponseTime - tt.wantResponse; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("response = %v, want %v", m.ResponseTime, tt.wantResponse)
			}
			if m.MaxUsersWithinTimeout != tt.wantMaxUsers {
				t.Errorf("max users within timeout = %d, want %d", m.MaxUsersWithinTimeout, tt.wantMaxUsers)
			}
			if !near(m.FailureShare, tt.wantFail, 1e-9) || m.FailureShareNoAbandon != tt.wantFailKeep {
				t.Errorf("failure shares = %v / %v, want %v / %v", m.FailureShare, m.FailureShareNoAbandon, tt.wantFail, tt.wantFailKeep)
			}
			if m.Throughput > m.Ceiling+1e-12 {
				t.Errorf("throughput %v above the ceiling %v", m.Throughput, m.Ceiling)
			}
		})
	}
	if _, err := ModelSync(SyncPath{}); err == nil {
		t.Error("an empty path should be invalid")
	}
}

// TestSimulateSyncStudy replays the study's two sync runs.
func TestSimulateSyncStudy(t *testing.T) {
	// Normal: 5 users for 30 s: 9 requests, no failure, avg 10.6 s, ~0.3-0.4 req/s.
	normal, err := SimulateSync(SyncRun{SyncPath: studySync(5), SpawnRate: 10, Duration: 30 * time.Second, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if normal.Requests != 9 || normal.Failures != 0 {
		t.Errorf("5 users: %d requests, %d failures; want 9, 0", normal.Requests, normal.Failures)
	}
	if normal.AvgResponse < 10*time.Second || normal.AvgResponse > 12*time.Second {
		t.Errorf("5 users: avg %v, want 10-12 s (study: 10.6 s)", normal.AvgResponse)
	}
	if normal.MinResponse != 3*time.Second {
		t.Errorf("5 users: min %v, want the bare payment, 3 s", normal.MinResponse)
	}

	// Flash: 20 users for 60 s on a server that keeps paying for requests
	// whose client left (the study's): about two thirds fail (study: 69%).
	keep, err := SimulateSync(SyncRun{SyncPath: studySync(20), SpawnRate: 10, Duration: time.Minute, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if keep.FailureShare < 0.6 || keep.FailureShare > 0.75 {
		t.Errorf("20 users, keeping: failure share %.3f, want 0.60-0.75 (study: 0.69)", keep.FailureShare)
	}
	if keep.Successes > 20 {
		t.Errorf("20 users: %d successes in 60 s with one 3 s slot is impossible", keep.Successes)
	}
	// A server that abandons late requests wastes less and fails fewer.
	abandon, err := SimulateSyncMean(SyncRun{SyncPath: studySync(20), SpawnRate: 10, Duration: time.Minute, Abandon: true}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if abandon.FailureShare >= keep.FailureShare {
		t.Errorf("abandoning failure share %.3f, want below keeping %.3f", abandon.FailureShare, keep.FailureShare)
	}
	if abandon.MinFailureShare > abandon.FailureShare || abandon.MaxFailureShare < abandon.FailureShare {
		t.Errorf("mean %.3f outside [%.3f, %.3f]", abandon.FailureShare, abandon.MinFailureShare, abandon.MaxFailureShare)
	}
}

func TestSimulateSyncShapes(t *testing.T) {
	tests := []struct {
		name  string
		run   SyncRun
		check func(t *testing.T, o SyncOutcome)
	}{
		{
			"one user is paid every S+Z",
			SyncRun{SyncPath: studySync(1), Duration: 33 * time.Second},
			func(t *testing.T, o SyncOutcome) {
				// Requests end at 3, 6.3, 9.6, ..., 3 + 9·3.3 = 32.7 s: 10.
				if o.Requests != 10 || o.Failures != 0 || o.AvgResponse != 3*time.Second || o.MaxResponse != 3*time.Second {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			"as many slots as users never queue",
			SyncRun{SyncPath: func() SyncPath { p := studySync(10); p.Slots = 10; return p }(), Duration: time.Minute, Seed: 3},
			func(t *testing.T, o SyncOutcome) {
				if o.Failures != 0 || o.MaxResponse != 3*time.Second {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			"a timeout shorter than the payment fails everything",
			SyncRun{SyncPath: func() SyncPath { p := studySync(3); p.Timeout = 2 * time.Second; return p }(), Duration: time.Minute, Abandon: true},
			func(t *testing.T, o SyncOutcome) {
				if o.Successes != 0 || o.Requests == 0 || o.MaxResponse != 2*time.Second {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			"nothing ends before the first payment",
			SyncRun{SyncPath: studySync(5), Duration: 2 * time.Second},
			func(t *testing.T, o SyncOutcome) {
				if o.Requests != 0 || o.FailureShare != 0 || o.RPS != 0 {
					t.Errorf("got %+v", o)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := SimulateSync(tt.run)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

// TestSimulateSyncSteadyState: over an hour, an abandoning server fails at
// least the model's lower bound, and a keeping one nearly everything.
func TestSimulateSyncSteadyState(t *testing.T) {
	m, _ := ModelSync(studySync(20))
	for _, seed := range []uint64{0, 1, 2} {
		o, err := SimulateSync(SyncRun{SyncPath: studySync(20), Duration: time.Hour, Abandon: true, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if o.FailureShare < m.FailureShare-0.01 {
			t.Errorf("seed %d: abandoning failure share %.3f below the model's bound %.3f", seed, o.FailureShare, m.FailureShare)
		}
	}
	o, _ := SimulateSync(SyncRun{SyncPath: studySync(20), Duration: time.Hour})
	if o.FailureShare < 0.99 {
		t.Errorf("keeping failure share over an hour %.3f, want > 0.99", o.FailureShare)
	}
	// Determinism: the same seed gives the same run.
	a, _ := SimulateSync(SyncRun{SyncPath: studySync(20), Duration: time.Hour, Abandon: true, Seed: 7})
	b, _ := SimulateSync(SyncRun{SyncPath: studySync(20), Duration: time.Hour, Abandon: true, Seed: 7})
	if a != b {
		t.Errorf("same seed, different runs: %+v vs %+v", a, b)
	}
}

func TestSimulateSyncInvalid(t *testing.T) {
	if _, err := SimulateSync(SyncRun{SyncPath: studySync(1)}); err == nil {
		t.Error("zero duration should be an error")
	}
	if _, err := SimulateSyncMean(SyncRun{SyncPath: studySync(1), Duration: time.Second}, 0); err == nil {
		t.Error("zero runs should be an error")
	}
}

func TestReport(t *testing.T) {
	r, err := Build(Scenario{Rate: 60, Burst: time.Minute, PaymentDelay: 3 * time.Second, Workers: []int{1, 100},
		Sync: SyncRun{SyncPath: studySync(20), SpawnRate: 10}, Runs: 3})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3,580", "10,740 s (2h59m0s)", "10,849 s", "181 workers", "Little's law", "0.33 orders/s", "49.5%"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Queue []struct {
			Workers     int     `json:"workers"`
			PeakBacklog float64 `json:"peak_backlog"`
			Drain       float64 `json:"drain_s"`
			StudyDrain  float64 `json:"study_drain_s"`
			RealTime    int     `json:"workers_for_real_time"`
		} `json:"queue"`
		Sync struct {
			Ceiling    float64 `json:"ceiling"`
			Abandoning *struct {
				Runs int `json:"runs"`
			} `json:"run_abandoning"`
		} `json:"sync"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Queue) != 2 || got.Queue[0].PeakBacklog != 3580 || got.Queue[0].Drain != 10740 ||
		got.Queue[0].RealTime != 181 || got.Queue[1].Workers != 100 || !near(got.Queue[0].StudyDrain, 10849, 0.5) {
		t.Errorf("json queue = %+v", got.Queue)
	}
	if !near(got.Sync.Ceiling, 1.0/3, 1e-9) || got.Sync.Abandoning == nil || got.Sync.Abandoning.Runs != 3 {
		t.Errorf("json sync = %+v", got.Sync)
	}
	if _, err := Build(Scenario{Rate: 60, Burst: time.Minute, PaymentDelay: 3 * time.Second}); err == nil {
		t.Error("no worker counts should be an error")
	}
}

func TestNum(t *testing.T) {
	tests := []struct {
		x    float64
		d    int
		want string
	}{
		{3580, 0, "3,580"}, {10740.4, 0, "10,740"}, {0.333, 2, "0.33"}, {-1234567.891, 1, "-1,234,567.9"}, {999, 0, "999"},
	}
	for _, tt := range tests {
		if got := num(tt.x, tt.d); got != tt.want {
			t.Errorf("num(%v, %d) = %q, want %q", tt.x, tt.d, got, tt.want)
		}
	}
}
