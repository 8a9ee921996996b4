package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"flashsale/internal/loadgen"
	"flashsale/internal/order"
	"flashsale/internal/server"
)

// Bench compares POST /orders/async of the local system on its durable
// default (the data dir's database: every 202 fsynced, with group commit),
// the same system in memory, and a bare net/http handler that decodes the
// same JSON and answers 202, in the same process, on the same cores, one
// after the other at each point: fixed open-model rates, then the maximum
// rate.
type Bench struct {
	// Rates are the fixed open-model rates, in requests per second.
	Rates []float64
	// MaxWorkers is the concurrency of the maximum-rate point (0: none).
	MaxWorkers int
	// MaxRounds is how many times the maximum-rate point runs (the three
	// targets in turn each time), for the spread of a noisy machine; 1
	// when zero.
	MaxRounds int
	// Duration is the length of each run.
	Duration time.Duration
	// SizeOrders is the number of orders of the database size runs (0:
	// none): see DiskSize.
	SizeOrders int
	// Log receives a line per run; nil discards them.
	Log io.Writer
}

// BenchQueueCapacity is the in-process queue's capacity in the bench:
// room for 5 s at 80,000 orders/s. The memory queue allocates its buffer
// up front, so a far larger capacity would cost every garbage collection.
const BenchQueueCapacity = 400_000

// BenchPoint is one load point run against the three targets.
type BenchPoint struct {
	// Rate is the target rate; 0 for the maximum-rate point.
	Rate float64
	// Round numbers the maximum-rate points from 1; 0 for a fixed rate.
	Round int
	// Durable is POST /orders/async of the local system on its data dir,
	// System the same in memory, Bare the bare handler.
	Durable, System, Bare *loadgen.Result
	// Syncs are the durable writes the durable run asked for, DiskSyncs
	// the disk syncs that made them durable (group commit: fewer).
	Syncs, DiskSyncs int64
}

// BenchResults is the outcome of a Bench.
type BenchResults struct {
	Bench   Bench
	Started time.Time
	Points  []BenchPoint
	// Sizes are the database size runs, when Bench.SizeOrders is set.
	Sizes []SizeResult
}

// RunBench runs b.
func RunBench(ctx context.Context, b Bench) (*BenchResults, error) {
	if b.Duration <= 0 {
		return nil, fmt.Errorf("bench duration %v: must be positive", b.Duration)
	}
	spill, err := os.MkdirTemp("", "flashsale-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(spill)
	res := &BenchResults{Bench: b, Started: time.Now()}
	points := append([]float64{}, b.Rates...)
	if b.MaxWorkers > 0 {
		for range max(b.MaxRounds, 1) {
			points = append(points, 0)
		}
	}
	round := 0
	for i, rate := range points {
		cfg := loadgen.Config{Scenario: loadgen.ScenarioAsync, Rate: rate, Duration: b.Duration, Seed: uint64(i + 1)}
		if rate == 0 {
			cfg.MaxWorkers = b.MaxWorkers
		}
		p := BenchPoint{Rate: rate}
		if rate == 0 {
			round++
			p.Round = round
		}
		// The durable system: the same, on a data dir of its own; what is
		// left queued at the end stays in it.
		base, srv, stop, err := runServer(ctx, server.Config{Workers: 1, QueueCapacity: BenchQueueCapacity,
			DataDir: filepath.Join(spill, fmt.Sprintf("data-%d", i)), DrainTimeout: time.Millisecond})
		if err != nil {
			return res, err
		}
		cfg.BaseURL = base
		p.Durable, err = loadgen.Run(ctx, cfg)
		p.Syncs, p.DiskSyncs = srv.Syncs()
		if stopErr := stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return res, fmt.Errorf("bench durable system at %s: %w", p.name(b), err)
		}
		b.logf("durable %s: %s; %.3f disk syncs per accepted order", p.name(b), benchLine(p.Durable), p.syncsPerOrder())

		// The system: one worker with the 3 s payment (the queue only
		// grows during a run), a queue that holds a whole run at the
		// maximum rate (a full queue would answer 503), and what is left
		// spilled to a temporary file at shutdown.
		base, stop, err = startServer(ctx, server.Config{Workers: 1, QueueCapacity: BenchQueueCapacity,
			SpillFile: filepath.Join(spill, fmt.Sprintf("spill-%d.jsonl", i)), DrainTimeout: time.Millisecond})
		if err != nil {
			return res, err
		}
		cfg.BaseURL = base
		p.System, err = loadgen.Run(ctx, cfg)
		if stopErr := stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return res, fmt.Errorf("bench system at %s: %w", p.name(b), err)
		}
		b.logf("memory  %s: %s", p.name(b), benchLine(p.System))

		base, stopBare, err := startBare()
		if err != nil {
			return res, err
		}
		cfg.BaseURL = base
		p.Bare, err = loadgen.Run(ctx, cfg)
		stopBare()
		if err != nil {
			return res, fmt.Errorf("bench bare handler at %s: %w", p.name(b), err)
		}
		b.logf("bare    %s: %s", p.name(b), benchLine(p.Bare))
		res.Points = append(res.Points, p)
	}
	if b.SizeOrders > 0 {
		for _, retention := range []time.Duration{0, SizeRetention} {
			size, err := DiskSize(ctx, filepath.Join(spill, fmt.Sprintf("size-%v", retention)), b.SizeOrders, retention, b.Log)
			if err != nil {
				return res, err
			}
			res.Sizes = append(res.Sizes, size)
		}
	}
	return res, nil
}

// syncsPerOrder is the disk syncs per accepted order of the durable run.
func (p BenchPoint) syncsPerOrder() float64 {
	if p.Durable == nil || p.Durable.Stats.Requests-p.Durable.Stats.Failures == 0 {
		return 0
	}
	return float64(p.DiskSyncs) / float64(p.Durable.Stats.Requests-p.Durable.Stats.Failures)
}

func (b Bench) logf(format string, args ...any) {
	if b.Log != nil {
		fmt.Fprintf(b.Log, format+"\n", args...)
	}
}

// name names the point in the logs and the report.
func (p BenchPoint) name(b Bench) string {
	n := rateName(p.Rate, b.MaxWorkers)
	if p.Round > 0 && b.MaxRounds > 1 {
		n += fmt.Sprintf(", round %d", p.Round)
	}
	return n
}

func rateName(rate float64, workers int) string {
	if rate == 0 {
		return fmt.Sprintf("max (%d in flight)", workers)
	}
	return fmt.Sprintf("%g req/s", rate)
}

func benchLine(r *loadgen.Result) string {
	st := r.Stats
	return fmt.Sprintf("%d requests, %d failed, throughput %.0f/s, p50 %s, p99 %s, max %s", st.Requests, st.Failures,
		r.Throughput, benchMS(st.Median), benchMS(st.P99), benchMS(st.Max))
}

func benchMS(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

// BareHandler decodes an order request as the API does (strictly, at most
// order.MaxBodyBytes) and answers 202 with a pending status; it is the
// baseline of the bench.
func BareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := order.DecodeRequest(http.MaxBytesReader(w, r.Body, order.MaxBodyBytes))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]any{"customer_id": req.CustomerID, "status": "pending"})
	})
}

func startBare() (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: BareHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// WriteMarkdown writes the results as bench/RESULTS.md: one row per point
// and target, and the system's figures as ratios of the bare handler's.
func (r *BenchResults) WriteMarkdown(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# POST /orders/async: durable, in memory, and a bare handler\n\n")
	fmt.Fprintf(b, "Run %s on %s/%s with %d CPUs (%s); load generator and servers in one process, so they share the cores. "+
		"Each point ran %v against the system on its durable default (`internal/server` with a data dir: API, queue, order records and charges "+
		"in one Pebble database, every 202 fsynced, concurrent requests sharing a sync; one worker with the 3 s payment), "+
		"then the same system `--in-memory` (in-process queue of capacity %d), "+
		"then a bare `net/http` handler that decodes the same JSON strictly and answers 202. "+
		"Open model with vegeta's pacer; latency from each request's due time (from its send time at the maximum rate); "+
		"percentiles by nearest rank over every request.\n\n",
		r.Started.UTC().Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), r.Bench.Duration, BenchQueueCapacity)
	fmt.Fprintf(b, "| load | target | requests | failed | sent/s | throughput/s | p50 | p90 | p99 | max |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range r.Points {
		for _, t := range []struct {
			name string
			res  *loadgen.Result
		}{{"durable", p.Durable}, {"memory", p.System}, {"bare", p.Bare}} {
			st := t.res.Stats
			fmt.Fprintf(b, "| %s | %s | %d | %d | %.0f | %.0f | %s | %s | %s | %s |\n", p.name(r.Bench), t.name,
				st.Requests, st.Failures, t.res.SentRate, t.res.Throughput, benchMS(st.Median), benchMS(st.P90), benchMS(st.P99), benchMS(st.Max))
		}
	}
	ratio := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	for _, pair := range []struct {
		title string
		a, b  func(BenchPoint) *loadgen.Result
	}{
		{"Durable / memory", func(p BenchPoint) *loadgen.Result { return p.Durable }, func(p BenchPoint) *loadgen.Result { return p.System }},
		{"Memory / bare", func(p BenchPoint) *loadgen.Result { return p.System }, func(p BenchPoint) *loadgen.Result { return p.Bare }},
	} {
		fmt.Fprintf(b, "\n## %s\n\n| load | throughput | p50 | p90 | p99 |\n|---|---:|---:|---:|---:|\n", pair.title)
		for _, p := range r.Points {
			x, y := pair.a(p), pair.b(p)
			s, q := x.Stats, y.Stats
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", p.name(r.Bench),
				ratio(x.Throughput, y.Throughput), ratio(float64(s.Median), float64(q.Median)),
				ratio(float64(s.P90), float64(q.P90)), ratio(float64(s.P99), float64(q.P99)))
		}
	}
	var maxRatios []float64
	for _, p := range r.Points {
		if p.Round > 0 && p.System.Throughput > 0 {
			maxRatios = append(maxRatios, p.Durable.Throughput/p.System.Throughput)
		}
	}
	if len(maxRatios) > 1 {
		slices.Sort(maxRatios)
		fmt.Fprintf(b, "\nDurable / memory throughput at the maximum rate over %d rounds: median %.2fx (min %.2fx, max %.2fx).\n",
			len(maxRatios), maxRatios[len(maxRatios)/2], maxRatios[0], maxRatios[len(maxRatios)-1])
	}
	fmt.Fprintf(b, "\n## Disk syncs of the durable runs\n\n| load | accepted | durable writes | disk syncs | disk syncs per accepted order |\n|---|---:|---:|---:|---:|\n")
	for _, p := range r.Points {
		fmt.Fprintf(b, "| %s | %d | %d | %d | %.3f |\n", p.name(r.Bench),
			p.Durable.Stats.Requests-p.Durable.Stats.Failures, p.Syncs, p.DiskSyncs, p.syncsPerOrder())
	}
	fmt.Fprintf(b, "\nA 202 of the durable system is sent once the order and its queue entry are fsynced; requests that arrive "+
		"while a sync runs, or in the 1 ms (`--min-sync-interval`) after it, share the next one (group commit), so under concurrency there are fewer disk syncs than orders. "+
		"A throughput ratio below 1 or latency ratios above 1 are the cost of what the system does beyond "+
		"decoding: validation, an order ID, the queue, metrics and logs, and for the durable one the disk. Reproduce with `make bench`.\n")
	if len(r.Sizes) > 0 {
		writeSizes(b, r.Sizes)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
