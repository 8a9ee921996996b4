// Package loadgen is the flash-sale load generator: it posts random valid
// orders to a running system and measures what happens, in Locust's terms.
//
// Two models of load:
//
//   - Closed (Config.Users): Locust's semantics. Users start at SpawnRate per
//     second; each posts an order, waits for the answer (or gives up at the
//     client timeout, 30 s), thinks for a uniform 100-500 ms, and posts
//     again, until the run ends. Requests still open when it ends are
//     dropped and counted as Unfinished, as Locust drops them when it stops
//     its users.
//   - Open (Config.Rate): a fixed arrival rate, with vegeta's attacker and
//     constant pacer, which start a new goroutine whenever all are busy so
//     that slow answers never delay the next request. Latency is measured
//     from the time each request was due on the schedule, not from when it
//     went out, so a generator that falls behind cannot hide the delay
//     (no coordinated omission); Result.MaxLag shows how far behind it fell.
//
// Percentiles use the nearest-rank method on every latency kept in memory
// (see Percentile): exact, with no buckets or interpolation. Locust rounds
// latencies above 100 ms to two significant digits before it ranks them, so
// its figures can differ from these by up to 5%.
//
// A request succeeds when it gets an HTTP status below 400, as in Locust.
// Failures are counted by reason: the HTTP status ("HTTP 504 Gateway
// Timeout"), "timeout" (no answer within the client timeout), or a
// connection error ("connection refused", "connection reset",
// "connection closed", "connection error").
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults of the Locust-style closed model.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultThinkMin  = 100 * time.Millisecond
	DefaultThinkMax  = 500 * time.Millisecond
	DefaultSpawnRate = 10
)

// Config configures a load run. Set Users for the closed model or Rate for
// the open model, not both.
type Config struct {
	// BaseURL is the system under test, such as http://127.0.0.1:8080.
	BaseURL string
	// Scenario selects the endpoint.
	Scenario Scenario
	// Users is the closed model's population.
	Users int
	// SpawnRate is how many users start per second; zero or less starts
	// them all at once.
	SpawnRate float64
	// ThinkMin and ThinkMax bound the closed model's uniform wait between
	// an answer and the next request. Both zero: DefaultThinkMin and
	// DefaultThinkMax.
	ThinkMin, ThinkMax time.Duration
	// Rate is the open model's arrival rate, in requests per second.
	Rate float64
	// MaxWorkers, with Rate and Users zero, runs the open model at its
	// maximum rate: MaxWorkers requests in flight at all times, for
	// Duration. Latency then counts from each request's send time (there
	// is no schedule).
	MaxWorkers int
	// Duration is the length of the run: of the users' loop, or of the
	// open model's schedule (its last requests may end up to Timeout
	// later).
	Duration time.Duration
	// Timeout is the client timeout of one request; DefaultTimeout when
	// zero.
	Timeout time.Duration
	// Seed makes the orders and think times reproducible.
	Seed uint64
	// Client sends the requests. Nil: a client with no proxy and a
	// keep-alive pool large enough for the load. Its Timeout is ignored
	// in favour of Timeout.
	Client *http.Client
	// Progress, when set, is called every ProgressInterval (1 s when zero)
	// while the run goes on, and once more at the end with Final set.
	Progress func(Progress)
	// ProgressInterval is the time between Progress calls.
	ProgressInterval time.Duration

	// Follow is the share (0 to 1) of the accepted async orders (202) to
	// follow with GET /orders/{id} until each is completed or failed; the
	// first accepted order, then evenly spread. Zero follows none. The
	// follow-up has its own client and goroutines and its GETs are not
	// load requests: they appear only in Result.Confirmation. Only the
	// async scenario has orders to follow.
	Follow float64
	// FollowInterval is the time between two polls of one order, the
	// resolution of the confirmation times: DefaultFollowInterval when
	// zero. The first poll goes out one interval after the 202.
	FollowInterval time.Duration
	// FollowTimeout is how long the follow-up goes on after the load
	// ended, at most: DefaultFollowTimeout when zero; negative, until every
	// followed order finished (or ctx ends). Run returns when it stops.
	FollowTimeout time.Duration
	// FollowConcurrency bounds the GETs in flight at once:
	// DefaultFollowConcurrency when zero. A poll that finds them all busy
	// waits (Confirmation.MaxPollGap shows it).
	FollowConcurrency int
	// FollowClient sends the GETs; nil, a client of its own (never the
	// load's: its connections stay the load's). Each GET has Timeout.
	FollowClient *http.Client
	// LoadEnded, when set, is called once as soon as the load itself has
	// ended, before Run waits for the follow-up: what measures time from
	// the end of the load (a depth sampler) should start there.
	LoadEnded func()
}

func (c *Config) defaults() error {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ThinkMin == 0 && c.ThinkMax == 0 {
		c.ThinkMin, c.ThinkMax = DefaultThinkMin, DefaultThinkMax
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
	if _, err := ParseScenario(string(c.Scenario)); err != nil {
		return err
	}
	switch {
	case c.BaseURL == "":
		return errors.New("base URL is empty")
	case c.Duration <= 0:
		return fmt.Errorf("duration %v: must be positive", c.Duration)
	case c.Timeout < 0:
		return fmt.Errorf("timeout %v: must be positive", c.Timeout)
	case c.Users > 0 && c.Rate > 0, c.MaxWorkers > 0 && (c.Users > 0 || c.Rate > 0):
		return errors.New("set one of users (closed model), rate (open model) or max workers (maximum rate)")
	case c.Users <= 0 && c.Rate <= 0 && c.MaxWorkers <= 0:
		return errors.New("set users (closed model), rate (open model) or max workers (maximum rate)")
	case c.ThinkMin < 0 || c.ThinkMax < c.ThinkMin:
		return fmt.Errorf("think time %v-%v: need 0 <= min <= max", c.ThinkMin, c.ThinkMax)
	case math.IsNaN(c.Follow) || c.Follow < 0 || c.Follow > 1:
		return fmt.Errorf("follow %v: the share of accepted orders to follow must be from 0 to 1", c.Follow)
	case c.Follow > 0 && c.Scenario != ScenarioAsync:
		return fmt.Errorf("follow: only async orders have a confirmation to wait for; a %s order is final in its answer", c.Scenario)
	case c.FollowInterval < 0:
		return fmt.Errorf("follow interval %v: must be positive", c.FollowInterval)
	case c.FollowConcurrency < 0:
		return fmt.Errorf("follow concurrency %d: must be positive", c.FollowConcurrency)
	}
	if c.FollowInterval == 0 {
		c.FollowInterval = DefaultFollowInterval
	}
	if c.FollowTimeout == 0 {
		c.FollowTimeout = DefaultFollowTimeout
	}
	if c.FollowConcurrency == 0 {
		c.FollowConcurrency = DefaultFollowConcurrency
	}
	return nil
}

// URL is the endpoint the run posts to.
func (c Config) URL() string {
	return strings.TrimRight(c.BaseURL, "/") + c.Scenario.Path()
}

// Result is the outcome of a load run.
type Result struct {
	// Name is the request's name in the tables ("POST /orders/sync").
	Name string
	// Model is "closed" or "open".
	Model string
	// Scenario and URL are what was loaded.
	Scenario Scenario
	URL      string
	// Started is the wall-clock start of the run.
	Started time.Time
	// Elapsed is the length of the run: the users' loop (closed), or from
	// the start to the end of the last answer (open).
	Elapsed time.Duration
	// Users, SpawnRate, ThinkMin and ThinkMax are the closed model's.
	Users              int
	SpawnRate          float64
	ThinkMin, ThinkMax time.Duration
	// Timeout is the client timeout of one request.
	Timeout time.Duration
	// TargetRate is the open model's requested rate; SentRate is the rate
	// at which requests actually went out and Throughput the rate of
	// successful answers, as vegeta's metrics compute them.
	TargetRate, SentRate, Throughput float64
	// MaxWorkers is the concurrency of a maximum-rate run (TargetRate 0).
	MaxWorkers int
	// MaxLag is the longest an open-model request went out after it was
	// due; it is included in its latency.
	MaxLag time.Duration
	// Samples holds every counted request, in the order they ended.
	Samples []Sample
	// Unfinished counts requests dropped when the run ended.
	Unfinished int
	// Stats summarizes Samples over Elapsed.
	Stats Stats
	// History is the per-second history.
	History []Second
	// Confirmation is what following the accepted orders saw (Config.Follow);
	// nil when none were followed.
	Confirmation *Confirmation

	spawns []time.Duration
}

// Closed reports whether the run used the closed model.
func (r *Result) Closed() bool { return r.Model == "closed" }

// usersAt counts the users started by at.
func (r *Result) usersAt(at time.Duration) int {
	n := 0
	for _, s := range r.spawns {
		if s <= at {
			n++
		}
	}
	return n
}

func (r *Result) finish() {
	r.Stats = Summarize(r.Samples, r.Elapsed)
	users := InFlight(r.Samples)
	if r.Closed() {
		users = r.usersAt
	}
	r.History = History(r.Samples, r.Elapsed, users)
}

// Run runs the load described by cfg and returns its result. When ctx ends
// early, it returns the partial result with an error wrapping ctx's.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	client := cfg.Client
	if client == nil {
		client = NewClient()
	}
	rec := &recorder{}
	res := &Result{
		Name: cfg.Scenario.Name(), Scenario: cfg.Scenario, URL: cfg.URL(),
		Users: cfg.Users, SpawnRate: cfg.SpawnRate, TargetRate: cfg.Rate, Timeout: cfg.Timeout,
	}
	if cfg.Rate <= 0 && cfg.Users <= 0 {
		res.MaxWorkers = cfg.MaxWorkers
	}
	if cfg.Users > 0 {
		res.ThinkMin, res.ThinkMax = cfg.ThinkMin, cfg.ThinkMax
	}
	stopProgress := rec.report(cfg, res)
	rec.follow = newFollower(ctx, cfg)
	var err error
	if cfg.Users > 0 {
		res.Model = "closed"
		err = runClosed(ctx, cfg, client, rec, res)
	} else {
		res.Model = "open"
		err = runOpen(ctx, cfg, client, rec, res)
	}
	stopProgress()
	if cfg.LoadEnded != nil {
		cfg.LoadEnded()
	}
	res.Samples, res.Unfinished = rec.samples, rec.unfinished
	res.finish()
	if cfg.Progress != nil {
		// The final snapshot covers the whole run.
		p := rec.progress(res.Elapsed, cfg.Duration, res.Model)
		p.Final = true
		p.CurrentRPS, p.CurrentMedian, p.CurrentP95 = res.Stats.RPS, res.Stats.Median, res.Stats.P95
		cfg.Progress(p)
	}
	if rec.follow != nil {
		res.Confirmation = rec.follow.finish(ctx, res.Started)
	}
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("load run interrupted: %w", context.Cause(ctx))
	}
	return res, err
}

// NewClient returns the HTTP client Run uses by default: no proxy (load
// goes straight to the address given), keep-alive connections for up to
// 10,000 concurrent requests to one host.
func NewClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.MaxIdleConns = 10_000
	t.MaxIdleConnsPerHost = 10_000
	return &http.Client{Transport: t}
}

// runClosed runs Locust-style users until cfg.Duration has passed.
func runClosed(ctx context.Context, cfg Config, client *http.Client, rec *recorder, res *Result) error {
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	res.Started = start
	rec.start(start)
	var wg sync.WaitGroup
	for i := 0; i < cfg.Users; i++ {
		if cfg.SpawnRate > 0 {
			due := time.Duration(float64(i) / cfg.SpawnRate * float64(time.Second))
			if !sleepUntil(runCtx, start.Add(due)) {
				break
			}
		}
		res.spawns = append(res.spawns, time.Since(start))
		rec.userStarted()
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			u := user{id: i, cfg: cfg, client: client, rec: rec, start: start,
				orders: NewOrderGenerator(cfg.Seed, uint64(i)),
				rng:    rand.New(rand.NewPCG(cfg.Seed^0x5eed, uint64(i)))}
			u.loop(runCtx)
		}(i)
	}
	wg.Wait()
	res.Elapsed = min(time.Since(start), cfg.Duration)
	return nil
}

// sleepUntil waits until t or until ctx ends; it reports whether t came.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// user is one closed-model user.
type user struct {
	id     int
	cfg    Config
	client *http.Client
	rec    *recorder
	start  time.Time
	orders *OrderGenerator
	rng    *rand.Rand
}

func (u *user) loop(ctx context.Context) {
	for ctx.Err() == nil {
		if !u.request(ctx) {
			return
		}
		if !sleepUntil(ctx, time.Now().Add(u.think())) {
			return
		}
	}
}

func (u *user) think() time.Duration {
	span := u.cfg.ThinkMax - u.cfg.ThinkMin
	if span <= 0 {
		return u.cfg.ThinkMin
	}
	return u.cfg.ThinkMin + time.Duration(u.rng.Int64N(int64(span)+1))
}

// request posts one order and records it; it reports false when the run
// ended during the request (which is then not counted).
func (u *user) request(ctx context.Context) bool {
	reqCtx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	sent := time.Now()
	status, n, body, err := post(reqCtx, u.client, u.cfg.URL(), u.orders.NextBody(), u.id, u.rec.follow != nil)
	lat := time.Since(sent)
	if err != nil && ctx.Err() != nil {
		u.rec.dropped()
		return false
	}
	u.rec.add(Sample{Start: sent.Sub(u.start), Latency: lat, Status: status, Reason: reason(status, err), Bytes: n})
	if err == nil && status == http.StatusAccepted && u.rec.follow != nil {
		u.rec.follow.offer(body, sent.Add(lat))
	}
	return true
}

// HeaderUser names the closed-model user that sent a request (0, 1, ...),
// for the server's logs and for tests.
const HeaderUser = "X-Load-User"

// post sends one order and reads the whole answer; with keep, it returns
// its first 64 KiB.
func post(ctx context.Context, client *http.Client, url string, body []byte, userID int, keep bool) (status int, n int64, answer []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderUser, strconv.Itoa(userID))
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, nil, err
	}
	defer resp.Body.Close()
	if keep {
		var buf bytes.Buffer
		n, err = io.Copy(&buf, io.LimitReader(resp.Body, maxAnswer))
		answer = buf.Bytes()
		if err == nil {
			var rest int64
			rest, err = io.Copy(io.Discard, resp.Body)
			n += rest
		}
	} else {
		n, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return resp.StatusCode, n, answer, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, n, answer, nil
}

// reason classifies a request's outcome; empty means success.
func reason(status int, err error) string {
	if err != nil {
		return errorReason(err)
	}
	if status >= 400 || status < 100 {
		return StatusReason(status)
	}
	return ""
}

// StatusReason is the failure reason of an HTTP status: "HTTP 504 Gateway
// Timeout".
func StatusReason(status int) string {
	if text := http.StatusText(status); text != "" {
		return fmt.Sprintf("HTTP %d %s", status, text)
	}
	return fmt.Sprintf("HTTP %d", status)
}

// Failure reasons that are not an HTTP status.
const (
	ReasonTimeout          = "timeout"
	ReasonConnRefused      = "connection refused"
	ReasonConnReset        = "connection reset"
	ReasonConnClosed       = "connection closed"
	ReasonConnectionFailed = "connection error"
)

func errorReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonConnRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ReasonConnReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ReasonConnClosed
	}
	return ReasonConnectionFailed
}

// errorStringReason classifies vegeta's error strings, which have lost the
// error's type.
func errorStringReason(msg string) string {
	switch {
	case strings.Contains(msg, "Client.Timeout"), strings.Contains(msg, "deadline exceeded"),
		strings.Contains(msg, "timeout"):
		return ReasonTimeout
	case strings.Contains(msg, "connection refused"):
		return ReasonConnRefused
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"):
		return ReasonConnReset
	case strings.HasSuffix(msg, "EOF"):
		return ReasonConnClosed
	}
	return ReasonConnectionFailed
}

// recorder collects samples from concurrent users.
type recorder struct {
	follow     *follower // nil when not following; set before the load starts
	mu         sync.Mutex
	started    time.Time
	samples    []Sample
	failures   int
	unfinished int
	users      int
	inFlight   int
	lastIndex  int // samples already reported by progress
	lastAt     time.Duration
}

func (r *recorder) start(t time.Time) {
	r.mu.Lock()
	r.started = t
	r.mu.Unlock()
}

func (r *recorder) userStarted() {
	r.mu.Lock()
	r.users++
	r.mu.Unlock()
}

func (r *recorder) sent() {
	r.mu.Lock()
	r.inFlight++
	r.mu.Unlock()
}

func (r *recorder) add(s Sample) {
	r.mu.Lock()
	r.samples = append(r.samples, s)
	if !s.OK() {
		r.failures++
	}
	r.mu.Unlock()
}

func (r *recorder) dropped() {
	r.mu.Lock()
	r.unfinished++
	r.mu.Unlock()
}

// report starts the progress ticker; the returned function stops it.
func (r *recorder) report(cfg Config, res *Result) (stop func()) {
	if cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(cfg.ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.mu.Lock()
				started := r.started
				r.mu.Unlock()
				if started.IsZero() {
					continue
				}
				model := "closed"
				if cfg.Users == 0 {
					model = "open"
				}
				cfg.Progress(r.progress(time.Since(started), cfg.Duration, model))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// Progress is a snapshot of a running load.
type Progress struct {
	// Elapsed is the time since the start; Duration the planned length.
	Elapsed, Duration time.Duration
	// Model is "closed" or "open".
	Model string
	// Users is the users started (closed model).
	Users int
	// InFlight is the open model's requests sent and not yet answered.
	InFlight int
	// Requests and Failures are the totals so far.
	Requests, Failures int
	// CurrentRPS is the rate of answers since the previous snapshot (over
	// the whole run in the final one).
	CurrentRPS float64
	// CurrentMedian and CurrentP95 cover the answers since the previous
	// snapshot (the whole run in the final one).
	CurrentMedian, CurrentP95 time.Duration
	// Final is set on the last call, after the run.
	Final bool
}

func (r *recorder) progress(elapsed, duration time.Duration, model string) Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	window := r.samples[r.lastIndex:]
	lat := make([]time.Duration, len(window))
	for i, s := range window {
		lat[i] = s.Latency
	}
	p := Progress{
		Elapsed: elapsed, Duration: duration, Model: model, Users: r.users,
		InFlight: r.inFlight - len(r.samples) - r.unfinished,
		Requests: len(r.samples), Failures: r.failures,
	}
	if p.InFlight < 0 {
		p.InFlight = 0
	}
	if span := elapsed - r.lastAt; span > 0 {
		p.CurrentRPS = float64(len(window)) / span.Seconds()
	}
	slices.Sort(lat)
	p.CurrentMedian = Percentile(lat, 50)
	p.CurrentP95 = Percentile(lat, 95)
	r.lastIndex, r.lastAt = len(r.samples), elapsed
	return p
}
