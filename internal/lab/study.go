package lab

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"time"

	"flashsale/internal/capacity"
	"flashsale/internal/depth"
	"flashsale/internal/loadgen"
	"flashsale/internal/server"
)

// Phase names, as --phases takes them.
const (
	PhaseSyncNormal = "sync-normal"
	PhaseSyncFlash  = "sync-flash"
	PhaseAsyncFlash = "async-flash"
	PhaseWorkers    = "workers"
)

// AllPhases is every phase of the study, in order.
var AllPhases = []string{PhaseSyncNormal, PhaseSyncFlash, PhaseAsyncFlash, PhaseWorkers}

// ClosedLoad is a Locust-style phase: users for a duration.
type ClosedLoad struct {
	Users    int
	Duration time.Duration
}

// Study configures the study's run. Every duration is in real (study)
// time; each phase runs TimeScale times faster (AsyncTimeScale for the
// async flash phase) and its figures are scaled back.
type Study struct {
	// TimeScale K divides the payment delay, the timeouts, the think
	// times, the phase durations and the sampling interval, and multiplies
	// the spawn and arrival rates, so that the run is K times shorter.
	TimeScale float64
	// AsyncTimeScale is the async flash phase's own time scale (1 when
	// zero). Its latency is the host's, not a simulated delay, so it is not
	// slowed down by K: scaling it back would multiply it by K.
	AsyncTimeScale float64
	// PaymentDelay is the time one payment takes (3 s).
	PaymentDelay time.Duration
	// Timeout is the client timeout and the server's sync deadline (30 s).
	Timeout time.Duration
	// ThinkMin, ThinkMax and SpawnRate are the Locust users' (100-500 ms,
	// 10 users/s).
	ThinkMin, ThinkMax time.Duration
	SpawnRate          float64
	// SyncNormal, SyncFlash and AsyncFlash are the closed-model phases
	// (5 users for 30 s, 20 for 60 s, 20 for 60 s).
	SyncNormal, SyncFlash, AsyncFlash ClosedLoad
	// Workers lists the worker counts of the scaling phases (1, 5, 20, 100).
	Workers []int
	// WorkerRate and WorkerBurst are the open-model burst of each scaling
	// phase (51 orders/s for 60 s, the async acceptance the study measured).
	WorkerRate  float64
	WorkerBurst time.Duration
	// SampleInterval is the depth sampling interval (1 s).
	SampleInterval time.Duration
	// FollowShare is the share of each worker-scaling burst's accepted
	// orders followed with GET /orders/{id} until they are paid, to measure
	// the time from the 202 to the confirmation (0.02; 0 follows none).
	FollowShare float64
	// FollowInterval is the time between two polls of a followed order,
	// the resolution of the confirmation times, in real time. Zero: for
	// each worker count, 1% of the longest confirmation time the model
	// gives for the planned burst, and at least SampleInterval.
	FollowInterval time.Duration
	// FollowConcurrency bounds the polls in flight at once
	// (loadgen.DefaultFollowConcurrency when zero).
	FollowConcurrency int
	// DrainTimeout bounds the wait for a queue to empty after its burst
	// (4 h).
	DrainTimeout time.Duration
	// Phases selects the phases to run; all when empty.
	Phases []string
	// Seed seeds the orders and think times.
	Seed uint64
	// Log receives one line per phase start and end; nil discards them.
	Log io.Writer
}

// DefaultFollowShare is the share of the worker-scaling bursts' orders the
// study follows until they are paid: about 60 of the 3,060 orders of a
// burst, one every second of it, few enough that their polls stay a small
// part of the server's work.
const DefaultFollowShare = 0.02

// DefaultStudy is the study's configuration at time scale k.
func DefaultStudy(k float64) Study {
	return Study{
		TimeScale: k, AsyncTimeScale: 1,
		PaymentDelay: 3 * time.Second, Timeout: loadgen.DefaultTimeout,
		ThinkMin: loadgen.DefaultThinkMin, ThinkMax: loadgen.DefaultThinkMax, SpawnRate: loadgen.DefaultSpawnRate,
		SyncNormal: ClosedLoad{5, 30 * time.Second}, SyncFlash: ClosedLoad{20, time.Minute}, AsyncFlash: ClosedLoad{20, time.Minute},
		Workers: []int{1, 5, 20, 100}, WorkerRate: 51, WorkerBurst: time.Minute,
		SampleInterval: time.Second, DrainTimeout: 4 * time.Hour, Seed: 1,
		FollowShare: DefaultFollowShare,
	}
}

func (s *Study) validate() error {
	if s.TimeScale < 1 || math.IsInf(s.TimeScale, 0) || math.IsNaN(s.TimeScale) {
		return fmt.Errorf("time scale %v: must be at least 1", s.TimeScale)
	}
	if s.AsyncTimeScale == 0 {
		s.AsyncTimeScale = 1
	}
	if s.AsyncTimeScale < 1 {
		return fmt.Errorf("async time scale %v: must be at least 1", s.AsyncTimeScale)
	}
	if len(s.Phases) == 0 {
		s.Phases = AllPhases
	}
	for _, p := range s.Phases {
		known := false
		for _, a := range AllPhases {
			known = known || p == a
		}
		if !known {
			return fmt.Errorf("phase %q: want one of %v", p, AllPhases)
		}
	}
	if s.PaymentDelay <= 0 || s.Timeout <= 0 || s.SampleInterval <= 0 {
		return fmt.Errorf("payment delay, timeout and sample interval must be positive")
	}
	if math.IsNaN(s.FollowShare) || s.FollowShare < 0 || s.FollowShare > 1 {
		return fmt.Errorf("follow share %v: must be from 0 to 1", s.FollowShare)
	}
	if s.FollowInterval < 0 {
		return fmt.Errorf("follow interval %v: must not be negative (0: automatic)", s.FollowInterval)
	}
	return nil
}

func (s Study) runs(phase string) bool {
	for _, p := range s.Phases {
		if p == phase {
			return true
		}
	}
	return false
}

// scale divides d by k.
func scale(d time.Duration, k float64) time.Duration { return time.Duration(float64(d) / k) }

// ClosedResult is a sync or async phase.
type ClosedResult struct {
	// Name is the phase's name; Scenario its endpoint.
	Name     string
	Scenario loadgen.Scenario
	// Load is the phase's configuration in real time.
	Load ClosedLoad
	// Scale is the phase's time scale.
	Scale float64
	// Run is the raw result, in scaled time.
	Run *PhaseResult
	// Model is the simulated outcome of the same phase (sync phases), on a
	// server that abandons late requests, as this one does.
	Model *capacity.SyncMean
	// ModelKeeping is the same on a server that keeps paying them (the
	// studied system).
	ModelKeeping *capacity.SyncMean
}

// WorkerResult is one worker-scaling phase.
type WorkerResult struct {
	// Workers is the pool size; Scale the phase's time scale.
	Workers int
	Scale   float64
	// Run is the raw result, in scaled time.
	Run *PhaseResult
	// Burst is the real time over which the orders arrived: the planned
	// burst, or longer when the load generator fell behind its schedule
	// (a busy host), from the first request sent to the last one accepted.
	Burst time.Duration
	// ArrivalRate is the accepted orders per second of real time over Burst.
	ArrivalRate float64
	// Plan is the fluid model at ArrivalRate for Burst.
	Plan capacity.Plan
	// FollowInterval is the real time between two polls of a followed
	// order (the resolution of the confirmation times); zero when no order
	// was followed. The follow-up itself is Run.Load.Confirmation, in
	// scaled time.
	FollowInterval time.Duration
}

// Results is the outcome of a study run.
type Results struct {
	Study   Study
	Started time.Time
	Took    time.Duration
	Closed  []ClosedResult
	Workers []WorkerResult
}

// RunStudy runs the study's phases, each against a fresh local server on a
// free 127.0.0.1 port. When ctx ends it returns the phases done so far with
// an error.
func RunStudy(ctx context.Context, s Study) (*Results, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	res := &Results{Study: s, Started: time.Now()}
	defer func() { res.Took = time.Since(res.Started) }()
	k := s.TimeScale
	for _, c := range []struct {
		name     string
		scenario loadgen.Scenario
		load     ClosedLoad
		k        float64
	}{
		{PhaseSyncNormal, loadgen.ScenarioSync, s.SyncNormal, k},
		{PhaseSyncFlash, loadgen.ScenarioSync, s.SyncFlash, k},
		{PhaseAsyncFlash, loadgen.ScenarioAsync, s.AsyncFlash, s.AsyncTimeScale},
	} {
		if !s.runs(c.name) {
			continue
		}
		cr, err := s.runClosed(ctx, c.name, c.scenario, c.load, c.k)
		if cr != nil {
			res.Closed = append(res.Closed, *cr)
		}
		if err != nil {
			return res, fmt.Errorf("phase %s: %w", c.name, err)
		}
	}
	if s.runs(PhaseWorkers) {
		for _, n := range s.Workers {
			wr, err := s.runWorkers(ctx, n)
			if wr != nil {
				res.Workers = append(res.Workers, *wr)
			}
			if err != nil {
				return res, fmt.Errorf("phase workers=%d: %w", n, err)
			}
		}
	}
	return res, nil
}

func (s Study) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, format+"\n", args...)
	}
}

// startServer runs a local system until the returned stop is called. A
// phase has no use for the orders still queued when it ends: unless cfg
// names a spill file, they go to a temporary one at once, so that stopping
// never waits for a backlog to be paid.
func startServer(ctx context.Context, cfg server.Config) (base string, stop func() error, err error) {
	base, _, stop, err = runServer(ctx, cfg)
	return base, stop, err
}

// runServer is startServer, returning the server too.
func runServer(ctx context.Context, cfg server.Config) (base string, _ *server.Server, stop func() error, err error) {
	var spillDir string
	if cfg.SpillFile == "" {
		if spillDir, err = os.MkdirTemp("", "flashsale-lab-"); err != nil {
			return "", nil, nil, fmt.Errorf("spill folder: %w", err)
		}
		cfg.SpillFile = filepath.Join(spillDir, "spill.jsonl")
		cfg.DrainTimeout = time.Millisecond
	}
	cleanup := func() {
		if spillDir != "" {
			os.RemoveAll(spillDir)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cleanup()
		return "", nil, nil, fmt.Errorf("listen: %w", err)
	}
	cfg.Listener = l
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(cfg)
	if err != nil {
		l.Close()
		cleanup()
		return "", nil, nil, fmt.Errorf("start server: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	return "http://" + srv.Addr(), srv, func() error {
		cancel()
		err := <-done
		cleanup()
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		return nil
	}, nil
}

func (s Study) runClosed(ctx context.Context, name string, sc loadgen.Scenario, load ClosedLoad, k float64) (*ClosedResult, error) {
	s.logf("phase %s: %d users for %v (%v at 1/%g), payment %v", name, load.Users, load.Duration, scale(load.Duration, k), k, scale(s.PaymentDelay, k))
	base, stop, err := startServer(ctx, server.Config{
		Workers: 1, PaymentDelay: scale(s.PaymentDelay, k), RequestTimeout: scale(s.Timeout, k), SyncConcurrency: 1,
	})
	if err != nil {
		return nil, err
	}
	run, err := RunPhase(ctx, Phase{Load: loadgen.Config{
		BaseURL: base, Scenario: sc, Users: load.Users, SpawnRate: s.SpawnRate * k,
		ThinkMin: scale(s.ThinkMin, k), ThinkMax: scale(s.ThinkMax, k), Timeout: scale(s.Timeout, k),
		Duration: scale(load.Duration, k), Seed: s.Seed,
	}})
	if stopErr := stop(); err == nil {
		err = stopErr
	}
	if run == nil || run.Load == nil {
		return nil, err
	}
	cr := &ClosedResult{Name: name, Scenario: sc, Load: load, Scale: k, Run: run}
	if sc == loadgen.ScenarioSync {
		simRun := capacity.SyncRun{
			SyncPath: capacity.SyncPath{Users: load.Users, Slots: 1, PaymentDelay: s.PaymentDelay, Timeout: s.Timeout,
				ThinkMin: s.ThinkMin, ThinkMax: s.ThinkMax},
			SpawnRate: s.SpawnRate, Duration: load.Duration, Abandon: true,
		}
		m, merr := capacity.SimulateSyncMean(simRun, 10)
		simRun.Abandon = false
		keep, kerr := capacity.SimulateSyncMean(simRun, 10)
		if merr == nil && kerr == nil {
			cr.Model, cr.ModelKeeping = &m, &keep
		}
	}
	st := run.Load.Stats
	s.logf("  %d requests, %.1f%% failures, %.2f req/s, median %s (real time)", st.Requests, 100*st.FailureShare(),
		st.RPS/k, secs(time.Duration(float64(st.Median)*k)))
	return cr, err
}

func (s Study) runWorkers(ctx context.Context, n int) (*WorkerResult, error) {
	k := s.TimeScale
	s.logf("phase workers=%d: %g orders/s for %v (%v at 1/%g), payment %v", n, s.WorkerRate, s.WorkerBurst, scale(s.WorkerBurst, k), k, scale(s.PaymentDelay, k))
	base, stop, err := startServer(ctx, server.Config{
		Workers: n, PaymentDelay: scale(s.PaymentDelay, k), RequestTimeout: scale(s.Timeout, k),
	})
	if err != nil {
		return nil, err
	}
	// The accept path's latency is the host's: its client timeout is not
	// scaled, so that a busy host delays orders rather than dropping them.
	metricsSrc := depth.NewMetrics(depth.MetricsURL(base), nil)
	load := loadgen.Config{BaseURL: base, Scenario: loadgen.ScenarioAsync, Rate: s.WorkerRate * k,
		Duration: scale(s.WorkerBurst, k), Timeout: s.Timeout, Seed: s.Seed}
	var followEvery time.Duration
	if s.FollowShare > 0 {
		// Followed until paid, or as long as the depth is sampled and one
		// payment more.
		followEvery = s.followInterval(n)
		load.Follow, load.FollowInterval, load.FollowConcurrency = s.FollowShare, scale(followEvery, k), s.FollowConcurrency
		load.FollowTimeout = scale(s.DrainTimeout+s.PaymentDelay+2*followEvery, k)
		s.logf("  following %g of the accepted orders, polled every %v (%v at 1/%g)", s.FollowShare, followEvery, scale(followEvery, k), k)
	}
	run, err := RunPhase(ctx, Phase{
		Load:         load,
		Depth:        &depth.Sampler{Source: metricsSrc, Interval: scale(s.SampleInterval, k), ReadTimeout: time.Second},
		DrainTimeout: scale(s.DrainTimeout, k),
	})
	// The orders the server accepted (202, or enqueued for a client that
	// gave up) are the arrivals of the model.
	accepted := -1.0
	if snap, serr := metricsSrc.Scrape(ctx); serr == nil {
		accepted = snap.Accepted["async"]
	}
	if stopErr := stop(); err == nil {
		err = stopErr
	}
	if run == nil || run.Load == nil {
		return nil, err
	}
	st := run.Load.Stats
	if accepted < 0 {
		accepted = float64(st.Requests - st.Failures)
	}
	burst := max(s.WorkerBurst, time.Duration(float64(arrivalWindow(run.Load.Samples))*k))
	wr := &WorkerResult{Workers: n, Scale: k, Run: run, Burst: burst, ArrivalRate: accepted / burst.Seconds(), FollowInterval: followEvery}
	if burst > s.WorkerBurst+s.WorkerBurst/20 {
		s.logf("  the load generator fell behind: orders arrived over %s instead of %s (real time); the model uses the longer window",
			secs(burst), secs(s.WorkerBurst))
	}
	if p, perr := capacity.PlanBurst(capacity.Burst{Rate: wr.ArrivalRate, Duration: burst, PaymentDelay: s.PaymentDelay, Workers: n}); perr == nil {
		wr.Plan = p
	}
	if tl := run.Depth; tl != nil {
		rate, _ := tl.ProcessingRate()
		s.logf("  accepted %.1f orders/s, peak depth %d, drained %s after the burst, processing %.2f/s (real time)",
			wr.ArrivalRate, tl.Peak, secs(time.Duration(float64(tl.TimeToDrain())*k)), rate/k)
	}
	if c := run.Load.Confirmation; c != nil {
		s.logf("  confirmation of %d followed orders (%d finished): p50 %s, p95 %s, max %s (server-recorded p50 %s); model p50 %s, p95 %s, max %s (real time)",
			c.Followed, c.Finished(), secs(wr.real(c.Median)), secs(wr.real(c.P95)), secs(wr.real(c.Max)), secs(wr.real(c.Server.Median)),
			secs(wr.Plan.ConfirmationTime(0.5)), secs(wr.Plan.ConfirmationTime(0.95)), secs(wr.Plan.ConfirmationTime(1)))
	}
	return wr, err
}

// followInterval is the real time between two polls of an order followed
// in the phase of n workers: FollowInterval, or 1% of the longest
// confirmation time the model gives for the planned burst, at least
// SampleInterval. The polls' resolution then stays a small part of the
// times they measure, and their number about the same (some 100 an
// order at most) whatever the worker count.
func (s Study) followInterval(n int) time.Duration {
	if s.FollowInterval > 0 {
		return s.FollowInterval
	}
	every := s.SampleInterval
	if p, err := capacity.PlanBurst(capacity.Burst{Rate: s.WorkerRate, Duration: s.WorkerBurst, PaymentDelay: s.PaymentDelay, Workers: n}); err == nil {
		every = max(every, p.ConfirmationTime(1)/100)
	}
	return every.Round(time.Millisecond)
}

// arrivalWindow is the time from the first request sent to the end of the
// last accepted one: when the orders reached the queue.
func arrivalWindow(samples []loadgen.Sample) time.Duration {
	first, last := time.Duration(-1), time.Duration(0)
	for _, sm := range samples {
		if first < 0 || sm.Start < first {
			first = sm.Start
		}
		if sm.OK() {
			last = max(last, sm.End())
		}
	}
	if first < 0 {
		return 0
	}
	return max(0, last-first)
}
