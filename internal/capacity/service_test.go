package capacity

import (
	"strings"
	"testing"
	"time"
)

// TestPlanService: the backlog per task to aim at is what one task pays
// within the latency less what it has in payment, and the tasks the burst
// needs the larger of real time and the whole burst held at the target.
func TestPlanService(t *testing.T) {
	tests := []struct {
		name                string
		workers             int
		latency, delay      time.Duration
		rate                float64
		burst               time.Duration
		target              int
		realTime, atTarget  int
		tasks               int
		wait                time.Duration
		paidWithin, perTask float64
	}{
		// The study's burst: 20/3 orders/s a task, 400 within 60 s, 20 in
		// payment; 60·3/20 = 9 tasks is utilization 1, so 10; 3,600/380 =
		// 9.47, so 10.
		{"study", 20, time.Minute, 3 * time.Second, 60, time.Minute, 380, 10, 10, 10, 57 * time.Second, 400, 20.0 / 3},
		// Fewer workers per task: 10·57/3 = 190; real time ⌊18⌋ + 1 = 19;
		// 3,600/190 = 18.9, so 19.
		{"10 workers", 10, time.Minute, 3 * time.Second, 60, time.Minute, 190, 19, 19, 19, 57 * time.Second, 200, 10.0 / 3},
		// A tight latency: 20·(10 − 3)/3 = 46.67, rounded down to 46;
		// holding 3,600 orders at 46 a task takes 79 tasks.
		{"tight latency", 20, 10 * time.Second, 3 * time.Second, 60, time.Minute, 46, 10, 79, 79, 6900 * time.Millisecond, 66.67, 20.0 / 3},
		// No burst: one task, whatever the target.
		{"idle", 20, time.Minute, 3 * time.Second, 0, time.Minute, 380, 1, 0, 1, 57 * time.Second, 400, 20.0 / 3},
		// Half a second payments: 40 orders/s a task, 2,400 within the
		// minute, less 20.
		{"fast payments", 20, time.Minute, 500 * time.Millisecond, 60, time.Minute, 2380, 2, 2, 2, 59500 * time.Millisecond, 2400, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanService(Service{WorkersPerTask: tt.workers, Latency: tt.latency}, tt.rate, tt.burst, tt.delay)
			if err != nil {
				t.Fatal(err)
			}
			if p.TargetBacklogPerTask != tt.target || p.TasksForRealTime != tt.realTime || p.TasksForBacklog != tt.atTarget || p.Tasks != tt.tasks {
				t.Errorf("target %d, tasks real time %d, at target %d, needed %d; want %d, %d, %d, %d",
					p.TargetBacklogPerTask, p.TasksForRealTime, p.TasksForBacklog, p.Tasks, tt.target, tt.realTime, tt.atTarget, tt.tasks)
			}
			if d := p.WaitAtTarget - tt.wait; d > time.Millisecond || d < -time.Millisecond {
				t.Errorf("wait at target %v, want %v", p.WaitAtTarget, tt.wait)
			}
			// The order behind the target is paid within the latency.
			if p.WaitAtTarget+tt.delay > tt.latency {
				t.Errorf("wait %v + payment %v passes the latency %v", p.WaitAtTarget, tt.delay, tt.latency)
			}
			if !near(p.PaidWithinLatency, tt.paidWithin, 0.01) || !near(p.TaskRate, tt.perTask, 1e-9) || p.InPayment != tt.workers {
				t.Errorf("paid within latency %v, task rate %v, in payment %d; want %v, %v, %d", p.PaidWithinLatency, p.TaskRate, p.InPayment, tt.paidWithin, tt.perTask, tt.workers)
			}
		})
	}
}

func TestPlanServiceInvalid(t *testing.T) {
	tests := []struct {
		name    string
		s       Service
		rate    float64
		delay   time.Duration
		wantErr string
	}{
		{"no workers", Service{WorkersPerTask: 0, Latency: time.Minute}, 60, 3 * time.Second, "workers per task 0"},
		{"latency of one payment", Service{WorkersPerTask: 20, Latency: 3 * time.Second}, 60, 3 * time.Second, "longer than one payment"},
		{"latency under one order", Service{WorkersPerTask: 1, Latency: 4 * time.Second}, 60, 3 * time.Second, "less than one order of backlog"},
		{"no payment delay", Service{WorkersPerTask: 20, Latency: time.Minute}, 60, 0, "payment delay 0s"},
		{"negative rate", Service{WorkersPerTask: 20, Latency: time.Minute}, -1, 3 * time.Second, "rate -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PlanService(tt.s, tt.rate, time.Minute, tt.delay)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestReportService: the report carries the service's plan when the
// scenario gives workers per task, and explains it.
func TestReportService(t *testing.T) {
	sc := Scenario{Rate: 60, Burst: time.Minute, PaymentDelay: 3 * time.Second, Workers: []int{1}, Runs: 1,
		Sync: SyncRun{SyncPath: SyncPath{Users: 20, Slots: 1, Timeout: 30 * time.Second}}}
	r, err := Build(sc)
	if err != nil {
		t.Fatal(err)
	}
	if r.Service != nil {
		t.Errorf("no workers per task: service plan %+v, want none", r.Service)
	}
	sc.Service = Service{WorkersPerTask: 20, Latency: time.Minute}
	if r, err = Build(sc); err != nil {
		t.Fatal(err)
	}
	if r.Service == nil || r.Service.TargetBacklogPerTask != 380 || r.Service.Tasks != 10 {
		t.Fatalf("service plan %+v, want target 380 and 10 tasks", r.Service)
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"20 workers per task, latency 1m0s", "backlog per task to aim at  380", "W·L/S − W", "tasks the burst needs       10",
		"BacklogPerTaskTarget=380 MaxTasks=10", "waits 57s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	sc.Service.Latency = time.Second
	if _, err := Build(sc); err == nil || !strings.Contains(err.Error(), "worker service: latency 1s") {
		t.Errorf("latency below a payment: err %v", err)
	}
}
