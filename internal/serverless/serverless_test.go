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
