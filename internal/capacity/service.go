package capacity

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"
)

// Service describes the worker service on ECS scaled on its backlog per
// task: tasks of WorkersPerTask workers each, and the time an order may wait
// from its arrival in the queue to the end of its payment.
type Service struct {
	// WorkersPerTask is W, the workers of one task (`flashsale worker
	// --workers`), each paying one order at a time.
	WorkersPerTask int
	// Latency is L, the longest time an order should take from the moment
	// it is in the queue to the end of its payment.
	Latency time.Duration
}

// ServicePlan is the scaling rule of a Service for one burst: the backlog
// per task that target tracking should hold, and the tasks the burst needs.
//
// One task pays W/S orders per second (S the payment delay). An order that
// finds B visible messages ahead of it per task waits B·S/W before its
// payment starts, and is paid S later: B·S/W + S <= L gives
//
//	B <= W·L/S − W = W·(L − S)/S
//
// that is, the orders one task pays within the latency (W/S · L) less the W
// in payment, which are not visible in the queue: those are the order's own
// S, one payment each. The target is that bound rounded down to a whole
// order. The messages a task has received ahead of its workers (its buffer,
// at most min(W, 10)) are not visible either: they add at most
// min(W, 10)·S/W to an order's wait, which the target leaves out.
//
// Application Auto Scaling's target tracking on visible messages / running
// tasks asks for ⌈backlog / target⌉ tasks. The burst needs the larger of
// the tasks that keep up in real time (⌊λ·S/W⌋ + 1: utilization below 1)
// and the tasks that hold every order of the burst at the target
// (⌈λ·T / target⌉: even if none was paid yet, each is confirmed within L):
// that is the maximum to allow.
type ServicePlan struct {
	Service
	// PaymentDelay is S.
	PaymentDelay time.Duration
	// Rate and Burst are the burst's λ and T.
	Rate  float64
	Burst time.Duration
	// TaskRate is W/S, the orders per second one task pays.
	TaskRate float64
	// PaidWithinLatency is W/S · L, the orders one task pays within the
	// latency.
	PaidWithinLatency float64
	// InPayment is W, the orders a busy task has in payment (received, not
	// visible in the queue).
	InPayment int
	// TargetBacklogPerTask is ⌊W·(L − S)/S⌋, the visible messages per
	// running task that target tracking should hold.
	TargetBacklogPerTask int
	// WaitAtTarget is TargetBacklogPerTask·S/W: how long an order behind
	// the target backlog waits before its payment starts.
	WaitAtTarget time.Duration
	// Arrivals is λ·T, the orders of the burst.
	Arrivals float64
	// TasksForRealTime is ⌊λ·S/W⌋ + 1, the fewest tasks with utilization
	// below 1.
	TasksForRealTime int
	// TasksForBacklog is ⌈λ·T / target⌉, the tasks that hold every order of
	// the burst at the target backlog per task.
	TasksForBacklog int
	// Tasks is the larger of the two: the tasks the burst needs, the
	// maximum the scaling should allow.
	Tasks int
}

// PlanService computes the scaling rule of s for a burst of rate orders/s
// lasting burst, each payment taking delay.
func PlanService(s Service, rate float64, burst, delay time.Duration) (ServicePlan, error) {
	switch {
	case s.WorkersPerTask < 1:
		return ServicePlan{}, fmt.Errorf("workers per task %d: need at least 1", s.WorkersPerTask)
	case delay <= 0:
		return ServicePlan{}, fmt.Errorf("payment delay %v: must be positive", delay)
	case s.Latency <= delay:
		return ServicePlan{}, fmt.Errorf("latency %v: must be longer than one payment (%v)", s.Latency, delay)
	case math.IsNaN(rate) || math.IsInf(rate, 0) || rate < 0:
		return ServicePlan{}, fmt.Errorf("rate %v: must be a finite number >= 0", rate)
	case burst < 0:
		return ServicePlan{}, fmt.Errorf("burst %v: must not be negative", burst)
	}
	w, sec := float64(s.WorkersPerTask), delay.Seconds()
	p := ServicePlan{Service: s, PaymentDelay: delay, Rate: rate, Burst: burst}
	p.TaskRate = w / sec
	p.PaidWithinLatency = p.TaskRate * s.Latency.Seconds()
	p.InPayment = s.WorkersPerTask
	// W·(L − S)/S in integer nanoseconds first, so that 20·57/3 is exactly
	// 380 and not 379.99999.
	p.TargetBacklogPerTask = int(int64(s.WorkersPerTask) * int64(s.Latency-delay) / int64(delay))
	if p.TargetBacklogPerTask < 1 {
		return ServicePlan{}, fmt.Errorf("latency %v leaves less than one order of backlog per task at %d workers and %v a payment", s.Latency, s.WorkersPerTask, delay)
	}
	p.WaitAtTarget = seconds(float64(p.TargetBacklogPerTask) / p.TaskRate)
	p.Arrivals = rate * burst.Seconds()
	p.TasksForRealTime = int(math.Floor(rate*sec/w)) + 1
	p.TasksForBacklog = int(math.Ceil(p.Arrivals / float64(p.TargetBacklogPerTask)))
	p.Tasks = max(p.TasksForRealTime, p.TasksForBacklog, 1)
	return p, nil
}

// writeText prints the plan as a section of the report.
func (p ServicePlan) writeText(b io.Writer) {
	w, s, l := p.WorkersPerTask, p.PaymentDelay, p.Latency
	fmt.Fprintf(b, "\nWorker service on ECS, scaled on backlog per task: %d workers per task, latency %v\n", w, l)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  one task pays\t%s orders/s (W/S = %d / %v)\n", num(p.TaskRate, 2), w, s)
	fmt.Fprintf(tw, "  paid within the latency\t%s orders per task (W/S · L = %s orders/s × %s s)\n", num(p.PaidWithinLatency, 0), num(p.TaskRate, 2), num(l.Seconds(), 1))
	fmt.Fprintf(tw, "  in payment\t%d orders per task (W: received, so not visible in the queue)\n", p.InPayment)
	fmt.Fprintf(tw, "  backlog per task to aim at\t%d visible messages per running task (W·L/S − W = W·(L − S)/S): one behind them waits %v, then its %v payment\n",
		p.TargetBacklogPerTask, p.WaitAtTarget.Round(100*time.Millisecond), s)
	fmt.Fprintf(tw, "  tasks for real time\t%d (⌊λ·S/W⌋ + 1: utilization below 1 at %s orders/s)\n", p.TasksForRealTime, num(p.Rate, 0))
	fmt.Fprintf(tw, "  tasks holding the burst\t%d (⌈λ·T / target⌉ = ⌈%s / %d⌉: every order of the burst within the latency)\n", p.TasksForBacklog, num(p.Arrivals, 0), p.TargetBacklogPerTask)
	fmt.Fprintf(tw, "  tasks the burst needs\t%d (the larger of the two: the most tasks to allow)\n", p.Tasks)
	_ = tw.Flush()
	fmt.Fprintf(b, "  template.yaml parameters: WorkersPerTask=%d PaymentDelay=%v BacklogPerTaskTarget=%d MaxTasks=%d\n", w, s, p.TargetBacklogPerTask, p.Tasks)
	fmt.Fprintf(b, "  (target tracking on ApproximateNumberOfMessagesVisible / RunningTaskCount then asks for ⌈visible / %d⌉ tasks)\n", p.TargetBacklogPerTask)
	buf := min(w, 10)
	fmt.Fprintf(b, "  not counted: the %d messages a busy task has received ahead of its workers (its buffer), invisible too: up to %v more wait\n",
		buf, seconds(float64(buf)/p.TaskRate).Round(100*time.Millisecond))
}
