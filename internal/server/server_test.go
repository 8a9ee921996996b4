package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/queue"
	"flashsale/internal/queue/memory"
	"flashsale/internal/server"
	"flashsale/internal/testutil/syncbuf"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type running struct {
	srv    *server.Server
	url    string
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg server.Config) *running {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener = l
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{srv: srv, url: "http://" + srv.Addr(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
		r.done <- nil // later stops return at once
	case <-time.After(60 * time.Second):
		t.Fatal("server did not stop")
	}
}

// metric sums the samples of a metric family whose labels include match.
func (r *running) metric(t *testing.T, name string, match map[string]string) float64 {
	t.Helper()
	mfs, err := r.srv.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			for k, v := range match {
				if labels[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func postOrder(client *http.Client, url, path string, customer int) (int, string, error) {
	body := fmt.Sprintf(`{"customer_id":%d,"items":[{"product_id":"sku-%d","quantity":1,"price":9.99}]}`, customer, customer%7)
	resp, err := client.Post(url+path, "application/json", bytes.NewBufferString(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var out struct {
		OrderID string `json:"order_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.OrderID, nil
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestManyAsyncOrders is the acceptance run: 2,000 async orders
// sent 50 at a time to 100 workers with a 10 ms payment all get 202 and are
// all paid, the metrics agree and the queue depth returns to 0.
func TestManyAsyncOrders(t *testing.T) {
	r := start(t, server.Config{Workers: 100, PaymentDelay: 10 * time.Millisecond, SpillFile: filepath.Join(t.TempDir(), "spill")})
	const total, concurrency = 2000, 50
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]bool{}
	work := make(chan int)
	for range concurrency {
		wg.Go(func() {
			for i := range work {
				code, id, err := postOrder(client, r.url, "/orders/async", i+1)
				mu.Lock()
				if err != nil || code != http.StatusAccepted {
					t.Errorf("order %d: status %d, err %v", i, code, err)
				}
				ids[id] = true
				mu.Unlock()
			}
		})
	}
	for i := range total {
		work <- i
	}
	close(work)
	wg.Wait()
	if len(ids) != total {
		t.Fatalf("%d distinct order IDs, want %d", len(ids), total)
	}
	waitFor(t, 30*time.Second, "all payments", func() bool {
		return r.metric(t, "flashsale_payments_total", map[string]string{"result": "completed"}) == total
	})
	if got := r.metric(t, "flashsale_orders_accepted_total", map[string]string{"path": "async"}); got != total {
		t.Errorf("accepted = %v, want %d", got, total)
	}
	if got := r.metric(t, "flashsale_queue_depth", nil); got != 0 {
		t.Errorf("queue depth = %v, want 0", got)
	}
	if got := r.metric(t, "flashsale_workers", nil); got != 100 {
		t.Errorf("workers gauge = %v, want 100", got)
	}
	if got := r.metric(t, "flashsale_orders_rejected_total", nil); got != 0 {
		t.Errorf("rejected = %v, want 0", got)
	}
}

// TestShutdownSpillsAndRecovers: orders still queued after the drain
// timeout go to the spill file, in-flight payments finish, and the next
// server pays the spilled orders. Nothing accepted is lost or paid twice.
func TestShutdownSpillsAndRecovers(t *testing.T) {
	spill := filepath.Join(t.TempDir(), "spill.jsonl")
	cfg := server.Config{Workers: 1, PaymentDelay: 200 * time.Millisecond, DrainTimeout: 300 * time.Millisecond, SpillFile: spill}
	first := start(t, cfg)
	const total = 10
	client := &http.Client{Timeout: 5 * time.Second}
	accepted := map[string]bool{}
	for i := range total {
		code, id, err := postOrder(client, first.url, "/orders/async", i+1)
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("post: %d %v", code, err)
		}
		accepted[id] = true
	}
	first.stop(t)
	paid1 := first.metric(t, "flashsale_payments_total", map[string]string{"result": "completed"})
	if paid1 < 1 || paid1 >= total {
		t.Fatalf("first server paid %v orders before spilling; want some but not all", paid1)
	}
	if got := first.metric(t, "flashsale_payments_in_flight", nil); got != 0 {
		t.Errorf("payments in flight after shutdown = %v; an in-flight payment was abandoned", got)
	}
	spilled, err := memory.ReadSpill(spill)
	if err != nil {
		t.Fatal(err)
	}
	if float64(len(spilled))+paid1 != total {
		t.Fatalf("paid %v + spilled %d != %d accepted", paid1, len(spilled), total)
	}
	for _, o := range spilled {
		if !accepted[o.ID] {
			t.Errorf("spilled unknown order %s", o.ID)
		}
	}

	cfg.Workers = 5
	cfg.DrainTimeout = 10 * time.Second
	second := start(t, cfg)
	waitFor(t, 10*time.Second, "spilled orders paid", func() bool {
		return second.metric(t, "flashsale_payments_total", map[string]string{"result": "completed"}) == float64(len(spilled))
	})
	second.stop(t)
	if _, err := os.Stat(spill); !os.IsNotExist(err) {
		t.Errorf("spill file left after everything was paid: %v", err)
	}
	if got := second.metric(t, "flashsale_payments_total", map[string]string{"result": "completed"}); got != float64(len(spilled)) {
		t.Errorf("second server paid %v, want exactly the %d spilled", got, len(spilled))
	}
}

// TestShutdownDrainsQueue: with time enough, shutdown pays everything
// queued and spills nothing; a sync request in flight gets its answer.
func TestShutdownDrainsQueue(t *testing.T) {
	spill := filepath.Join(t.TempDir(), "spill.jsonl")
	r := start(t, server.Config{Workers: 2, PaymentDelay: 50 * time.Millisecond, DrainTimeout: 30 * time.Second, SpillFile: spill})
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range 20 {
		if code, _, err := postOrder(client, r.url, "/orders/async", i+1); err != nil || code != 202 {
			t.Fatalf("post: %d %v", code, err)
		}
	}
	syncDone := make(chan int, 1)
	go func() {
		code, _, _ := postOrder(client, r.url, "/orders/sync", 99)
		syncDone <- code
	}()
	waitFor(t, 5*time.Second, "sync payment in flight", func() bool {
		return r.metric(t, "flashsale_orders_accepted_total", map[string]string{"path": "sync"}) == 1
	})
	r.stop(t)
	if code := <-syncDone; code != http.StatusOK {
		t.Errorf("sync request in flight at shutdown got %d, want 200", code)
	}
	if got := r.metric(t, "flashsale_payments_total", map[string]string{"result": "completed"}); got != 21 {
		t.Errorf("paid %v, want all 21", got)
	}
	if _, err := os.Stat(spill); !os.IsNotExist(err) {
		t.Errorf("spill file written although the queue drained: %v", err)
	}
}

// TestQueueFull: past the capacity, 503 and nothing enqueued.
func TestQueueFull(t *testing.T) {
	r := start(t, server.Config{Workers: 1, QueueCapacity: 2, PaymentDelay: 2 * time.Second, SpillFile: filepath.Join(t.TempDir(), "s"), DrainTimeout: 10 * time.Millisecond})
	client := &http.Client{Timeout: 5 * time.Second}
	codes := map[int]int{}
	for i := range 6 {
		code, _, err := postOrder(client, r.url, "/orders/async", i+1)
		if err != nil {
			t.Fatal(err)
		}
		codes[code]++
	}
	// One order is taken by the worker (in flight for 2 s), two fill the
	// queue; the rest are refused.
	if codes[202] != 3 || codes[503] != 3 {
		t.Fatalf("codes = %v, want 3x202 and 3x503", codes)
	}
	if got := r.metric(t, "flashsale_orders_rejected_total", map[string]string{"reason": "queue_full"}); got != 3 {
		t.Errorf("queue_full rejections = %v, want 3", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []server.Config{
		{Workers: -1}, {QueueCapacity: -5}, {SyncConcurrency: -1}, {DeclineRate: 2}, {RequestTimeout: -time.Second},
	} {
		cfg.Addr = "127.0.0.1:0"
		if _, err := server.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestCorruptSpillFileStopsStart(t *testing.T) {
	spill := filepath.Join(t.TempDir(), "spill.jsonl")
	if err := os.WriteFile(spill, []byte("{broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := server.New(server.Config{Addr: "127.0.0.1:0", SpillFile: spill})
	if err == nil {
		t.Fatal("a corrupt spill file was ignored")
	}
}

// nopPublisher accepts every order and does nothing with it.
type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, order.Order) error { return nil }

// TestStartLogSaysWhatRuns: the start-up record gives the workers that
// really run: none with an external publisher (serve --topic-arn), whatever
// --workers says.
func TestStartLogSaysWhatRuns(t *testing.T) {
	tests := []struct {
		name      string
		publisher queue.Publisher
		want      string
	}{
		{"in-process queue", nil, "workers=3"},
		{"external publisher", nopPublisher{}, "workers=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncbuf.Buffer
			r := start(t, server.Config{Workers: 3, Publisher: tt.publisher, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			waitFor(t, 5*time.Second, "the start-up record", func() bool { return bytes.Contains(logs.Bytes(), []byte("flashsale serving")) })
			r.stop(t)
			rec := line(&logs, "flashsale serving")
			if !bytes.Contains(rec, []byte(tt.want)) {
				t.Errorf("start-up record %q, want %s", rec, tt.want)
			}
		})
	}
}

// line is the first line of b holding msg.
func line(b *syncbuf.Buffer, msg string) []byte {
	for l := range bytes.Lines(b.Bytes()) {
		if bytes.Contains(l, []byte(msg)) {
			return l
		}
	}
	return nil
}

// TestDurableRestart: on a data dir, the orders still queued when the
// drain timeout ends stay in the database; the next server on the
// directory restores and pays them, and answers GET /orders/{id} for every
// order of both runs. Each is charged once.
func TestDurableRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := server.Config{Workers: 1, PaymentDelay: 100 * time.Millisecond, DrainTimeout: 10 * time.Millisecond, DataDir: dir}
	first := start(t, cfg)
	var ids []string
	for i := range 10 {
		code, id, err := postOrder(http.DefaultClient, first.url, "/orders/async", i+1)
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("post %d: %d %v", i, code, err)
		}
		ids = append(ids, id)
	}
	first.stop(t)
	paidFirst := first.metric(t, "flashsale_payments_total", nil)
	if paidFirst >= 10 {
		t.Fatalf("the first run paid %v of 10 orders before its drain timeout; want some left queued", paidFirst)
	}

	second := start(t, cfg)
	waitFor(t, 10*time.Second, "every order completed", func() bool {
		for _, id := range ids {
			if orderStatus(t, second.url, id) != "completed" {
				return false
			}
		}
		return true
	})
	second.stop(t)
	if paid := paidFirst + second.metric(t, "flashsale_payments_total", nil); paid != 10 {
		t.Errorf("payments across the runs = %v, want 10 (each order once)", paid)
	}
	if got := second.metric(t, "flashsale_duplicates_total", nil); got != 0 {
		t.Errorf("the second run saw %v duplicates, want 0: finished orders are not restored", got)
	}
}

// TestDurableLockedDir: a second server on a data dir the first holds
// fails to start, and the first is untouched.
func TestDurableLockedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first := start(t, server.Config{DataDir: dir})
	if _, err := server.New(server.Config{Addr: "127.0.0.1:0", DataDir: dir, Logger: quiet}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("second server on %s: %v, want an error naming it", dir, err)
	}
	if code, _, err := postOrder(http.DefaultClient, first.url, "/orders/async", 1); err != nil || code != http.StatusAccepted {
		t.Errorf("first server after the second tried: %d %v", code, err)
	}
}

func orderStatus(t *testing.T, url, id string) string {
	t.Helper()
	resp, err := http.Get(url + "/orders/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body.Status
}
