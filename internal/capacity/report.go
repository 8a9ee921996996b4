package capacity

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Scenario is what `flashsale plan` models: one burst on the queue-backed
// path at one or more worker counts, and the synchronous path under a
// closed population of users for the same length of time.
type Scenario struct {
	// Rate, Burst and PaymentDelay describe the flash sale.
	Rate         float64
	Burst        time.Duration
	PaymentDelay time.Duration
	// Workers lists the pool sizes to plan, one column each.
	Workers []int
	// Sync describes the synchronous path; its PaymentDelay and Duration
	// are taken from the scenario.
	Sync SyncRun
	// Runs is how many seeded simulations of the sync path are averaged
	// (10 when zero).
	Runs int
	// ConcurrencyQuota is the Lambda concurrent executions the account
	// allows in the Region (DefaultConcurrencyQuota when zero): the report
	// warns when the processor alone would need more.
	ConcurrencyQuota int
	// Service, when its WorkersPerTask is set, plans the worker service on
	// ECS scaled on backlog per task for the same burst (PlanService).
	Service Service
}

// DefaultConcurrencyQuota is AWS Lambda's default concurrent executions
// quota per account and Region.
const DefaultConcurrencyQuota = 1000

// Report is the capacity of a Scenario.
type Report struct {
	// Scenario is the input, with defaults filled in.
	Scenario Scenario
	// Plans holds one fluid-model plan per worker count.
	Plans []Plan
	// Study holds the same plans with the study's rounding (StudyPlan).
	Study []Plan
	// Sync is the steady-state model of the synchronous path.
	Sync SyncModel
	// Abandoning and Keeping are simulated runs of the synchronous path
	// for the length of the burst: on a server that stops paying for
	// requests whose deadline passed (this one), and on one that keeps
	// paying for them (the studied system).
	Abandoning, Keeping SyncMean
	// Service is the worker service's scaling rule, when the scenario
	// gives workers per task.
	Service *ServicePlan
}

// OverQuota reports whether the processor Lambda alone would need more
// concurrent executions (Little's law, rounded up) than the quota.
func (r Report) OverQuota() bool {
	return len(r.Plans) > 0 && math.Ceil(r.Plans[0].LambdaConcurrency) > float64(r.Scenario.ConcurrencyQuota)
}

// Build computes the report of sc.
func Build(sc Scenario) (Report, error) {
	if len(sc.Workers) == 0 {
		return Report{}, fmt.Errorf("need at least one worker count")
	}
	if sc.Runs == 0 {
		sc.Runs = 10
	}
	switch {
	case sc.ConcurrencyQuota == 0:
		sc.ConcurrencyQuota = DefaultConcurrencyQuota
	case sc.ConcurrencyQuota < 0:
		return Report{}, fmt.Errorf("concurrency quota %d: must be positive", sc.ConcurrencyQuota)
	}
	r := Report{Scenario: sc}
	if sc.Service.WorkersPerTask != 0 {
		sp, err := PlanService(sc.Service, sc.Rate, sc.Burst, sc.PaymentDelay)
		if err != nil {
			return Report{}, fmt.Errorf("worker service: %w", err)
		}
		r.Service = &sp
	}
	for _, n := range sc.Workers {
		p, err := PlanBurst(Burst{Rate: sc.Rate, Duration: sc.Burst, PaymentDelay: sc.PaymentDelay, Workers: n})
		if err != nil {
			return Report{}, fmt.Errorf("plan %d workers: %w", n, err)
		}
		r.Plans = append(r.Plans, p)
		sp, err := StudyPlan(p.Burst)
		if err != nil {
			return Report{}, fmt.Errorf("plan %d workers: %w", n, err)
		}
		r.Study = append(r.Study, sp)
	}
	run := sc.Sync
	run.PaymentDelay = sc.PaymentDelay
	run.Duration = sc.Burst
	var err error
	if r.Sync, err = ModelSync(run.SyncPath); err != nil {
		return Report{}, fmt.Errorf("sync model: %w", err)
	}
	if run.Duration > 0 {
		run.Abandon = true
		if r.Abandoning, err = SimulateSyncMean(run, sc.Runs); err != nil {
			return Report{}, fmt.Errorf("sync simulation: %w", err)
		}
		run.Abandon = false
		if r.Keeping, err = SimulateSyncMean(run, sc.Runs); err != nil {
			return Report{}, fmt.Errorf("sync simulation: %w", err)
		}
	}
	r.Scenario.Sync = run
	return r, nil
}

// WriteText prints the report for people: one column per worker count.
func (r Report) WriteText(w io.Writer) error {
	sc := r.Scenario
	b := &strings.Builder{}
	fmt.Fprintf(b, "Flash sale: %s orders/s for %v, payment %v\n\n", strconv.FormatFloat(sc.Rate, 'f', -1, 64), sc.Burst, sc.PaymentDelay)
	fmt.Fprintf(b, "Queue and workers (fluid model)\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(label string, cell func(Plan) string) {
		fmt.Fprintf(tw, "%-28s\t", label)
		for _, p := range r.Plans {
			fmt.Fprintf(tw, "%s\t", cell(p))
		}
		fmt.Fprintln(tw)
	}
	row("workers", func(p Plan) string { return strconv.Itoa(p.Workers) })
	row("processing rate (orders/s)", func(p Plan) string { return num(p.ProcessingRate, 2) })
	row("utilization", func(p Plan) string { return num(p.Utilization, 2) })
	row("arrivals", func(p Plan) string { return num(p.Arrivals, 0) })
	row("paid during the burst", func(p Plan) string { return num(p.ProcessedInBurst, 0) })
	row("backlog growth (orders/s)", func(p Plan) string { return num(p.BacklogGrowth, 2) })
	row("peak backlog (orders)", func(p Plan) string { return num(p.PeakBacklog, 0) })
	row("drain after the burst", func(p Plan) string { return dur(p.DrainTime) })
	study := make(map[int]Plan, len(r.Study))
	for _, p := range r.Study {
		study[p.Workers] = p
	}
	row("  study's rounding: backlog", func(p Plan) string { return num(study[p.Workers].PeakBacklog, 1) })
	row("  study's rounding: drain", func(p Plan) string { return dur(study[p.Workers].DrainTime) })
	row("clear from the start", func(p Plan) string { return dur(p.ClearTime) })
	if err := tw.Flush(); err != nil {
		return err
	}
	p0 := r.Plans[0]
	fmt.Fprintf(b, "\n  real time needs %d workers (utilization < 1; λ·S = %s)\n", p0.WorkersForRealTime, num(p0.LambdaConcurrency, 1))
	fmt.Fprintf(b, "  Lambda concurrency by Little's law (L = λ·W, W = %v): %s of the account's %s (%s%%)\n",
		sc.PaymentDelay, num(p0.LambdaConcurrency, 1), num(float64(sc.ConcurrencyQuota), 0), num(100*p0.LambdaConcurrency/float64(sc.ConcurrencyQuota), 1))
	if r.OverQuota() {
		fmt.Fprintf(b, "  WARNING: the processor alone needs %s concurrent executions, over the quota of %s: Lambda throttles it\n"+
			"  (SNS retries throttled deliveries, then dead-letters them) and the API function shares the same quota; ask for a\n"+
			"  higher quota (--concurrency-quota) or cap the processor (ProcessorReservedConcurrency) and let the backlog wait\n",
			num(math.Ceil(p0.LambdaConcurrency), 0), num(float64(sc.ConcurrencyQuota), 0))
	}
	fmt.Fprintf(b, "  drain = peak backlog / (workers / payment delay); the study rounded workers / delay to 2 decimals first\n")
	if r.Service != nil {
		r.Service.writeText(b)
	}

	m := r.Sync
	fmt.Fprintf(b, "\nSynchronous path: %d users, %d slot(s), %v timeout, think %v-%v\n",
		m.Users, m.Slots, m.Timeout, m.ThinkMin, m.ThinkMax)
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  ceiling\t%s orders/s (slots / payment delay)\n", num(m.Ceiling, 2))
	fmt.Fprintf(tw, "  saturates at\t%s users (c·(S+Z)/S)\n", num(m.SaturationUsers, 1))
	fmt.Fprintf(tw, "  response time without timeouts\t%v (N·S/c − Z)\n", m.ResponseTime.Round(time.Millisecond))
	fmt.Fprintf(tw, "  users served within the timeout\t%d\n", m.MaxUsersWithinTimeout)
	fmt.Fprintf(tw, "  steady-state failures\t>= %s if the server abandons late requests; %s if it keeps paying them\n",
		pct(m.FailureShare), pct(m.FailureShareNoAbandon))
	if sc.Sync.Duration > 0 {
		for _, c := range []struct {
			name string
			m    SyncMean
		}{{"server abandons (this one)", r.Abandoning}, {"server keeps paying (the study's)", r.Keeping}} {
			fmt.Fprintf(tw, "  a %v run, %s\t%s requests, %s req/s, %s failures (%s-%s), avg %v; spawn %s users/s, mean of %d seeds\n",
				sc.Sync.Duration, c.name, num(c.m.Requests, 1), num(c.m.RPS, 2), pct(c.m.FailureShare),
				pct(c.m.MinFailureShare), pct(c.m.MaxFailureShare), c.m.AvgResponse.Round(100*time.Millisecond),
				spawn(sc.Sync.SpawnRate), c.m.Runs)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MarshalJSON encodes the report with durations in seconds.
func (r Report) MarshalJSON() ([]byte, error) {
	type planJSON struct {
		Workers            int     `json:"workers"`
		ProcessingRate     float64 `json:"processing_rate"`
		Utilization        float64 `json:"utilization"`
		Arrivals           float64 `json:"arrivals"`
		ProcessedInBurst   float64 `json:"processed_in_burst"`
		BacklogGrowth      float64 `json:"backlog_growth"`
		PeakBacklog        float64 `json:"peak_backlog"`
		DrainSeconds       float64 `json:"drain_s"`
		StudyBacklog       float64 `json:"study_peak_backlog"`
		StudyDrainSeconds  float64 `json:"study_drain_s"`
		ClearSeconds       float64 `json:"clear_s"`
		WorkersForRealTime int     `json:"workers_for_real_time"`
		LambdaConcurrency  float64 `json:"lambda_concurrency"`
	}
	type serviceJSON struct {
		WorkersPerTask       int     `json:"workers_per_task"`
		LatencySeconds       float64 `json:"latency_s"`
		TaskRate             float64 `json:"task_rate"`
		PaidWithinLatency    float64 `json:"paid_within_latency"`
		InPayment            int     `json:"in_payment"`
		TargetBacklogPerTask int     `json:"target_backlog_per_task"`
		WaitAtTargetSeconds  float64 `json:"wait_at_target_s"`
		TasksForRealTime     int     `json:"tasks_for_real_time"`
		TasksForBacklog      int     `json:"tasks_for_backlog"`
		Tasks                int     `json:"tasks"`
	}
	type simJSON struct {
		Runs            int     `json:"runs"`
		Requests        float64 `json:"requests"`
		Successes       float64 `json:"successes"`
		Failures        float64 `json:"failures"`
		FailureShare    float64 `json:"failure_share"`
		MinFailureShare float64 `json:"min_failure_share"`
		MaxFailureShare float64 `json:"max_failure_share"`
		RPS             float64 `json:"rps"`
		AvgSeconds      float64 `json:"avg_response_s"`
	}
	sim := func(m SyncMean) simJSON {
		return simJSON{m.Runs, m.Requests, m.Successes, m.Failures, m.FailureShare, m.MinFailureShare,
			m.MaxFailureShare, m.RPS, m.AvgResponse.Seconds()}
	}
	sc := r.Scenario
	out := struct {
		Rate             float64      `json:"rate"`
		BurstSeconds     float64      `json:"burst_s"`
		DelaySeconds     float64      `json:"payment_delay_s"`
		ConcurrencyQuota int          `json:"concurrency_quota"`
		OverQuota        bool         `json:"over_concurrency_quota"`
		Queue            []planJSON   `json:"queue"`
		Service          *serviceJSON `json:"service,omitempty"`
		Sync             struct {
			Users                 int      `json:"users"`
			Slots                 int      `json:"slots"`
			TimeoutSeconds        float64  `json:"timeout_s"`
			ThinkMinSeconds       float64  `json:"think_min_s"`
			ThinkMaxSeconds       float64  `json:"think_max_s"`
			SpawnRate             float64  `json:"spawn_rate"`
			Ceiling               float64  `json:"ceiling"`
			SaturationUsers       float64  `json:"saturation_users"`
			Throughput            float64  `json:"throughput"`
			ResponseSeconds       float64  `json:"response_time_s"`
			MaxUsersWithinTimeout int      `json:"max_users_within_timeout"`
			FailureShare          float64  `json:"failure_share_min_abandoning"`
			FailureShareNoAbandon float64  `json:"failure_share_keeping"`
			Abandoning            *simJSON `json:"run_abandoning,omitempty"`
			Keeping               *simJSON `json:"run_keeping,omitempty"`
		} `json:"sync"`
	}{Rate: sc.Rate, BurstSeconds: sc.Burst.Seconds(), DelaySeconds: sc.PaymentDelay.Seconds(),
		ConcurrencyQuota: sc.ConcurrencyQuota, OverQuota: r.OverQuota()}
	for i, p := range r.Plans {
		sp := r.Study[i]
		out.Queue = append(out.Queue, planJSON{
			p.Workers, p.ProcessingRate, p.Utilization, p.Arrivals, p.ProcessedInBurst, p.BacklogGrowth,
			p.PeakBacklog, p.DrainTime.Seconds(), sp.PeakBacklog, sp.DrainTime.Seconds(),
			p.ClearTime.Seconds(), p.WorkersForRealTime, p.LambdaConcurrency,
		})
	}
	if sp := r.Service; sp != nil {
		out.Service = &serviceJSON{sp.WorkersPerTask, sp.Latency.Seconds(), sp.TaskRate, sp.PaidWithinLatency, sp.InPayment,
			sp.TargetBacklogPerTask, sp.WaitAtTarget.Seconds(), sp.TasksForRealTime, sp.TasksForBacklog, sp.Tasks}
	}
	m := r.Sync
	s := &out.Sync
	s.Users, s.Slots, s.TimeoutSeconds = m.Users, m.Slots, m.Timeout.Seconds()
	s.ThinkMinSeconds, s.ThinkMaxSeconds, s.SpawnRate = m.ThinkMin.Seconds(), m.ThinkMax.Seconds(), sc.Sync.SpawnRate
	s.Ceiling, s.SaturationUsers, s.Throughput = m.Ceiling, m.SaturationUsers, m.Throughput
	s.ResponseSeconds, s.MaxUsersWithinTimeout = m.ResponseTime.Seconds(), m.MaxUsersWithinTimeout
	s.FailureShare, s.FailureShareNoAbandon = m.FailureShare, m.FailureShareNoAbandon
	if r.Abandoning.Runs > 0 {
		a, k := sim(r.Abandoning), sim(r.Keeping)
		s.Abandoning, s.Keeping = &a, &k
	}
	return json.Marshal(out)
}

// num formats x with the given decimals and thousands separators.
func num(x float64, decimals int) string {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	s := strconv.FormatFloat(x, 'f', decimals, 64)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

// dur prints a duration as whole seconds and, past a minute, Go's form.
func dur(d time.Duration) string {
	secs := num(d.Seconds(), 0) + " s"
	if d < time.Minute {
		return secs
	}
	return secs + " (" + d.Round(time.Second).String() + ")"
}

func pct(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }

func spawn(rate float64) string {
	if rate <= 0 {
		return "all"
	}
	return num(rate, 1)
}
