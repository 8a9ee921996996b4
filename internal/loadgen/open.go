package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// errRunEnded is what the targeter answers once the run's context ended.
var errRunEnded = errors.New("load run ended")

// runOpen sends Rate×Duration requests on a constant schedule with vegeta's
// attacker and waits for every answer.
func runOpen(ctx context.Context, cfg Config, client *http.Client, rec *recorder, res *Result) error {
	maxRate := cfg.Rate <= 0
	var (
		interval time.Duration
		total    uint64 = math.MaxUint64
		du       time.Duration
		opts     []func(*vegeta.Attacker)
	)
	if maxRate {
		du = cfg.Duration
		opts = append(opts, vegeta.Workers(uint64(cfg.MaxWorkers)), vegeta.MaxWorkers(uint64(cfg.MaxWorkers)))
	} else {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
		total = uint64(math.Round(cfg.Rate * cfg.Duration.Seconds()))
		if interval <= 0 || total == 0 {
			return fmt.Errorf("rate %v for %v: fewer than one request, or over one per nanosecond", cfg.Rate, cfg.Duration)
		}
	}
	c := *client
	c.Timeout = cfg.Timeout
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = &ctxTransport{base: base, ctx: ctx}

	url := cfg.URL()
	header := http.Header{"Content-Type": {"application/json"}}
	orders := NewOrderGenerator(cfg.Seed, 0)
	var mu sync.Mutex
	targeter := func(t *vegeta.Target) error {
		if ctx.Err() != nil {
			return errRunEnded // stops the attack; nothing is sent
		}
		mu.Lock()
		body := orders.NextBody()
		mu.Unlock()
		t.Method, t.URL, t.Body, t.Header = http.MethodPost, url, body, header
		rec.sent()
		return nil
	}
	// A zero ConstantPacer sends as fast as the workers allow.
	pacer := countedPacer{total: total, ctx: ctx}
	if !maxRate {
		pacer.ConstantPacer = vegeta.ConstantPacer{Freq: 1, Per: interval}
	}
	atk := vegeta.NewAttacker(append([]func(*vegeta.Attacker){vegeta.Client(&c)}, opts...)...)
	start := time.Now()
	res.Started = start
	rec.start(start)
	stopOnCancel := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stopOnCancel()

	var metrics vegeta.Metrics
	for r := range atk.Attack(targeter, pacer, du, "flashsale") {
		due := time.Duration(r.Seq+1) * interval
		if maxRate {
			due = r.Timestamp.Sub(start)
		}
		lag := max(0, r.Timestamp.Sub(start)-due)
		res.MaxLag = max(res.MaxLag, lag)
		if r.Code == 0 && ctx.Err() != nil &&
			(r.Error == errRunEnded.Error() || strings.Contains(r.Error, context.Canceled.Error())) {
			rec.dropped()
			continue
		}
		s := Sample{Start: due, Latency: r.Latency + lag, Status: int(r.Code), Bytes: int64(len(r.Body))}
		if r.Code == 0 {
			s.Reason = errorStringReason(r.Error)
		} else {
			s.Reason = reason(int(r.Code), nil)
		}
		rec.add(s)
		if r.Code == http.StatusAccepted && rec.follow != nil {
			rec.follow.offer(r.Body, r.Timestamp.Add(r.Latency))
		}
		metrics.Add(r)
	}
	metrics.Close()
	res.SentRate, res.Throughput = metrics.Rate, metrics.Throughput
	res.Elapsed = time.Since(start)
	return nil
}

// countedPacer is vegeta's constant pacer, which sends hit k (from 0) at
// (k+1)·interval, stopped after exactly total hits however the clock falls,
// or when ctx ends.
type countedPacer struct {
	vegeta.ConstantPacer
	total uint64
	ctx   context.Context
}

// Pace implements vegeta.Pacer.
func (p countedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= p.total || p.ctx.Err() != nil {
		return 0, true
	}
	return p.ConstantPacer.Pace(elapsed, hits)
}

// ctxTransport aborts every request in flight when ctx ends, on top of the
// request's own context (which carries the client timeout).
type ctxTransport struct {
	base http.RoundTripper
	ctx  context.Context
}

// RoundTrip implements http.RoundTripper.
func (t *ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.ctx, cancel)
	release := func() {
		stop()
		cancel()
	}
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releaseBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releaseBody releases the request's context once the body is closed.
type releaseBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

// Close closes the body and releases the request context.
func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
