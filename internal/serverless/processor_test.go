package serverless_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"flashsale/internal/order"
	"flashsale/internal/orderstore/memstore"
	"flashsale/internal/payment"
	"flashsale/internal/serverless"
)

// logLines decodes the JSON lines written by a serverless logger.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func newOrder(t *testing.T, id string) order.Order {
	t.Helper()
	o, err := order.New(order.Request{OrderID: id, CustomerID: 42,
		Items: []order.Item{{ProductID: "sku-1", Quantity: 2, Price: 10.5}}}, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func snsRecord(t *testing.T, body string, orderID string) events.SNSEventRecord {
	t.Helper()
	return events.SNSEventRecord{EventSource: "aws:sns", SNS: events.SNSEntity{
		MessageID: "msg-" + orderID, Type: "Notification", Message: body,
		MessageAttributes: map[string]any{"order_id": map[string]any{"Type": "String", "Value": orderID}},
	}}
}

func eventFor(t *testing.T, orders ...order.Order) events.SNSEvent {
	t.Helper()
	var ev events.SNSEvent
	for _, o := range orders {
		b, err := order.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		ev.Records = append(ev.Records, snsRecord(t, string(b), o.ID))
	}
	return ev
}

// countingPayer records the orders it pays and fails those listed.
type countingPayer struct {
	mu    sync.Mutex
	paid  []string
	fail  map[string]error
	calls int // payment attempts
}

func (p *countingPayer) Pay(ctx context.Context, o order.Order) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if err := p.fail[o.ID]; err != nil {
		return err
	}
	p.paid = append(p.paid, o.ID)
	return nil
}

func lambdaCtx(id string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
}

func TestHandle(t *testing.T) {
	good, bad, declined := newOrder(t, "good-1"), newOrder(t, "good-2"), newOrder(t, "declined-1")
	cancelled, cancel := context.WithCancel(lambdaCtx("req-c"))
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		event    events.SNSEvent
		wantErr  error // nil: success
		wantPaid []string
		wantMsg  string // a log message that must appear
	}{
		{"one order paid", lambdaCtx("req-1"), eventFor(t, good), nil, []string{"good-1"}, "order paid"},
		{"declined is final, no error", lambdaCtx("req-2"), eventFor(t, declined), nil, nil, "payment declined: final, not retried"},
		{"malformed body", lambdaCtx("req-3"), events.SNSEvent{Records: []events.SNSEventRecord{snsRecord(t, `{"order_id":"x"`, "x")}},
			serverless.ErrMalformedMessage, nil, "malformed order message: sent to the failure destination after retries"},
		{"foreign JSON", lambdaCtx("req-4"), events.SNSEvent{Records: []events.SNSEventRecord{snsRecord(t, `{"hello":"world"}`, "")}},
			serverless.ErrMalformedMessage, nil, "malformed order message: sent to the failure destination after retries"},
		{"one bad of two still pays the good one", lambdaCtx("req-5"), func() events.SNSEvent {
			ev := eventFor(t, good, bad)
			ev.Records[1].SNS.Message = "not json"
			return ev
		}(), serverless.ErrMalformedMessage, []string{"good-1"}, "order paid"},
		{"cancelled context", cancelled, eventFor(t, good), context.Canceled, nil, "order not processed: returned to Lambda for retry"},
		{"empty event", lambdaCtx("req-6"), events.SNSEvent{}, nil, nil, "SNS event without records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			payer := &countingPayer{fail: map[string]error{"declined-1": payment.ErrDeclined}}
			p, err := serverless.NewProcessor(serverless.ProcessorConfig{
				Payer: payer, Logger: serverless.NewLogger(&buf, "processor", ""),
			})
			if err != nil {
				t.Fatal(err)
			}
			err = p.Handle(tt.ctx, tt.event)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Handle: %v", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("Handle error = %v, want one wrapping %v", err, tt.wantErr)
			}
			if strings.Join(payer.paid, ",") != strings.Join(tt.wantPaid, ",") {
				t.Errorf("paid %v, want %v", payer.paid, tt.wantPaid)
			}
			lines := logLines(t, &buf)
			found := false
			for _, l := range lines {
				if l["message"] == tt.wantMsg {
					found = true
				}
				if l["function"] != "processor" || l["cold_start"] != true {
					t.Errorf("log line %v: want function=processor and cold_start=true", l)
				}
				if _, ok := l["init_ms"].(float64); !ok {
					t.Errorf("first invocation's log line %v has no numeric init_ms", l)
				}
				if rid, _ := l["request_id"].(string); !strings.HasPrefix(rid, "req-") {
					t.Errorf("log line %v has no request_id", l)
				}
			}
			if !found {
				t.Errorf("no log line %q in:\n%s", tt.wantMsg, buf.String())
			}
			for i, rec := range tt.event.Records {
				if id := rec.SNS.MessageAttributes["order_id"].(map[string]any)["Value"]; id != "" && !strings.Contains(buf.String(), `"order_id":"`+id.(string)+`"`) {
					t.Errorf("record %d: no log line carries order_id %v", i, id)
				}
			}
		})
	}
}

func TestHandleColdThenWarm(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(73500 * time.Microsecond)
	clock := func() time.Time { return now }
	p, err := serverless.NewProcessor(serverless.ProcessorConfig{
		Payer:       &countingPayer{},
		Logger:      serverless.NewLogger(&buf, "processor", ""),
		Invocations: serverless.NewInvocations(start, clock),
		Now:         clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"o-1", "o-2", "o-3"} {
		if err := p.Handle(lambdaCtx("req-"+id), eventFor(t, newOrder(t, id))); err != nil {
			t.Fatalf("invocation %d: %v", i+1, err)
		}
	}
	lines := logLines(t, &buf)
	if len(lines) != 3 {
		t.Fatalf("got %d log lines, want 3:\n%s", len(lines), buf.String())
	}
	for i, l := range lines {
		cold := i == 0
		if l["cold_start"] != cold {
			t.Errorf("invocation %d: cold_start = %v, want %v", i+1, l["cold_start"], cold)
		}
		initMS, has := l["init_ms"]
		if has != cold {
			t.Errorf("invocation %d: init_ms present = %v, want %v", i+1, has, cold)
		}
		if cold && initMS != 73.5 {
			t.Errorf("init_ms = %v, want 73.5", initMS)
		}
		if l["request_id"] != "req-o-"+string(rune('1'+i)) || l["order_id"] != "o-"+string(rune('1'+i)) {
			t.Errorf("invocation %d: request_id %v order_id %v", i+1, l["request_id"], l["order_id"])
		}
	}
}

func TestHandleSkipsOrdersAlreadyPaid(t *testing.T) {
	var buf bytes.Buffer
	payer := &countingPayer{}
	p, _ := serverless.NewProcessor(serverless.ProcessorConfig{Payer: payer, Logger: serverless.NewLogger(&buf, "processor", "")})
	ev := eventFor(t, newOrder(t, "dup-1"))
	for range 3 { // SNS delivers at least once; Lambda retries
		if err := p.Handle(lambdaCtx("r"), ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(payer.paid) != 1 {
		t.Fatalf("paid %d times, want once", len(payer.paid))
	}
	if n := strings.Count(buf.String(), "duplicate delivery skipped"); n != 2 {
		t.Fatalf("%d duplicate log lines, want 2", n)
	}
}

// TestHandleRealPaymentTakesDelay runs the real 3-second payment on a fake
// clock.
func TestHandleRealPaymentTakesDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		payer, err := payment.New(payment.Config{})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := serverless.NewProcessor(serverless.ProcessorConfig{Payer: payer, Logger: serverless.NewLogger(&buf, "processor", "")})
		start := time.Now()
		if err := p.Handle(lambdaCtx("r"), eventFor(t, newOrder(t, "slow-1"))); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != payment.DefaultDelay {
			t.Fatalf("handle took %v, want %v", took, payment.DefaultDelay)
		}
		if l := logLines(t, &buf)[0]; l["payment_ms"] != 3000.0 {
			t.Fatalf("payment_ms = %v, want 3000", l["payment_ms"])
		}
	})
}

func TestHandleDeadlineStopsPayment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		payer, _ := payment.New(payment.Config{Delay: 10 * time.Second})
		p, _ := serverless.NewProcessor(serverless.ProcessorConfig{Payer: payer, Logger: serverless.NewLogger(&buf, "processor", "")})
		ctx, cancel := context.WithTimeout(lambdaCtx("r"), 2*time.Second)
		defer cancel()
		err := p.Handle(ctx, eventFor(t, newOrder(t, "late-1")))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
		if !strings.Contains(buf.String(), `"level":"ERROR"`) {
			t.Fatalf("a payment cut by the deadline should log an error:\n%s", buf.String())
		}
	})
}

func TestNewProcessorRequires(t *testing.T) {
	log := serverless.NewLogger(&bytes.Buffer{}, "p", "")
	for name, cfg := range map[string]serverless.ProcessorConfig{
		"no payer":  {Logger: log},
		"no logger": {Payer: &countingPayer{}},
	} {
		if _, err := serverless.NewProcessor(cfg); err == nil {
			t.Errorf("%s: NewProcessor succeeded", name)
		}
	}
}

func TestHandleErrorIsProcessingError(t *testing.T) {
	p, _ := serverless.NewProcessor(serverless.ProcessorConfig{
		Payer:  &countingPayer{fail: map[string]error{"declined-1": payment.ErrDeclined, "failing-1": context.DeadlineExceeded}},
		Logger: serverless.NewLogger(&bytes.Buffer{}, "processor", ""),
	})
	ev := eventFor(t, newOrder(t, "ok-1"), newOrder(t, "declined-1"), newOrder(t, "failing-1"))
	err := p.Handle(lambdaCtx("r"), ev)
	var pe *serverless.ProcessingError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T %v, want *ProcessingError", err, err)
	}
	if pe.Failed != 1 || pe.Total != 3 {
		t.Fatalf("failed %d of %d, want 1 of 3 (a decline is an outcome)", pe.Failed, pe.Total)
	}
	if !strings.Contains(err.Error(), "failing-1") || strings.Contains(err.Error(), "ok-1") || strings.Contains(err.Error(), "declined-1") {
		t.Fatalf("error %q should name the failed order only", err)
	}
}

// TestDeclineIsFinal: a declined order is not charged again when SNS or
// Lambda delivers it again to the same environment.
func TestDeclineIsFinal(t *testing.T) {
	var buf bytes.Buffer
	payer := &countingPayer{fail: map[string]error{"declined-1": payment.ErrDeclined}}
	p, err := serverless.NewProcessor(serverless.ProcessorConfig{Payer: payer, Logger: serverless.NewLogger(&buf, "processor", "")})
	if err != nil {
		t.Fatal(err)
	}
	ev := eventFor(t, newOrder(t, "declined-1"))
	for i := range 3 {
		if err := p.Handle(lambdaCtx(fmt.Sprintf("req-%d", i)), ev); err != nil {
			t.Fatalf("delivery %d of a declined order: %v, want nil (final)", i+1, err)
		}
	}
	if payer.calls != 1 {
		t.Errorf("%d payment attempts for one declined order delivered 3 times, want 1", payer.calls)
	}
	if n := strings.Count(buf.String(), "order already finished: duplicate delivery skipped"); n != 2 {
		t.Errorf("%d duplicate records, want 2:\n%s", n, buf.String())
	}
}

// TestHandleSharesTheStore: processors sharing one store (two execution
// environments, or the Lambda and a worker) pay an order once; one that
// finds the order held waits for its outcome, or, when the holder outlives
// the invocation, returns ErrBusy so that Lambda retries.
func TestHandleSharesTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, _ := memstore.New(memstore.Config{})
		payer, _ := payment.New(payment.Config{Delay: time.Second})
		var buf bytes.Buffer
		newProc := func() *serverless.Processor {
			p, err := serverless.NewProcessor(serverless.ProcessorConfig{Payer: payer, Store: store,
				Logger: serverless.NewLogger(&buf, "processor", "")})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		a, b := newProc(), newProc()
		ev := eventFor(t, newOrder(t, "shared-1"))
		errs := make(chan error, 2)
		for i, p := range []*serverless.Processor{a, b} {
			go func() {
				ctx, cancel := context.WithTimeout(lambdaCtx(fmt.Sprintf("req-%d", i)), 10*time.Second)
				defer cancel()
				errs <- p.Handle(ctx, ev)
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Errorf("Handle: %v", err)
			}
		}
		rec, err := store.Get(context.Background(), "shared-1")
		if err != nil || rec.Status() != order.StatusCompleted || rec.Attempts != 1 || !strings.HasPrefix(rec.Holder, "processor/req-") {
			t.Errorf("record %+v, %v; want completed at the first attempt, by a request", rec, err)
		}
		if n := strings.Count(buf.String(), `"message":"order paid"`); n != 1 {
			t.Errorf("%d payments logged, want 1:\n%s", n, buf.String())
		}

		// A worker holds another order past the invocation's deadline.
		held := newOrder(t, "held-1")
		if _, err := store.Claim(context.Background(), held, "worker@host/0", time.Minute); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(lambdaCtx("req-held"), 3*time.Second)
		defer cancel()
		start := time.Now()
		err = a.Handle(ctx, eventFor(t, held))
		if !errors.Is(err, serverless.ErrBusy) {
			t.Errorf("Handle of a held order = %v, want ErrBusy", err)
		}
		if took := time.Since(start); took != 3*time.Second-serverless.WaitMargin {
			t.Errorf("gave up after %v, want the deadline less %v", took, serverless.WaitMargin)
		}
	})
}

func TestHandleConflictIsNeverPaid(t *testing.T) {
	store, _ := memstore.New(memstore.Config{})
	o := newOrder(t, "conflict-1")
	if _, err := store.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	other := o
	other.CustomerID++
	payer := &countingPayer{}
	p, _ := serverless.NewProcessor(serverless.ProcessorConfig{Payer: payer, Store: store,
		Logger: serverless.NewLogger(&bytes.Buffer{}, "processor", "")})
	if err := p.Handle(lambdaCtx("r"), eventFor(t, other)); !errors.Is(err, serverless.ErrConflict) {
		t.Errorf("Handle = %v, want ErrConflict", err)
	}
	if payer.calls != 0 {
		t.Errorf("%d payments for a conflicting order", payer.calls)
	}
}
