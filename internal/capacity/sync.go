package capacity

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// SyncPath describes the synchronous path under a closed population of
// users, as a Locust test drives it: each user posts an order, waits for the
// answer (or gives up at Timeout), thinks, and posts again.
type SyncPath struct {
	// Users is the population N.
	Users int
	// Slots is the number c of payments the server runs at once; further
	// requests wait in FIFO order for a slot.
	Slots int
	// PaymentDelay is the time S one payment takes.
	PaymentDelay time.Duration
	// Timeout is the deadline τ of one request: the client's timeout, or
	// the server's (504) when that is shorter.
	Timeout time.Duration
	// ThinkMin and ThinkMax bound the uniform think time between a
	// response and the next request; the models use their mean Z.
	ThinkMin, ThinkMax time.Duration
}

// Validate reports the first field out of range.
func (p SyncPath) Validate() error {
	switch {
	case p.Users < 1:
		return fmt.Errorf("users %d: %w", p.Users, ErrNoUsers)
	case p.Slots < 1:
		return fmt.Errorf("slots %d: need at least 1", p.Slots)
	case p.PaymentDelay <= 0:
		return fmt.Errorf("payment delay %v: must be positive", p.PaymentDelay)
	case p.Timeout <= 0:
		return fmt.Errorf("timeout %v: must be positive", p.Timeout)
	case p.ThinkMin < 0 || p.ThinkMax < p.ThinkMin:
		return fmt.Errorf("think time %v-%v: need 0 <= min <= max", p.ThinkMin, p.ThinkMax)
	}
	return nil
}

// Think is the mean think time Z, the middle of [ThinkMin, ThinkMax].
func (p SyncPath) Think() time.Duration { return (p.ThinkMin + p.ThinkMax) / 2 }

// SyncModel is the steady state of a SyncPath from the asymptotic bounds of
// a closed system (operational analysis), with c slots of service time S,
// N users and think time Z.
type SyncModel struct {
	SyncPath
	// Ceiling is c/S, the most orders per second the path can complete.
	Ceiling float64
	// SaturationUsers is N* = c(S+Z)/S: beyond it requests queue.
	SaturationUsers float64
	// Throughput is min(N/(S+Z), c/S), completions per second while no
	// request times out.
	Throughput float64
	// ResponseTime is max(S, NS/c − Z): the mean response time in the
	// steady state when no request times out.
	ResponseTime time.Duration
	// MaxUsersWithinTimeout is the largest N whose ResponseTime stays
	// within Timeout: ⌊c(τ+Z)/S⌋.
	MaxUsersWithinTimeout int
	// FailureShare is a lower bound on the steady-state share of requests
	// that time out when the server stops working on a request whose
	// client gave up (a Go server whose payment follows the request
	// context, like this one): at best the slots complete c/S requests per
	// second while every user cycles in about τ + Z, so at least
	// 1 − (c/S)(τ+Z)/N of the requests fail. In practice more do: a
	// request that reaches a slot too late to finish is cut at its
	// deadline and its partial payment is wasted (SimulateSync with a seed
	// shows it).
	FailureShare float64
	// FailureShareNoAbandon is the steady-state share when the server keeps
	// paying for requests whose clients are gone (the studied system): the
	// queue then grows without bound once ResponseTime exceeds Timeout and
	// every request ends up failing, so it is 0 or 1. Over a finite run the
	// share is lower; see SimulateSync.
	FailureShareNoAbandon float64
}

// ModelSync computes the steady state of p.
//
// With the study's sync flash sale (20 users, one slot, 3 s, 30 s timeout,
// 100-500 ms think time): ceiling 0.33 order/s, saturation at 1.1 users,
// response time 59.7 s without timeouts, at most 10 users within 30 s, and
// at least half the requests failing in the steady state of an abandoning
// server.
func ModelSync(p SyncPath) (SyncModel, error) {
	if err := p.Validate(); err != nil {
		return SyncModel{}, err
	}
	s := p.PaymentDelay.Seconds()
	z := p.Think().Seconds()
	c := float64(p.Slots)
	n := float64(p.Users)
	tau := p.Timeout.Seconds()
	m := SyncModel{SyncPath: p}
	m.Ceiling = c / s
	m.SaturationUsers = c * (s + z) / s
	m.Throughput = math.Min(n/(s+z), m.Ceiling)
	m.ResponseTime = seconds(math.Max(s, n*s/c-z))
	m.MaxUsersWithinTimeout = int(math.Floor(c * (tau + z) / s))
	if m.ResponseTime > p.Timeout {
		m.FailureShare = math.Max(0, 1-m.Ceiling*(tau+z)/n)
		m.FailureShareNoAbandon = 1
	}
	return m, nil
}

// SyncRun is one finite load test of a SyncPath, as SimulateSync replays it.
type SyncRun struct {
	SyncPath
	// SpawnRate is how many users start per second (user i starts at
	// i/SpawnRate); zero or less starts them all at once.
	SpawnRate float64
	// Duration is the length of the test. Requests still open at the end
	// are not counted, as Locust drops them when it stops its users.
	Duration time.Duration
	// Abandon is whether the server stops working on a request at its
	// deadline (frees its slot, or takes it out of the line). A Go server
	// whose payment follows the request context abandons; the studied
	// system did not.
	Abandon bool
	// Seed seeds the uniform think times. Zero uses the mean think time
	// for every pause, which makes the users move in lock-step.
	Seed uint64
}

// SyncOutcome is what a load test of a SyncRun would report.
type SyncOutcome struct {
	// Requests is every request answered or timed out within Duration.
	Requests int
	// Successes is the requests paid within their deadline.
	Successes int
	// Failures is the requests that reached their deadline first.
	Failures int
	// FailureShare is Failures / Requests (0 without requests).
	FailureShare float64
	// RPS is Requests per second of Duration, as Locust's req/s.
	RPS float64
	// AvgResponse, MinResponse and MaxResponse cover every counted
	// request; a failure counts with the time to its deadline, as Locust
	// counts a timed-out request.
	AvgResponse, MinResponse, MaxResponse time.Duration
	// AvgSuccess is the mean response time of the successes.
	AvgSuccess time.Duration
}

// SimulateSync replays r as a deterministic discrete-event simulation:
// users start at the spawn rate, each request joins a FIFO line for the
// Slots payment slots, a payment takes PaymentDelay, a request not paid by
// Timeout fails (and, with Abandon, leaves the line or frees its slot), and
// every user thinks for the mean think time after each answer before its
// next request. A payment that ends exactly at the deadline succeeds.
//
// With the study's sync runs it gives: 5 users for 30 s, 9 requests and no
// failures; 20 users for 60 s on a server that does not abandon, about two
// thirds failing (the study measured 69%).
func SimulateSync(r SyncRun) (SyncOutcome, error) {
	if err := r.Validate(); err != nil {
		return SyncOutcome{}, err
	}
	if r.Duration <= 0 {
		return SyncOutcome{}, fmt.Errorf("duration %v: must be positive", r.Duration)
	}
	sim := &syncSim{run: r, think: r.Think(), free: r.Slots}
	if r.Seed != 0 && r.ThinkMax > r.ThinkMin {
		sim.rng = rand.New(rand.NewPCG(r.Seed, r.Seed^0x9e3779b97f4a7c15))
	}
	for i := 0; i < r.Users; i++ {
		var at time.Duration
		if r.SpawnRate > 0 {
			at = seconds(float64(i) / r.SpawnRate)
		}
		sim.push(event{at: at, kind: evSend, user: i})
	}
	for sim.events.Len() > 0 {
		e := heap.Pop(&sim.events).(event)
		if e.at >= r.Duration {
			break
		}
		sim.now = e.at
		switch e.kind {
		case evDone:
			sim.done(e.req)
		case evDeadline:
			sim.deadline(e.req)
		case evSend:
			sim.send(e.user)
		}
	}
	return sim.outcome(), nil
}

type eventKind int

// Event kinds in the order they are handled when they fall on the same
// instant: a payment ending at its deadline succeeds.
const (
	evDone eventKind = iota
	evDeadline
	evSend
)

type event struct {
	at   time.Duration
	kind eventKind
	seq  int
	user int
	req  *simRequest
}

type simRequest struct {
	user    int
	sent    time.Duration
	settled bool // answered or failed: the client has moved on
	serving bool
	dropped bool // abandoned while waiting: skip it in the line
}

type eventHeap []event

// eventHeap implements heap.Interface, earliest event first.
func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	if h[i].kind != h[j].kind {
		return h[i].kind < h[j].kind
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type syncSim struct {
	run    SyncRun
	think  time.Duration
	rng    *rand.Rand
	now    time.Duration
	seq    int
	events eventHeap
	free   int
	line   []*simRequest

	requests, successes, failures int
	total, totalSuccess           time.Duration
	min, max                      time.Duration
}

func (s *syncSim) push(e event) {
	e.seq = s.seq
	s.seq++
	heap.Push(&s.events, e)
}

func (s *syncSim) send(user int) {
	req := &simRequest{user: user, sent: s.now}
	s.push(event{at: s.now + s.run.Timeout, kind: evDeadline, req: req})
	s.line = append(s.line, req)
	s.startNext()
}

// startNext fills free slots from the head of the line.
func (s *syncSim) startNext() {
	for s.free > 0 && len(s.line) > 0 {
		req := s.line[0]
		s.line = s.line[1:]
		if req.dropped {
			continue
		}
		s.free--
		req.serving = true
		s.push(event{at: s.now + s.run.PaymentDelay, kind: evDone, req: req})
	}
}

func (s *syncSim) done(req *simRequest) {
	if !req.serving {
		return // abandoned in service: its slot was freed at the deadline
	}
	req.serving = false
	s.free++
	if !req.settled {
		req.settled = true
		s.record(s.now-req.sent, true)
		s.push(event{at: s.now + s.thinkTime(), kind: evSend, user: req.user})
	}
	s.startNext()
}

func (s *syncSim) deadline(req *simRequest) {
	if req.settled {
		return
	}
	req.settled = true
	s.record(s.now-req.sent, false)
	s.push(event{at: s.now + s.thinkTime(), kind: evSend, user: req.user})
	if !s.run.Abandon {
		return
	}
	if req.serving {
		req.serving = false
		s.free++
		s.startNext()
		return
	}
	req.dropped = true
}

// thinkTime is the pause before a user's next request: uniform in
// [ThinkMin, ThinkMax] with a seed, the mean without.
func (s *syncSim) thinkTime() time.Duration {
	if s.rng == nil {
		return s.think
	}
	return s.run.ThinkMin + time.Duration(s.rng.Int64N(int64(s.run.ThinkMax-s.run.ThinkMin)+1))
}

func (s *syncSim) record(d time.Duration, ok bool) {
	if s.requests == 0 || d < s.min {
		s.min = d
	}
	if d > s.max {
		s.max = d
	}
	s.requests++
	s.total += d
	if ok {
		s.successes++
		s.totalSuccess += d
	} else {
		s.failures++
	}
}

func (s *syncSim) outcome() SyncOutcome {
	o := SyncOutcome{
		Requests: s.requests, Successes: s.successes, Failures: s.failures,
		MinResponse: s.min, MaxResponse: s.max,
		RPS: float64(s.requests) / s.run.Duration.Seconds(),
	}
	if s.requests > 0 {
		o.FailureShare = float64(s.failures) / float64(s.requests)
		o.AvgResponse = s.total / time.Duration(s.requests)
	}
	if s.successes > 0 {
		o.AvgSuccess = s.totalSuccess / time.Duration(s.successes)
	}
	return o
}

// SyncMean is the mean outcome of several seeded runs of SimulateSync.
type SyncMean struct {
	// Runs is the number of runs averaged.
	Runs int
	// Requests, Successes and Failures are the mean counts per run.
	Requests, Successes, Failures float64
	// FailureShare is the mean of the runs' failure shares; MinFailureShare
	// and MaxFailureShare bound them.
	FailureShare, MinFailureShare, MaxFailureShare float64
	// RPS is the mean request rate.
	RPS float64
	// AvgResponse is the mean of the runs' mean response times.
	AvgResponse time.Duration
}

// SimulateSyncMean runs SimulateSync with the seeds r.Seed, r.Seed+1, ...,
// r.Seed+runs-1 (r.Seed = 0 is taken as 1, so that think times are drawn)
// and averages them.
func SimulateSyncMean(r SyncRun, runs int) (SyncMean, error) {
	if runs < 1 {
		return SyncMean{}, fmt.Errorf("runs %d: need at least 1", runs)
	}
	if r.Seed == 0 {
		r.Seed = 1
	}
	m := SyncMean{Runs: runs, MinFailureShare: 1}
	var avg time.Duration
	for i := 0; i < runs; i++ {
		run := r
		run.Seed = r.Seed + uint64(i)
		o, err := SimulateSync(run)
		if err != nil {
			return SyncMean{}, err
		}
		m.Requests += float64(o.Requests)
		m.Successes += float64(o.Successes)
		m.Failures += float64(o.Failures)
		m.FailureShare += o.FailureShare
		m.MinFailureShare = math.Min(m.MinFailureShare, o.FailureShare)
		m.MaxFailureShare = math.Max(m.MaxFailureShare, o.FailureShare)
		m.RPS += o.RPS
		avg += o.AvgResponse
	}
	n := float64(runs)
	m.Requests /= n
	m.Successes /= n
	m.Failures /= n
	m.FailureShare /= n
	m.RPS /= n
	m.AvgResponse = avg / time.Duration(runs)
	return m, nil
}
