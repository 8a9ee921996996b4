package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"flashsale/internal/httpapi"
	"flashsale/internal/order"
	"flashsale/internal/orderstore"
	"flashsale/internal/orderstore/memstore"
	"flashsale/internal/payment"
	"flashsale/internal/payonce"
	"flashsale/internal/queue"
	"flashsale/internal/queue/sns"
	"flashsale/internal/queue/sns/snstest"
	"flashsale/internal/testutil/moto"
)

const validBody = `{"customer_id":42,"items":[{"product_id":"sku-1","quantity":2,"price":10.5}]}`

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fakePublisher struct {
	mu        sync.Mutex
	err       error
	hook      func(order.Order) error // when set, its error is Publish's
	published []order.Order
}

func (p *fakePublisher) Publish(_ context.Context, o order.Order) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hook != nil {
		return p.hook(o)
	}
	if p.err != nil {
		return p.err
	}
	p.published = append(p.published, o)
	return nil
}

type fakePayer struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (p *fakePayer) Pay(context.Context, order.Order) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	return p.err
}

type observer struct {
	mu       sync.Mutex
	accepted map[string]int
	rejected map[string]int
	requests int
}

func newObserver() *observer {
	return &observer{accepted: map[string]int{}, rejected: map[string]int{}}
}

func (o *observer) OrderAccepted(path string) { o.mu.Lock(); o.accepted[path]++; o.mu.Unlock() }
func (o *observer) OrderRejected(reason string) {
	o.mu.Lock()
	o.rejected[reason]++
	o.mu.Unlock()
}
func (o *observer) RequestObserved(string, int, time.Duration) {
	o.mu.Lock()
	o.requests++
	o.mu.Unlock()
}

type fixture struct {
	api   *httpapi.API
	pub   *fakePublisher
	pay   *fakePayer
	obs   *observer
	store *flakyStore
}

// flakyStore is a memstore whose calls fail with err when it is set.
type flakyStore struct {
	*memstore.Store
	mu  sync.Mutex
	err error
}

func (s *flakyStore) fail(err error) { s.mu.Lock(); s.err = err; s.mu.Unlock() }

func (s *flakyStore) failing() error { s.mu.Lock(); defer s.mu.Unlock(); return s.err }

func (s *flakyStore) Create(ctx context.Context, o order.Order) (orderstore.Record, error) {
	if err := s.failing(); err != nil {
		return orderstore.Record{}, err
	}
	return s.Store.Create(ctx, o)
}

func (s *flakyStore) Get(ctx context.Context, id string) (orderstore.Record, error) {
	if err := s.failing(); err != nil {
		return orderstore.Record{}, err
	}
	return s.Store.Get(ctx, id)
}

func (s *flakyStore) Claim(ctx context.Context, o order.Order, holder string, lease time.Duration) (orderstore.Record, error) {
	if err := s.failing(); err != nil {
		return orderstore.Record{}, err
	}
	return s.Store.Claim(ctx, o, holder, lease)
}

func newFixture(t *testing.T, mutate func(*httpapi.Config)) *fixture {
	t.Helper()
	ms, err := memstore.New(memstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{pub: &fakePublisher{}, pay: &fakePayer{}, obs: newObserver(), store: &flakyStore{Store: ms}}
	cfg := httpapi.Config{Publisher: f.pub, Payer: f.pay, Store: f.store, Observer: f.obs, Logger: quiet,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "# metrics\n") })}
	if mutate != nil {
		mutate(&cfg)
	}
	api, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.api = api
	return f
}

func (f *fixture) do(method, path, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	f.api.ServeHTTP(rec, req)
	return rec
}

func TestRejections(t *testing.T) {
	big := `{"customer_id":1,"items":[{"product_id":"` + strings.Repeat("x", order.MaxBodyBytes) + `","quantity":1,"price":1}]}`
	tests := []struct {
		name, method, path, ctype, body string
		wantCode                        int
		wantReason, wantField           string
		wantAllow                       string
	}{
		{"malformed json", "POST", "/orders/async", "application/json", `{"customer_id":`, 400, "malformed", "", ""},
		{"unknown field", "POST", "/orders/sync", "application/json", `{"customer_id":1,"x":1,"items":[]}`, 400, "malformed", "x", ""},
		{"wrong type", "POST", "/orders/async", "", `{"customer_id":"1","items":[]}`, 400, "malformed", "customer_id", ""},
		{"invalid customer", "POST", "/orders/async", "application/json", `{"customer_id":0,"items":[{"product_id":"x","quantity":1,"price":1}]}`, 400, "invalid", "customer_id", ""},
		{"invalid quantity", "POST", "/orders/sync", "application/json", `{"customer_id":1,"items":[{"product_id":"x","quantity":0,"price":1}]}`, 400, "invalid", "items[0].quantity", ""},
		{"no items", "POST", "/orders/sync", "application/json; charset=utf-8", `{"customer_id":1,"items":[]}`, 400, "invalid", "items", ""},
		{"too large", "POST", "/orders/async", "application/json", big, 413, "too_large", "", ""},
		{"not json", "POST", "/orders/async", "text/plain", validBody, 415, "unsupported_media_type", "", ""},
		{"form", "POST", "/orders/sync", "application/x-www-form-urlencoded", validBody, 415, "unsupported_media_type", "", ""},
		{"bad content type", "POST", "/orders/sync", ";;;", validBody, 415, "unsupported_media_type", "", ""},
		{"get sync", "GET", "/orders/sync", "", "", 405, "method_not_allowed", "", "POST"},
		{"put async", "PUT", "/orders/async", "application/json", validBody, 405, "method_not_allowed", "", "POST"},
		{"post health", "POST", "/health", "", "", 405, "method_not_allowed", "", "GET, HEAD"},
		{"delete metrics", "DELETE", "/metrics", "", "", 405, "method_not_allowed", "", "GET, HEAD"},
		{"unknown path", "GET", "/orders", "", "", 404, "not_found", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			rec := f.do(tt.method, tt.path, tt.ctype, tt.body)
			if rec.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tt.wantCode, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var body httpapi.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
				t.Fatalf("error body %q: %v", rec.Body, err)
			}
			if body.Field != tt.wantField {
				t.Errorf("field = %q, want %q (%s)", body.Field, tt.wantField, body.Error)
			}
			if got := rec.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			// A rejected request changes nothing but the rejected counter.
			if len(f.pub.published) != 0 || f.pay.calls != 0 {
				t.Errorf("rejected request published %d, paid %d", len(f.pub.published), f.pay.calls)
			}
			if len(f.obs.accepted) != 0 || f.obs.requests != 0 {
				t.Errorf("rejected request moved accepted %v / request durations %d", f.obs.accepted, f.obs.requests)
			}
			if f.obs.rejected[tt.wantReason] != 1 || len(f.obs.rejected) != 1 {
				t.Errorf("rejected = %v, want one %q", f.obs.rejected, tt.wantReason)
			}
		})
	}
}

// TestTooLargeChunked: a body of unknown length (chunked) over the limit is a
// 413 whether the object itself is too large or only what follows it, and
// publishes nothing; within the limit, trailing data is a 400.
func TestTooLargeChunked(t *testing.T) {
	valid := `{"customer_id":1,"items":[{"product_id":"sku-1","quantity":1,"price":1}]}`
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"object too large", `{"customer_id":1,"items":[{"product_id":"` + strings.Repeat("x", order.MaxBodyBytes) + `","quantity":1,"price":1}]}`, http.StatusRequestEntityTooLarge},
		{"trailing spaces past the limit", valid + strings.Repeat(" ", order.MaxBodyBytes), http.StatusRequestEntityTooLarge},
		{"trailing data past the limit", valid + strings.Repeat("x", order.MaxBodyBytes), http.StatusRequestEntityTooLarge},
		{"trailing data within the limit", valid + " x", http.StatusBadRequest},
		{"a second object within the limit", valid + valid, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			req := httptest.NewRequest("POST", "/orders/async", io.MultiReader(strings.NewReader(tt.body)))
			req.ContentLength = -1 // unknown length: the limit must still apply while reading
			rec := httptest.NewRecorder()
			f.api.ServeHTTP(rec, req)
			if rec.Code != tt.status || len(f.pub.published) != 0 {
				t.Fatalf("status %d (%s), published %d; want %d and nothing", rec.Code, rec.Body, len(f.pub.published), tt.status)
			}
		})
	}
}

func TestAsyncAccepted(t *testing.T) {
	f := newFixture(t, nil)
	rec := f.do("POST", "/orders/async", "application/json", `{"order_id":"client-1","customer_id":42,"items":[{"product_id":"sku-1","quantity":2,"price":10.5}]}`)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status = %d, want 202: %s", rec.Code, rec.Body)
	}
	var body httpapi.AsyncAccepted
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.OrderID != "client-1" || body.Status != order.StatusPending {
		t.Errorf("body = %+v", body)
	}
	if len(f.pub.published) != 1 {
		t.Fatalf("published %d orders, want 1", len(f.pub.published))
	}
	o := f.pub.published[0]
	if o.ID != "client-1" || o.CustomerID != 42 || o.Status != order.StatusPending || o.CreatedAt.IsZero() || o.CreatedAt.Location() != time.UTC {
		t.Errorf("published %+v", o)
	}
	if f.obs.accepted["async"] != 1 || f.obs.requests != 1 || len(f.obs.rejected) != 0 {
		t.Errorf("observer: accepted %v rejected %v requests %d", f.obs.accepted, f.obs.rejected, f.obs.requests)
	}
}

func TestAsyncNotEnqueued(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantReason string
	}{
		{"queue full", queue.ErrFull, "queue_full"},
		{"publish failed", errors.New("sns: connection refused"), "publish_failed"},
		{"closed", queue.ErrClosed, "publish_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.pub.err = tt.err
			rec := f.do("POST", "/orders/async", "application/json", validBody)
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status = %d, want 503", rec.Code)
			}
			if rec.Header().Get("Retry-After") != "1" {
				t.Errorf("Retry-After = %q, want 1", rec.Header().Get("Retry-After"))
			}
			if f.obs.accepted["async"] != 0 || f.obs.rejected[tt.wantReason] != 1 {
				t.Errorf("accepted %v rejected %v", f.obs.accepted, f.obs.rejected)
			}
		})
	}
}

func TestSync(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantCode   int
		wantStatus order.Status
	}{
		{"completed", nil, 200, order.StatusCompleted},
		{"declined", payment.ErrDeclined, 402, order.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.pay.err = tt.err
			rec := f.do("POST", "/orders/sync", "application/json", validBody)
			if rec.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantCode)
			}
			var o order.Order
			if err := json.Unmarshal(rec.Body.Bytes(), &o); err != nil {
				t.Fatal(err)
			}
			if o.Status != tt.wantStatus || o.ID == "" || o.CustomerID != 42 {
				t.Errorf("body = %+v", o)
			}
			if f.pay.calls != 1 || len(f.pub.published) != 0 || f.obs.accepted["sync"] != 1 {
				t.Errorf("paid %d, published %d, accepted %v", f.pay.calls, len(f.pub.published), f.obs.accepted)
			}
		})
	}
}

// TestSyncTimeout: a payment that outlives the request deadline gives 504,
// at the deadline (fake time: no real seconds).
func TestSyncTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		proc, _ := payment.New(payment.Config{Delay: 3 * time.Second})
		f := newFixture(t, func(c *httpapi.Config) {
			c.Payer = proc
			c.RequestTimeout = time.Second
		})
		start := time.Now()
		rec := f.do("POST", "/orders/sync", "application/json", validBody)
		if rec.Code != http.StatusGatewayTimeout {
			t.Fatalf("status = %d, want 504", rec.Code)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("answered after %v, want the 1s deadline", got)
		}
	})
}

func TestSyncIdempotent(t *testing.T) {
	f := newFixture(t, nil)
	body := `{"order_id":"same","customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1}]}`
	if rec := f.do("POST", "/orders/sync", "application/json", body); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	rec := f.do("POST", "/orders/sync", "application/json", body)
	var st httpapi.OrderStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != 200 || st.Status != order.StatusCompleted ||
		st.Attempts != 1 || st.PaidAt.IsZero() || st.ProcessedBy == "" {
		t.Errorf("repeat = %d %s (%v); want 200 with the completed order's status", rec.Code, rec.Body, err)
	}
	if f.pay.calls != 1 {
		t.Fatalf("order_id sent twice was paid %d times, want 1", f.pay.calls)
	}
}

func TestReusedOrderIDIsAConflict(t *testing.T) {
	first := `{"order_id":"reused","customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1}]}`
	tests := []struct {
		name, body, field string
	}{
		{"another customer", `{"order_id":"reused","customer_id":2,"items":[{"product_id":"x","quantity":1,"price":1}]}`, "customer_id"},
		{"other items", `{"order_id":"reused","customer_id":1,"items":[{"product_id":"y","quantity":5,"price":100}]}`, "items"},
	}
	for _, path := range []string{"/orders/sync", "/orders/async"} {
		for _, tt := range tests {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				f := newFixture(t, nil)
				if rec := f.do("POST", path, "application/json", first); rec.Code != 200 && rec.Code != 202 {
					t.Fatalf("first post: %d %s", rec.Code, rec.Body)
				}
				paid, published := f.pay.calls, len(f.pub.published)
				rec := f.do("POST", path, "application/json", tt.body)
				var body httpapi.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusConflict || body.Field != tt.field {
					t.Errorf("reuse = %d %s; want 409 naming %s", rec.Code, rec.Body, tt.field)
				}
				if f.pay.calls != paid || len(f.pub.published) != published || f.obs.rejected["conflict"] != 1 {
					t.Errorf("the conflicting order was paid (%d) or published (%d), or not counted (%v)",
						f.pay.calls-paid, len(f.pub.published)-published, f.obs.rejected)
				}
				// The store still holds the first payload.
				rec = f.do("GET", "/orders/reused", "", "")
				var st httpapi.OrderStatus
				if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.CustomerID != 1 || st.Items[0].ProductID != "x" {
					t.Errorf("GET after the conflict: %s", rec.Body)
				}
			})
		}
	}
}

// slowPayer pays after delay, counting payments.
type slowPayer struct {
	delay time.Duration
	calls atomic.Int64
}

func (p *slowPayer) Pay(ctx context.Context, _ order.Order) error {
	p.calls.Add(1)
	select {
	case <-time.After(p.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestConcurrentSyncPaysOnce: two sync requests with one order_id at once
// pay once; both answer completed (the second after waiting for the first).
func TestConcurrentSyncPaysOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		payer := &slowPayer{delay: 2 * time.Second}
		f := newFixture(t, func(c *httpapi.Config) { c.Payer = payer })
		body := `{"order_id":"twice","customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1}]}`
		var wg sync.WaitGroup
		codes := make([]int, 2)
		statuses := make([]order.Status, 2)
		for i := range 2 {
			wg.Go(func() {
				rec := f.do("POST", "/orders/sync", "application/json", body)
				var st struct {
					Status order.Status `json:"status"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &st)
				codes[i], statuses[i] = rec.Code, st.Status
			})
		}
		wg.Wait()
		if payer.calls.Load() != 1 {
			t.Errorf("paid %d times, want 1", payer.calls.Load())
		}
		for i := range 2 {
			if codes[i] != 200 || statuses[i] != order.StatusCompleted {
				t.Errorf("request %d: %d %s; want 200 completed", i, codes[i], statuses[i])
			}
		}
	})
}

// TestSyncTakesOverAnExpiredClaim: a claim whose holder died (its lease ran
// out) is taken over by the next request for the order.
func TestSyncTakesOverAnExpiredClaim(t *testing.T) {
	f := newFixture(t, nil)
	o, err := order.New(order.Request{OrderID: "orphan", CustomerID: 1, Items: []order.Item{{ProductID: "x", Quantity: 1, Price: 1}}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Claim(context.Background(), o, "dead", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	rec := f.do("POST", "/orders/sync", "application/json", `{"order_id":"orphan","customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1}]}`)
	if rec.Code != 200 || f.pay.calls != 1 {
		t.Errorf("sync of an orphaned claim = %d %s, %d payments; want 200 and one payment", rec.Code, rec.Body, f.pay.calls)
	}
}

func TestAsyncRecordsThenRepeats(t *testing.T) {
	f := newFixture(t, nil)
	body := `{"order_id":"a-1","customer_id":42,"items":[{"product_id":"sku-1","quantity":2,"price":10.5}]}`
	if rec := f.do("POST", "/orders/async", "application/json", body); rec.Code != 202 {
		t.Fatalf("post = %d", rec.Code)
	}
	rec := f.do("GET", "/orders/a-1", "", "")
	var st httpapi.OrderStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != 200 || st.Status != order.StatusPending ||
		st.OrderID != "a-1" || st.CustomerID != 42 || st.Total != 21 || st.CreatedAt.IsZero() || st.Attempts != 0 {
		t.Fatalf("GET right after the 202 = %d %s", rec.Code, rec.Body)
	}
	if ct, cc := rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("GET headers: Content-Type %q, Cache-Control %q", ct, cc)
	}
	rec = f.do("POST", "/orders/async", "application/json", body)
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != 200 || st.Status != order.StatusPending {
		t.Errorf("repeat = %d %s; want 200 with the status", rec.Code, rec.Body)
	}
	if len(f.pub.published) != 1 || f.obs.accepted["async"] != 1 {
		t.Errorf("published %d, accepted %v; want the order once", len(f.pub.published), f.obs.accepted)
	}
}

// TestAsyncNotAcceptedIsNeverPaid: a 503 cancels the order, so that a
// message that went out all the same is acknowledged unpaid; the client
// may post the order_id again.
func TestAsyncNotAcceptedIsNeverPaid(t *testing.T) {
	f := newFixture(t, nil)
	f.pub.err = errors.New("sns: connection reset")
	body := `{"order_id":"lost","customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1}]}`
	if rec := f.do("POST", "/orders/async", "application/json", body); rec.Code != 503 {
		t.Fatalf("post = %d, want 503", rec.Code)
	}
	rec := f.do("GET", "/orders/lost", "", "")
	var st httpapi.OrderStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Status != order.StatusFailed || st.Reason != "not_accepted" {
		t.Fatalf("GET after the 503 = %d %s; want failed, not_accepted", rec.Code, rec.Body)
	}
	o, _ := order.New(order.Request{OrderID: "lost", CustomerID: 1, Items: []order.Item{{ProductID: "x", Quantity: 1, Price: 1}}}, time.Now())
	payer := &fakePayer{}
	if res, err := payonce.Process(context.Background(), f.store, payer, o, "w1", time.Minute); err != nil || res.Outcome != payonce.Finished || payer.calls != 0 {
		t.Errorf("a processor given the message = %v, %v, %d payments; want finished, unpaid", res.Outcome, err, payer.calls)
	}
	// The client retries after Retry-After, and this time it goes through.
	f.pub.err = nil
	if rec := f.do("POST", "/orders/async", "application/json", body); rec.Code != 202 {
		t.Errorf("post again = %d %s, want 202", rec.Code, rec.Body)
	}
}

// TestAsyncPublishedAfterAll: publish reported a failure, but a processor
// already holds the order: it is accepted, not cancelled.
func TestAsyncPublishedAfterAll(t *testing.T) {
	f := newFixture(t, nil)
	f.pub.hook = func(o order.Order) error {
		if _, err := f.store.Claim(context.Background(), o, "w1", time.Minute); err != nil {
			t.Error(err)
		}
		return errors.New("sns: timeout reading the response")
	}
	if rec := f.do("POST", "/orders/async", "application/json", validBody); rec.Code != 202 {
		t.Errorf("post = %d %s, want 202", rec.Code, rec.Body)
	}
}

func TestStoreUnavailable(t *testing.T) {
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/orders/async", validBody},
		{"POST", "/orders/sync", validBody},
		{"GET", "/orders/any", ""},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			f := newFixture(t, nil)
			f.store.fail(errors.New("dynamodb: connection refused"))
			rec := f.do(tt.method, tt.path, "application/json", tt.body)
			var body httpapi.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
				t.Errorf("= %d %s, want 503 with Retry-After and a JSON error", rec.Code, rec.Body)
			}
			if len(f.pub.published) != 0 || f.pay.calls != 0 {
				t.Errorf("published %d, paid %d: want nothing", len(f.pub.published), f.pay.calls)
			}
		})
	}
}

func TestOrderStatusEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	if rec := f.do("POST", "/orders/sync", "application/json", `{"order_id":"done-1","customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1}]}`); rec.Code != 200 {
		t.Fatal(rec.Code)
	}
	tests := []struct {
		method, path string
		code         int
		allow, field string
	}{
		{"GET", "/orders/done-1", 200, "", ""},
		{"HEAD", "/orders/done-1", 200, "", ""},
		{"GET", "/orders/unknown-1", 404, "", ""},
		{"GET", "/orders/bad%20id", 400, "", "order_id"},
		{"GET", "/orders/" + strings.Repeat("x", order.MaxOrderIDLen+1), 400, "", "order_id"},
		{"POST", "/orders/done-1", 405, "GET, HEAD", ""},
		{"DELETE", "/orders/done-1", 405, "GET, HEAD", ""},
		{"GET", "/orders/sync", 405, "POST", ""},
		{"GET", "/orders/async", 405, "POST", ""},
		{"PUT", "/orders/async", 405, "POST", ""},
		{"GET", "/orders/a/b", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := f.do(tt.method, tt.path, "", "")
			if rec.Code != tt.code || rec.Header().Get("Allow") != tt.allow {
				t.Fatalf("= %d (Allow %q) %s; want %d (Allow %q)", rec.Code, rec.Header().Get("Allow"), rec.Body, tt.code, tt.allow)
			}
			if tt.field != "" {
				var body httpapi.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Field != tt.field {
					t.Errorf("body %s, want the field %s named", rec.Body, tt.field)
				}
			}
		})
	}
	rec := f.do("GET", "/orders/done-1", "", "")
	var st httpapi.OrderStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Status != order.StatusCompleted || st.PaidAt.IsZero() ||
		st.Attempts != 1 || !strings.HasPrefix(st.ProcessedBy, "api/sync-") {
		t.Errorf("GET of a paid order: %s", rec.Body)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	f := newFixture(t, nil)
	for _, m := range []string{"GET", "HEAD"} {
		if rec := f.do(m, "/health", "", ""); rec.Code != 200 {
			t.Errorf("%s /health = %d", m, rec.Code)
		}
	}
	rec := f.do("GET", "/metrics", "", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "# metrics") {
		t.Errorf("/metrics = %d %q", rec.Code, rec.Body)
	}
	// Without a metrics handler (the Lambda), /metrics does not exist.
	g := newFixture(t, func(c *httpapi.Config) { c.Metrics = nil })
	if rec := g.do("GET", "/metrics", "", ""); rec.Code != 404 {
		t.Errorf("/metrics without handler = %d, want 404", rec.Code)
	}
}

func TestNewRequiresPieces(t *testing.T) {
	if _, err := httpapi.New(httpapi.Config{Payer: &fakePayer{}}); err == nil {
		t.Error("no publisher accepted")
	}
	if _, err := httpapi.New(httpapi.Config{Publisher: &fakePublisher{}}); err == nil {
		t.Error("no payer accepted")
	}
	if _, err := httpapi.New(httpapi.Config{Publisher: &fakePublisher{}, Payer: &fakePayer{}}); err == nil {
		t.Error("no store accepted")
	}
}

// TestAsyncPublishTimeout serves POST /orders/async with the SNS publisher
// pointed at an endpoint that accepts connections and never answers: the
// publisher's own timeout, not the request's (much later) deadline, ends the
// wait, and the client gets the JSON 503 with Retry-After.
func TestAsyncPublishTimeout(t *testing.T) {
	client := awssns.New(awssns.Options{
		Region:       moto.Region,
		BaseEndpoint: aws.String(snstest.Silent(t)),
		Credentials:  credentials.NewStaticCredentialsProvider(moto.AccessKeyID, moto.SecretAccessKey, ""),
	})
	const timeout = 300 * time.Millisecond
	pub, err := sns.New(client, "arn:aws:sns:us-east-1:123456789012:orders", sns.WithTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *httpapi.Config) { c.Publisher = pub })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/orders/async", strings.NewReader(validBody))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	start := time.Now()
	f.api.ServeHTTP(rec, req)
	took := time.Since(start)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503: %s", rec.Code, rec.Body)
	}
	if took < timeout || took > timeout+2*time.Second {
		t.Errorf("answered after %v, want about the %v publish timeout", took, timeout)
	}
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	var body httpapi.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
		t.Errorf("body %q is not a JSON error: %v", rec.Body, err)
	}
	if f.obs.rejected["publish_failed"] != 1 || f.obs.accepted["async"] != 0 {
		t.Errorf("accepted %v rejected %v, want one publish_failed", f.obs.accepted, f.obs.rejected)
	}
}

// TestSyncRequestDeadline: when the request's own deadline (the API
// Lambda's, less its margin) comes before RequestTimeout, the sync path
// answers 504 at that deadline and says which limit it hit.
func TestSyncRequestDeadline(t *testing.T) {
	tests := []struct {
		name            string
		requestDeadline time.Duration // 0: none
		want            time.Duration
	}{
		{"request deadline first", 500 * time.Millisecond, 500 * time.Millisecond},
		{"request timeout first", 5 * time.Second, time.Second},
		{"no request deadline", 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				proc, _ := payment.New(payment.Config{Delay: 3 * time.Second})
				f := newFixture(t, func(c *httpapi.Config) {
					c.Payer = proc
					c.RequestTimeout = time.Second
				})
				ctx := context.Background()
				if tt.requestDeadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.requestDeadline)
					defer cancel()
				}
				req := httptest.NewRequestWithContext(ctx, "POST", "/orders/sync", strings.NewReader(validBody))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				start := time.Now()
				f.api.ServeHTTP(rec, req)
				if rec.Code != http.StatusGatewayTimeout {
					t.Fatalf("status = %d, want 504", rec.Code)
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("answered after %v, want %v", got, tt.want)
				}
				var body httpapi.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.HasSuffix(body.Error, "within "+tt.want.String()) {
					t.Errorf("body %q (%v), want it to name the %v limit", rec.Body, err, tt.want)
				}
			})
		})
	}
}
