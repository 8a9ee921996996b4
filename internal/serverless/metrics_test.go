package serverless_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"flashsale/internal/payment"
	"flashsale/internal/serverless"
	"flashsale/internal/testutil/emfschema"
)

// TestProcessorMetrics runs the processor over a cold and a warm invocation
// and a duplicate delivery, and checks their EMF records against the
// specification and member by member.
func TestProcessorMetrics(t *testing.T) {
	payer, err := payment.New(payment.Config{Delay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var logs, out bytes.Buffer
	start := time.Now().Add(-70 * time.Millisecond)
	p, err := serverless.NewProcessor(serverless.ProcessorConfig{
		Payer: payer, Logger: serverless.NewLogger(&logs, "processor", ""),
		Invocations: serverless.NewInvocations(start, nil),
		Metrics:     serverless.NewMetrics(&out, "processor", nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b := newOrder(t, "order-a"), newOrder(t, "order-b")
	tests := []struct {
		requestID   string
		ev          events.SNSEvent
		wantCold    float64
		wantInit    bool
		wantPayment int
	}{
		{"req-1", eventFor(t, a), 1, true, 1},
		{"req-2", eventFor(t, b, newOrder(t, "order-c")), 0, false, 2},
		{"req-3", eventFor(t, a), 0, false, 0}, // a duplicate: no payment
	}
	for _, tt := range tests {
		if err := p.Handle(lambdaCtx(tt.requestID), tt.ev); err != nil {
			t.Fatalf("%s: %v", tt.requestID, err)
		}
	}
	recs := emfschema.Records(t, out.Bytes())
	if len(recs) != len(tests) {
		t.Fatalf("%d EMF records, want one per invocation:\n%s", len(recs), out.String())
	}
	for i, tt := range tests {
		r := recs[i]
		if r["function"] != "processor" || r["request_id"] != tt.requestID || r[serverless.MetricColdStart] != tt.wantCold {
			t.Errorf("record %d: %v", i, r)
		}
		if init, ok := r[serverless.MetricInitDuration].(float64); ok != tt.wantInit || (ok && init < 70) {
			t.Errorf("record %d: InitDuration %v, want it on the cold start only, at least 70 ms", i, r[serverless.MetricInitDuration])
		}
		n := 0
		switch v := r[serverless.MetricPaymentDuration].(type) {
		case float64:
			n = 1
		case []any:
			n = len(v)
		}
		if n != tt.wantPayment {
			t.Errorf("record %d: %d payment durations, want %d: %v", i, n, tt.wantPayment, r)
		}
	}
	// The logs hold no EMF record: metrics go to their own writer.
	if bytes.Contains(logs.Bytes(), []byte(`"_aws"`)) {
		t.Errorf("the log holds an EMF record:\n%s", logs.String())
	}
}

// TestMetricsManyPayments: more payments than an EMF value array may hold
// take several records, the cold start counted once.
func TestMetricsManyPayments(t *testing.T) {
	var out bytes.Buffer
	m := serverless.NewMetrics(&out, "processor", nil)
	payments := make([]time.Duration, 250)
	for i := range payments {
		payments[i] = time.Duration(i) * time.Millisecond
	}
	if err := m.Invocation(lambdaCtx("req-1"), serverless.Invocation{Cold: true, Init: 65 * time.Millisecond, Number: 1}, payments); err != nil {
		t.Fatal(err)
	}
	recs := emfschema.Records(t, out.Bytes())
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	total, colds := 0, 0
	for _, r := range recs {
		total += len(r[serverless.MetricPaymentDuration].([]any))
		if _, ok := r[serverless.MetricColdStart]; ok {
			colds++
		}
	}
	if total != 250 || colds != 1 {
		t.Errorf("%d payment values and %d ColdStart values, want 250 and 1", total, colds)
	}
}

// TestAPIMetrics: the API writes one record per invocation, cold then warm.
func TestAPIMetrics(t *testing.T) {
	var logs, out bytes.Buffer
	inner := func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}
	h := serverless.LogRequestsWithMetrics(inner, serverless.NewLogger(&logs, "api", ""),
		serverless.NewInvocations(time.Now(), nil), serverless.NewMetrics(&out, "api", nil), nil)
	for _, id := range []string{"req-1", "req-2"} {
		if _, err := h(lambdaCtx(id), events.APIGatewayV2HTTPRequest{RawPath: "/health"}); err != nil {
			t.Fatal(err)
		}
	}
	recs := emfschema.Records(t, out.Bytes())
	if len(recs) != 2 || recs[0][serverless.MetricColdStart] != 1.0 || recs[1][serverless.MetricColdStart] != 0.0 ||
		recs[0]["request_id"] != "req-1" || recs[1][serverless.MetricInitDuration] != nil {
		t.Errorf("records %v", recs)
	}
}

// TestServiceStartMetrics checks the worker service's start-up record.
func TestServiceStartMetrics(t *testing.T) {
	var out bytes.Buffer
	if err := serverless.NewMetrics(&out, "flashsale-worker", nil).ServiceStart(1234567*time.Microsecond, "host-42"); err != nil {
		t.Fatal(err)
	}
	recs := emfschema.Records(t, out.Bytes())
	if len(recs) != 1 || recs[0]["function"] != "flashsale-worker" || recs[0]["instance"] != "host-42" ||
		recs[0][serverless.MetricColdStart] != 1.0 || recs[0][serverless.MetricInitDuration] != 1234.567 {
		t.Errorf("records %v", recs)
	}
	var nilMetrics *serverless.Metrics
	if err := nilMetrics.ServiceStart(time.Second, ""); err != nil {
		t.Errorf("nil Metrics: %v", err)
	}
}
