package serverless_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"flashsale/internal/payment"
	"flashsale/internal/serverless"
)

func TestInvocations(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(65 * time.Millisecond)
	inv := serverless.NewInvocations(start, func() time.Time { return now })
	first := inv.Next()
	now = now.Add(time.Hour)
	second, third := inv.Next(), inv.Next()
	tests := []struct {
		name string
		got  serverless.Invocation
		want serverless.Invocation
	}{
		{"first is cold with init", first, serverless.Invocation{Cold: true, Init: 65 * time.Millisecond, Number: 1}},
		{"second is warm", second, serverless.Invocation{Number: 2}},
		{"third is warm", third, serverless.Invocation{Number: 3}},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
	if a := first.Attrs(); len(a) != 2 || a[1].(slog.Attr).Value.Float64() != 65 {
		t.Errorf("cold attrs = %v, want cold_start and init_ms=65", a)
	}
	if a := second.Attrs(); len(a) != 1 || a[0].(slog.Attr).Key != serverless.FieldColdStart {
		t.Errorf("warm attrs = %v, want cold_start only", a)
	}
}

func TestProcessStartIsBeforeNow(t *testing.T) {
	if s := serverless.ProcessStart(); s.IsZero() || s.After(time.Now()) {
		t.Fatalf("ProcessStart() = %v", s)
	}
}

func TestLoggerFields(t *testing.T) {
	var buf bytes.Buffer
	log := serverless.NewLogger(&buf, "fallback-name", "")
	log.InfoContext(context.Background(), "outside an invocation")
	log.InfoContext(lambdaCtx("req-42"), "inside")
	lines := logLines(t, &buf)
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	if _, ok := lines[0]["request_id"]; ok {
		t.Errorf("request_id logged outside an invocation: %v", lines[0])
	}
	if lines[1]["request_id"] != "req-42" {
		t.Errorf("request_id = %v, want req-42", lines[1]["request_id"])
	}
	for _, l := range lines {
		if l["function"] != "fallback-name" {
			t.Errorf("function = %v", l["function"])
		}
		if _, ok := l["timestamp"]; !ok {
			t.Errorf("no timestamp key (Lambda JSON format): %v", l)
		}
		if _, ok := l["message"]; !ok {
			t.Errorf("no message key (Lambda JSON format): %v", l)
		}
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
	}{
		{"", slog.LevelInfo}, {"INFO", slog.LevelInfo}, {"debug", slog.LevelDebug},
		{"WARN", slog.LevelWarn}, {"error", slog.LevelError}, {"nonsense", slog.LevelInfo},
	}
	for _, tt := range tests {
		if got := serverless.ParseLevel(tt.in); got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	var buf bytes.Buffer
	serverless.NewLogger(&buf, "f", "WARN").Info("hidden")
	if buf.Len() != 0 {
		t.Errorf("INFO logged at WARN level: %s", buf.String())
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPaymentFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want payment.Config
		ok   bool
	}{
		{"defaults", nil, payment.Config{Delay: 3 * time.Second}, true},
		{"all set", map[string]string{"PAYMENT_DELAY": "500ms", "PAYMENT_DECLINE_RATE": "0.25", "PAYMENT_SEED": "7"},
			payment.Config{Delay: 500 * time.Millisecond, DeclineRate: 0.25, Seed: 7}, true},
		{"blank is default", map[string]string{"PAYMENT_DELAY": " "}, payment.Config{Delay: 3 * time.Second}, true},
		{"bad delay", map[string]string{"PAYMENT_DELAY": "3"}, payment.Config{}, false},
		{"zero delay", map[string]string{"PAYMENT_DELAY": "0s"}, payment.Config{}, false},
		{"negative delay", map[string]string{"PAYMENT_DELAY": "-1s"}, payment.Config{}, false},
		{"just below 20s", map[string]string{"PAYMENT_DELAY": "19.999s"}, payment.Config{Delay: 19999 * time.Millisecond}, true},
		{"20s", map[string]string{"PAYMENT_DELAY": "20s"}, payment.Config{}, false},
		{"a minute", map[string]string{"PAYMENT_DELAY": "1m"}, payment.Config{}, false},
		{"rate above 1", map[string]string{"PAYMENT_DECLINE_RATE": "1.5"}, payment.Config{}, false},
		{"rate not a number", map[string]string{"PAYMENT_DECLINE_RATE": "half"}, payment.Config{}, false},
		{"bad seed", map[string]string{"PAYMENT_SEED": "x"}, payment.Config{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := serverless.PaymentFromEnv(env(tt.env))
			if (err == nil) != tt.ok {
				t.Fatalf("error = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if !tt.ok && !strings.Contains(err.Error(), "PAYMENT_") {
				t.Errorf("error %q does not name the variable", err)
			}
		})
	}
}

func TestRequired(t *testing.T) {
	if _, err := serverless.Required(env(nil), serverless.EnvTopicARN); err == nil || !strings.Contains(err.Error(), "ORDERS_TOPIC_ARN") {
		t.Errorf("missing variable: err = %v", err)
	}
	if v, err := serverless.Required(env(map[string]string{"ORDERS_TOPIC_ARN": " arn:x "}), serverless.EnvTopicARN); err != nil || v != "arn:x" {
		t.Errorf("got %q, %v", v, err)
	}
}

func TestLogRequests(t *testing.T) {
	boom := errors.New("adapter failed")
	tests := []struct {
		name      string
		resp      events.APIGatewayV2HTTPResponse
		err       error
		wantLevel string
		wantOrder string
	}{
		{"accepted", events.APIGatewayV2HTTPResponse{StatusCode: 202, Body: `{"order_id":"abc","status":"pending"}`}, nil, "INFO", "abc"},
		{"health", events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{"status":"ok"}`}, nil, "INFO", ""},
		{"unavailable", events.APIGatewayV2HTTPResponse{StatusCode: 503, Body: `{"error":"x"}`}, nil, "WARN", ""},
		{"binary body", events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "e30=", IsBase64Encoded: true}, nil, "INFO", ""},
		{"adapter error", events.APIGatewayV2HTTPResponse{StatusCode: 504}, boom, "ERROR", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			inv := serverless.NewInvocations(time.Now(), nil)
			inner := func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				return tt.resp, tt.err
			}
			h := serverless.LogRequests(inner, serverless.NewLogger(&buf, "api", ""), inv, nil)
			req := events.APIGatewayV2HTTPRequest{RawPath: "/orders/async"}
			req.RequestContext.HTTP.Method = "POST"
			for i := range 2 {
				resp, err := h(lambdaCtx("req-1"), req)
				if resp.StatusCode != tt.resp.StatusCode || !errors.Is(err, tt.err) && err != tt.err {
					t.Fatalf("call %d: got %d, %v; want the inner handler's %d, %v", i, resp.StatusCode, err, tt.resp.StatusCode, tt.err)
				}
			}
			lines := logLines(t, &buf)
			if len(lines) != 2 {
				t.Fatalf("%d lines, want one per invocation", len(lines))
			}
			for i, l := range lines {
				if l["level"] != tt.wantLevel || l["status"] != float64(tt.resp.StatusCode) || l["path"] != "/orders/async" || l["method"] != "POST" {
					t.Errorf("line %d = %v", i, l)
				}
				if got, _ := l["order_id"].(string); got != tt.wantOrder {
					t.Errorf("line %d: order_id %q, want %q", i, got, tt.wantOrder)
				}
				if l["cold_start"] != (i == 0) {
					t.Errorf("line %d: cold_start %v", i, l["cold_start"])
				}
			}
		})
	}
}

// TestInvocationsReady: ready_ms (process start to MarkReady) is logged
// beside init_ms (process start to the first invocation), which keeps its
// meaning, idle wait included.
func TestInvocationsReady(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		readyAt   time.Duration // 0: MarkReady not called
		firstAt   time.Duration
		wantReady float64 // ready_ms; -1 when absent
		wantInit  float64
	}{
		{"not marked", 0, 70 * time.Millisecond, -1, 70},
		{"on-demand cold start", 60 * time.Millisecond, 62500 * time.Microsecond, 60, 62.5},
		{"proactive init: idle wait in init_ms only", 60 * time.Millisecond, 90 * time.Second, 60, 90000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := start
			inv := serverless.NewInvocations(start, func() time.Time { return now })
			if tt.readyAt > 0 {
				now = start.Add(tt.readyAt)
				inv.MarkReady()
				now = now.Add(time.Hour)
				inv.MarkReady() // only the first call counts
			}
			now = start.Add(tt.firstAt)
			first, second := inv.Next(), inv.Next()
			got := map[string]float64{}
			for _, a := range first.Attrs() {
				if a := a.(slog.Attr); a.Value.Kind() == slog.KindFloat64 {
					got[a.Key] = a.Value.Float64()
				}
			}
			if got[serverless.FieldInitMS] != tt.wantInit {
				t.Errorf("init_ms = %v, want %v", got[serverless.FieldInitMS], tt.wantInit)
			}
			ready, has := got[serverless.FieldReadyMS]
			if has != (tt.wantReady >= 0) || has && ready != tt.wantReady {
				t.Errorf("ready_ms = %v (present %v), want %v", ready, has, tt.wantReady)
			}
			if second.Ready != 0 || len(second.Attrs()) != 1 {
				t.Errorf("warm invocation %+v carries cold-start fields %v", second, second.Attrs())
			}
		})
	}
}

// TestWithDeadlineMargin: the handler's context ends a margin before the
// invocation's deadline (halfway to it when little time remains).
func TestWithDeadlineMargin(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tests := []struct {
		name      string
		remaining time.Duration // to the invocation's deadline; 0: no deadline
		margin    time.Duration
		want      time.Duration // to the handler's deadline; 0: none
	}{
		{"29 s timeout", 29 * time.Second, time.Second, 28 * time.Second},
		{"4 s timeout", 4 * time.Second, time.Second, 3 * time.Second},
		{"exactly twice the margin", 2 * time.Second, time.Second, time.Second},
		{"little time left: halfway", 1200 * time.Millisecond, time.Second, 600 * time.Millisecond},
		{"past the deadline", -time.Second, time.Second, -time.Second},
		{"no margin", 4 * time.Second, 0, 4 * time.Second},
		{"no deadline", 0, time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := lambdaCtx("req-1")
			if tt.remaining != 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, now.Add(tt.remaining))
				defer cancel()
			}
			var (
				got    time.Time
				has    bool
				called bool
			)
			inner := func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				called = true
				got, has = ctx.Deadline()
				if _, ok := lambdacontext.FromContext(ctx); !ok {
					t.Error("the Lambda context is lost")
				}
				return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
			}
			resp, err := serverless.WithDeadlineMargin(inner, tt.margin, clock)(ctx, events.APIGatewayV2HTTPRequest{})
			if err != nil || resp.StatusCode != 200 || !called {
				t.Fatalf("got %d, %v (called %v): want the inner handler's answer", resp.StatusCode, err, called)
			}
			if has != (tt.want != 0) {
				t.Fatalf("handler deadline present %v, want %v", has, tt.want != 0)
			}
			if has && got.Sub(now) != tt.want {
				t.Errorf("handler deadline in %v, want %v", got.Sub(now), tt.want)
			}
		})
	}
}

func TestAPIFromEnv(t *testing.T) {
	const arn = "arn:aws:sns:us-east-1:123456789012:orders"
	tests := []struct {
		name string
		env  map[string]string
		want serverless.APIEnv
		ok   bool
	}{
		{"defaults: below the template's 29 s timeout", map[string]string{"ORDERS_TOPIC_ARN": arn},
			serverless.APIEnv{TopicARN: arn, RequestTimeout: 25 * time.Second, PublishTimeout: 5 * time.Second}, true},
		{"all set", map[string]string{"ORDERS_TOPIC_ARN": arn, "REQUEST_TIMEOUT": "10s", "PUBLISH_TIMEOUT": "1500ms"},
			serverless.APIEnv{TopicARN: arn, RequestTimeout: 10 * time.Second, PublishTimeout: 1500 * time.Millisecond}, true},
		{"no topic", map[string]string{"PUBLISH_TIMEOUT": "1s"}, serverless.APIEnv{}, false},
		{"bad publish timeout", map[string]string{"ORDERS_TOPIC_ARN": arn, "PUBLISH_TIMEOUT": "5"}, serverless.APIEnv{}, false},
		{"zero publish timeout", map[string]string{"ORDERS_TOPIC_ARN": arn, "PUBLISH_TIMEOUT": "0s"}, serverless.APIEnv{}, false},
		{"zero request timeout", map[string]string{"ORDERS_TOPIC_ARN": arn, "REQUEST_TIMEOUT": "0"}, serverless.APIEnv{}, false},
		{"negative request timeout", map[string]string{"ORDERS_TOPIC_ARN": arn, "REQUEST_TIMEOUT": "-1s"}, serverless.APIEnv{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := serverless.APIFromEnv(env(tt.env))
			if (err == nil) != tt.ok {
				t.Fatalf("error = %v, want ok=%v", err, tt.ok)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
