package loadgen

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of the follow-up of async orders (Config.Follow).
const (
	DefaultFollowInterval    = 250 * time.Millisecond
	DefaultFollowTimeout     = 2 * time.Minute
	DefaultFollowConcurrency = 16
)

// maxAnswer bounds what is read of a 202 or of a GET /orders/{id} answer.
const maxAnswer = 64 << 10

// Order states of GET /orders/{id} (httpapi.OrderStatus.Status).
const (
	statusCompleted = "completed"
	statusFailed    = "failed"
)

// Confirmation is what following a sample of the accepted async orders
// with GET /orders/{id} saw: how long after its 202 each order was
// confirmed (completed or failed). The follow-up runs on its own client
// and goroutines; its GETs are not load requests and appear in no other
// statistic of the Result.
type Confirmation struct {
	// Share is the share of accepted orders followed (Config.Follow).
	Share float64
	// Interval is the time between two polls of one order: the
	// resolution of every time below.
	Interval time.Duration
	// Concurrency is the most GETs in flight at once.
	Concurrency int
	// Timeout is how long the follow-up went on after the load ended at
	// most; negative: until every followed order finished.
	Timeout time.Duration
	// Accepted counts the 202 answers of the run; Followed the orders
	// followed among them; Unreadable the 202s whose body held no
	// order_id (not followed).
	Accepted, Followed, Unreadable int
	// Completed and Failed count the followed orders seen in that final
	// state; Unfinished those still pending, processing or unreadable when
	// the follow-up stopped. UnfinishedBy breaks Unfinished down by the
	// last thing their polls saw: "pending", "processing", or a failure
	// reason such as "HTTP 404 Not Found" ("not polled" before a first
	// poll).
	Completed, Failed, Unfinished int
	UnfinishedBy                  map[string]int
	// Polls counts the GETs answered or failed; PollErrors counts those
	// that did not answer 200 with a readable status, by reason ("HTTP
	// 404 Not Found", "HTTP 503 Service Unavailable", "timeout",
	// "unreadable answer", ...). Errors do not stop the follow-up of an
	// order.
	Polls      int
	PollErrors map[string]int
	// MaxPollGap is the longest time between the 202 and the first poll,
	// or between two polls, of one order: more than Interval when the
	// follow-up could not keep up (Concurrency GETs in flight).
	MaxPollGap time.Duration
	// After is how long the follow-up went on after the load ended;
	// TimedOut reports that it stopped at Timeout with orders unfinished,
	// Interrupted that its context ended first.
	After                 time.Duration
	TimedOut, Interrupted bool
	// Distribution holds, sorted, the time from the 202 to the answer of
	// the first poll that saw the order completed or failed, for every
	// finished order: an upper bound, at most one poll gap (and one GET)
	// above the true time.
	Distribution
	// Server is the same for the times the server recorded, when its
	// answers carry them: from the order's created_at to its paid_at
	// (completed) or updated_at (failed). They do not depend on the polls
	// (their resolution is the server's, a millisecond), start when the
	// server took the order rather than at the 202, and come from the
	// server's clocks (those of the API and of the worker, on AWS).
	Server Distribution
	// Orders are the followed orders, in the order they were accepted.
	Orders []FollowedOrder
}

// Distribution summarizes a set of durations by nearest rank.
type Distribution struct {
	// Times holds the durations, sorted.
	Times []time.Duration
	// Avg, Min, Median, P95, P99 and Max summarize Times; all zero when
	// it is empty.
	Avg, Min, Median, P95, P99, Max time.Duration
}

func summarize(times []time.Duration) Distribution {
	d := Distribution{Times: times}
	slices.Sort(d.Times)
	n := len(d.Times)
	if n == 0 {
		return d
	}
	var total time.Duration
	for _, t := range d.Times {
		total += t
	}
	d.Avg = total / time.Duration(n)
	d.Min, d.Max = d.Times[0], d.Times[n-1]
	d.Median = Percentile(d.Times, 50)
	d.P95 = Percentile(d.Times, 95)
	d.P99 = Percentile(d.Times, 99)
	return d
}

// Finished is Completed + Failed.
func (c *Confirmation) Finished() int { return c.Completed + c.Failed }

// FollowedOrder is one followed order.
type FollowedOrder struct {
	// ID is its order_id.
	ID string
	// Accepted is when its 202 arrived, from the start of the run.
	Accepted time.Duration
	// Status is the last state seen: completed, failed, pending,
	// processing, a poll's failure reason, or "not polled".
	Status string
	// Finished reports a final state (completed or failed) seen; Time is
	// then the time from the 202 to the answer of the poll that saw it,
	// and ServerTime, when HasServerTime, the time the server recorded
	// from created_at to paid_at (or updated_at).
	Finished      bool
	Time          time.Duration
	ServerTime    time.Duration
	HasServerTime bool
	// Polls counts its GETs.
	Polls int
}

// followed is one order being followed.
type followed struct {
	FollowedOrder
	accepted time.Time // when the 202 arrived
	next     time.Time // when the next poll is due
	lastSent time.Time // when the previous poll went out (the 202 before the first)
	index    int       // in the heap; -1 when not in it
}

// followHeap orders the followed orders waiting for a poll by due time.
type followHeap []*followed

func (h followHeap) Len() int           { return len(h) }
func (h followHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h followHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *followHeap) Push(x any) {
	o := x.(*followed)
	o.index = len(*h)
	*h = append(*h, o)
}
func (h *followHeap) Pop() any {
	old := *h
	o := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	o.index = -1
	return o
}

// follower polls GET /orders/{id} for a share of the accepted orders until
// each is completed or failed, or until it is told to stop. A dispatcher
// goroutine hands due polls to at most concurrency goroutines at a time.
type follower struct {
	share       float64
	interval    time.Duration
	timeout     time.Duration
	concurrency int
	reqTimeout  time.Duration
	client      *http.Client
	base        string

	mu         sync.Mutex
	waiting    followHeap
	orders     []*followed
	active     int  // followed and not finished
	closed     bool // the load ended: no more orders
	accepted   int
	unreadable int
	polls      int
	pollErrors map[string]int
	maxGap     time.Duration

	wake    chan struct{}   // a new order, a rescheduled one, or the end of the load
	pollCtx context.Context // cancelled at the timeout or when the run's context ends
	cancel  context.CancelFunc
	done    chan struct{} // closed when the dispatcher and its polls have returned
}

// newFollower returns the follower of cfg (which has its defaults), or nil
// when cfg follows nothing.
func newFollower(ctx context.Context, cfg Config) *follower {
	if cfg.Follow <= 0 {
		return nil
	}
	client := cfg.FollowClient
	if client == nil {
		client = newFollowClient(cfg.FollowConcurrency)
	}
	f := &follower{
		share: cfg.Follow, interval: cfg.FollowInterval, timeout: cfg.FollowTimeout,
		concurrency: cfg.FollowConcurrency, reqTimeout: cfg.Timeout, client: client,
		base:       strings.TrimRight(cfg.BaseURL, "/"),
		pollErrors: map[string]int{}, wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	f.pollCtx, f.cancel = context.WithCancel(ctx)
	go f.dispatch()
	return f
}

// newFollowClient is the follow-up's own client: its own connections, so
// that its GETs never wait for, or hold, a connection of the load.
func newFollowClient(concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.MaxIdleConns = concurrency
	t.MaxIdleConnsPerHost = concurrency
	return &http.Client{Transport: t}
}

func (f *follower) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// offer takes the body of a 202 answered at at, and follows its order if
// it falls in the share: the first accepted order, then evenly spread, so
// that n accepted orders give ⌈n·share⌉ followed.
func (f *follower) offer(body []byte, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.accepted++
	n := float64(f.accepted)
	// The epsilon keeps n·share from landing just above an integer through
	// floating-point error (30 x 0.1 = 3.0000000000000004).
	if math.Ceil(n*f.share-1e-9) <= math.Ceil((n-1)*f.share-1e-9) {
		return
	}
	var ans struct {
		OrderID string `json:"order_id"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.OrderID == "" {
		f.unreadable++
		return
	}
	o := &followed{
		FollowedOrder: FollowedOrder{ID: ans.OrderID, Status: "not polled"},
		accepted:      at, next: at.Add(f.interval), lastSent: at,
	}
	f.orders = append(f.orders, o)
	f.active++
	heap.Push(&f.waiting, o)
	f.signal()
}

// dispatch starts each poll when it is due, at most concurrency at a time,
// until every order offered before the end of the load finished, or the
// timeout or the run's context ends its context.
func (f *follower) dispatch() {
	defer close(f.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, f.concurrency)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		f.mu.Lock()
		if f.closed && f.active == 0 {
			f.mu.Unlock()
			return
		}
		var due *followed
		wait := time.Duration(-1)
		if len(f.waiting) > 0 {
			if d := time.Until(f.waiting[0].next); d <= 0 {
				due = heap.Pop(&f.waiting).(*followed)
			} else {
				wait = d
			}
		}
		f.mu.Unlock()
		if due != nil {
			select {
			case slots <- struct{}{}:
			case <-f.pollCtx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				f.poll(due)
			}()
			continue
		}
		var tick <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-f.wake:
		case <-tick:
		case <-f.pollCtx.Done():
			return
		}
		timer.Stop()
	}
}

// poll sends one GET for o and records what it saw; an order not yet
// finished goes back in the heap, due one interval after this poll went
// out.
func (f *follower) poll(o *followed) {
	ctx, cancel := context.WithTimeout(f.pollCtx, f.reqTimeout)
	defer cancel()
	sent := time.Now()
	state, final, server, err := f.get(ctx, o.ID)
	seen := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil && f.pollCtx.Err() != nil {
		return // stopped: not a failure of the system
	}
	f.polls++
	o.Polls++
	f.maxGap = max(f.maxGap, sent.Sub(o.lastSent))
	o.lastSent = sent
	o.Status = state
	if err != nil {
		f.pollErrors[state]++
	}
	if final {
		o.Finished, o.Time = true, seen.Sub(o.accepted)
		o.ServerTime, o.HasServerTime = server, server >= 0
		f.active--
		if f.active == 0 {
			f.signal()
		}
		return
	}
	o.next = sent.Add(f.interval)
	heap.Push(&f.waiting, o)
	f.signal()
}

// get reads GET /orders/{id}: the order's status, whether it is final
// and, if so, the time the server recorded from its creation to its
// payment (negative when the answer does not say); or, with an error, the
// failure's reason as state.
func (f *follower) get(ctx context.Context, id string) (state string, final bool, server time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/orders/"+url.PathEscape(id), nil)
	if err != nil {
		return ReasonConnectionFailed, false, -1, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return errorReason(err), false, -1, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return errorReason(err), false, -1, err
	}
	if resp.StatusCode != http.StatusOK {
		return StatusReason(resp.StatusCode), false, -1, fmt.Errorf("GET /orders/%s: %d", id, resp.StatusCode)
	}
	// The fields of httpapi.OrderStatus read here.
	var ans struct {
		Status    string    `json:"status"`
		CreatedAt time.Time `json:"created_at"`
		UpdatedAt time.Time `json:"updated_at"`
		PaidAt    time.Time `json:"paid_at"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.Status == "" {
		return "unreadable answer", false, -1, fmt.Errorf("GET /orders/%s: no status in %q", id, body)
	}
	final = ans.Status == statusCompleted || ans.Status == statusFailed
	server = -1
	end := ans.UpdatedAt
	if ans.Status == statusCompleted && !ans.PaidAt.IsZero() {
		end = ans.PaidAt
	}
	if final && !ans.CreatedAt.IsZero() && !end.IsZero() && !end.Before(ans.CreatedAt) {
		server = end.Sub(ans.CreatedAt)
	}
	return ans.Status, final, server, nil
}

// finish is called when the load has ended: no more orders are offered;
// it waits until every followed order finished, the timeout passed or ctx
// ended, and summarizes, with times of acceptance from start.
func (f *follower) finish(ctx context.Context, start time.Time) *Confirmation {
	ended := time.Now()
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.signal()
	var timer *time.Timer
	if f.timeout >= 0 {
		timer = time.AfterFunc(f.timeout, f.cancel)
	}
	<-f.done
	if timer != nil {
		timer.Stop()
	}
	f.cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &Confirmation{
		Share: f.share, Interval: f.interval, Concurrency: f.concurrency, Timeout: f.timeout,
		Accepted: f.accepted, Followed: len(f.orders), Unreadable: f.unreadable,
		UnfinishedBy: map[string]int{}, Polls: f.polls, PollErrors: f.pollErrors, MaxPollGap: f.maxGap,
		After: time.Since(ended), Orders: make([]FollowedOrder, len(f.orders)),
	}
	for i, o := range f.orders {
		c.Orders[i] = o.FollowedOrder
		c.Orders[i].Accepted = o.accepted.Sub(start)
		switch {
		case o.Finished && o.Status == statusFailed:
			c.Failed++
		case o.Finished:
			c.Completed++
		default:
			c.Unfinished++
			c.UnfinishedBy[o.Status]++
		}
		if o.Finished {
			c.Times = append(c.Times, o.Time)
		}
		if o.HasServerTime {
			c.Server.Times = append(c.Server.Times, o.ServerTime)
		}
	}
	if c.Unfinished > 0 {
		c.Interrupted = ctx.Err() != nil
		c.TimedOut = !c.Interrupted
	}
	c.summarize()
	return c
}

// summarize computes the statistics of Times and Server.Times.
func (c *Confirmation) summarize() {
	c.Distribution = summarize(c.Times)
	c.Server = summarize(c.Server.Times)
}
