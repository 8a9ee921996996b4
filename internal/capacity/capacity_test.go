package capacity

import (
	"math"
	"testing"
	"time"
)

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// TestPlanBurstStudy checks the fluid model against the study's arithmetic:
// 60 orders/s for 60 s with one 3 s worker, and the worker-scaling runs at
// ~51 orders/s.
func TestPlanBurstStudy(t *testing.T) {
	tests := []struct {
		name          string
		rate          float64
		workers       int
		wantRate      float64
		wantPaid      float64
		wantBacklog   float64
		wantDrain     time.Duration
		wantRealTime  int
		wantLambdaCon float64
	}{
		{"60/s, 1 worker", 60, 1, 1.0 / 3, 20, 3580, 10740 * time.Second, 181, 180},
		{"51/s, 1 worker", 51, 1, 1.0 / 3, 20, 3040, 9120 * time.Second, 154, 153},
		{"51/s, 5 workers", 51, 5, 5.0 / 3, 100, 2960, 1776 * time.Second, 154, 153},
		{"51/s, 20 workers", 51, 20, 20.0 / 3, 400, 2660, 399 * time.Second, 154, 153},
		{"51/s, 100 workers", 51, 100, 100.0 / 3, 2000, 1060, 31800 * time.Millisecond, 154, 153},
		{"51/s, 154 workers keep up", 51, 154, 154.0 / 3, 3060, 0, 0, 154, 153},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanBurst(Burst{Rate: tt.rate, Duration: time.Minute, PaymentDelay: 3 * time.Second, Workers: tt.workers})
			if err != nil {
				t.Fatal(err)
			}
			if !near(p.ProcessingRate, tt.wantRate, 1e-9) {
				t.Errorf("processing rate = %v, want %v", p.ProcessingRate, tt.wantRate)
			}
			if !near(p.ProcessedInBurst, tt.wantPaid, 1e-6) {
				t.Errorf("paid in burst = %v, want %v", p.ProcessedInBurst, tt.wantPaid)
			}
			if !near(p.PeakBacklog, tt.wantBacklog, 1e-6) {
				t.Errorf("peak backlog = %v, want %v", p.PeakBacklog, tt.wantBacklog)
			}
			if d := p.DrainTime - tt.wantDrain; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("drain = %v, want %v", p.DrainTime, tt.wantDrain)
			}
			if p.ClearTime != time.Minute+p.DrainTime {
				t.Errorf("clear = %v, want burst + drain = %v", p.ClearTime, time.Minute+p.DrainTime)
			}
			if p.WorkersForRealTime != tt.wantRealTime {
				t.Errorf("workers for real time = %d, want %d", p.WorkersForRealTime, tt.wantRealTime)
			}
			if !near(p.LambdaConcurrency, tt.wantLambdaCon, 1e-9) {
				t.Errorf("Lambda concurrency = %v, want %v", p.LambdaConcurrency, tt.wantLambdaCon)
			}
			if !near(p.Arrivals, tt.rate*60, 1e-9) || !near(p.ProcessedInBurst+p.PeakBacklog, p.Arrivals, 1e-6) {
				t.Errorf("arrivals %v != paid %v + backlog %v", p.Arrivals, p.ProcessedInBurst, p.PeakBacklog)
			}
		})
	}
}

// TestStudyPlan shows where the study's ~10,849 s comes from: a processing
// rate rounded to 0.33 order/s, used for the backlog and the drain.
func TestStudyPlan(t *testing.T) {
	b := Burst{Rate: 60, Duration: time.Minute, PaymentDelay: 3 * time.Second, Workers: 1}
	p, err := StudyPlan(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.ProcessingRate != 0.33 {
		t.Errorf("study processing rate = %v, want 0.33", p.ProcessingRate)
	}
	if !near(p.PeakBacklog, 3580.2, 1e-6) {
		t.Errorf("study backlog = %v, want 3,580.2", p.PeakBacklog)
	}
	if got := p.DrainTime.Round(time.Second); got != 10849*time.Second {
		t.Errorf("study drain = %v (%v s), want 10,849 s", got, got.Seconds())
	}
	exact, _ := PlanBurst(b)
	if exact.DrainTime >= p.DrainTime {
		t.Errorf("exact drain %v should be below the study's rounded %v", exact.DrainTime, p.DrainTime)
	}
	// The reference drain times at ~51 orders/s: ~2.6 h with 1 worker,
	// ~30 min with 5.
	for _, c := range []struct {
		workers  int
		lo, high time.Duration
	}{{1, 150 * time.Minute, 160 * time.Minute}, {5, 29 * time.Minute, 31 * time.Minute}} {
		sp, _ := StudyPlan(Burst{Rate: 51, Duration: time.Minute, PaymentDelay: 3 * time.Second, Workers: c.workers})
		if sp.DrainTime < c.lo || sp.DrainTime > c.high {
			t.Errorf("%d workers: study drain %v, want within [%v, %v]", c.workers, sp.DrainTime, c.lo, c.high)
		}
	}
	if _, err := StudyPlan(Burst{Rate: 1, Duration: time.Second, PaymentDelay: time.Hour, Workers: 1}); err == nil {
		t.Error("a rate that rounds to 0 should be an error")
	}
}

func TestWorkersForRealTime(t *testing.T) {
	tests := []struct {
		rate  float64
		delay time.Duration
		want  int
	}{
		{60, 3 * time.Second, 181},
		{51, 3 * time.Second, 154},
		{51.5, 3 * time.Second, 155}, // the study's "~155 at ~51/s"
		{10, 100 * time.Millisecond, 2},
		{0.2, 3 * time.Second, 1},
		{0, 3 * time.Second, 1},
	}
	for _, tt := range tests {
		if got := WorkersForRealTime(tt.rate, tt.delay); got != tt.want {
			t.Errorf("WorkersForRealTime(%v, %v) = %d, want %d", tt.rate, tt.delay, got, tt.want)
		}
		// The answer keeps up and one fewer does not.
		n := WorkersForRealTime(tt.rate, tt.delay)
		if u := tt.rate * tt.delay.Seconds() / float64(n); u >= 1 {
			t.Errorf("rate %v: %d workers have utilization %v >= 1", tt.rate, n, u)
		}
		if n > 1 {
			if u := tt.rate * tt.delay.Seconds() / float64(n-1); u < 1-1e-9 {
				t.Errorf("rate %v: %d workers already keep up (utilization %v)", tt.rate, n-1, u)
			}
		}
	}
}

func TestBacklogAt(t *testing.T) {
	p, err := PlanBurst(Burst{Rate: 51, Duration: time.Minute, PaymentDelay: 3 * time.Second, Workers: 20})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at   time.Duration
		want float64
	}{
		{-time.Second, 0},
		{0, 0},
		{30 * time.Second, 2660.0 / 2},
		{time.Minute, 2660},
		{time.Minute + p.DrainTime/2, 1330},
		{p.ClearTime, 0},
		{p.ClearTime + time.Hour, 0},
	}
	for _, tt := range tests {
		if got := p.BacklogAt(tt.at); !near(got, tt.want, 0.01) {
			t.Errorf("BacklogAt(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestBurstValidate(t *testing.T) {
	ok := Burst{Rate: 1, Duration: time.Second, PaymentDelay: time.Second, Workers: 1}
	tests := []struct {
		name string
		edit func(*Burst)
	}{
		{"negative rate", func(b *Burst) { b.Rate = -1 }},
		{"NaN rate", func(b *Burst) { b.Rate = math.NaN() }},
		{"infinite rate", func(b *Burst) { b.Rate = math.Inf(1) }},
		{"negative burst", func(b *Burst) { b.Duration = -time.Second }},
		{"zero delay", func(b *Burst) { b.PaymentDelay = 0 }},
		{"no workers", func(b *Burst) { b.Workers = 0 }},
	}
	if _, err := PlanBurst(ok); err != nil {
		t.Fatalf("valid burst: %v", err)
	}
	for _, tt := range tests {
		b := ok
		tt.edit(&b)
		if _, err := PlanBurst(b); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestClosedThroughput(t *testing.T) {
	tests := []struct {
		users       int
		resp, think time.Duration
		want        float64
	}{
		{20, 90 * time.Millisecond, 300 * time.Millisecond, 51.28}, // the study's async acceptance
		{5, 15 * time.Second, 300 * time.Millisecond, 0.327},
		{0, time.Second, time.Second, 0},
		{1, 0, 0, 0},
	}
	for _, tt := range tests {
		if got := ClosedThroughput(tt.users, tt.resp, tt.think); !near(got, tt.want, 0.01) {
			t.Errorf("ClosedThroughput(%d, %v, %v) = %v, want %v", tt.users, tt.resp, tt.think, got, tt.want)
		}
	}
}

func TestLittleL(t *testing.T) {
	if got := LittleL(60, 3*time.Second); got != 180 {
		t.Errorf("LittleL(60/s, 3s) = %v, want 180", got)
	}
	if got := LittleL(100, 3065*time.Millisecond); !near(got, 306.5, 1e-9) {
		t.Errorf("LittleL(100/s, 3.065s) = %v, want 306.5", got)
	}
}
