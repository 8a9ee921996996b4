package sqs_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"flashsale/internal/order"
	"flashsale/internal/queue/queuetest"
	"flashsale/internal/queue/sqs"
)

func envelope(t *testing.T, typ string, message any) string {
	t.Helper()
	env := map[string]any{
		"Type":      typ,
		"MessageId": "0b7e6ad7-5e0c-5f2e-9d0a-6a1b9d1e0f11",
		"TopicArn":  "arn:aws:sns:us-east-1:123456789012:orders",
		"Timestamp": "2026-01-02T03:04:05.678Z",
		"MessageAttributes": map[string]any{
			"order_id": map[string]string{"Type": "String", "Value": "o-1"},
		},
		"SignatureVersion": "1",
	}
	if message != nil {
		env["Message"] = message
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeBody(t *testing.T) {
	o := queuetest.NewOrder(t, 42)
	raw, err := order.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		body    string
		wantErr string // empty: decodes to o
	}{
		{"raw delivery", string(raw), ""},
		{"raw delivery with surrounding space", "\n " + string(raw) + "\n", ""},
		{"SNS envelope", envelope(t, "Notification", string(raw)), ""},
		{"SNS envelope, message not an order", envelope(t, "Notification", "hello"), "SNS notification"},
		{"SNS envelope, message a foreign object", envelope(t, "Notification", `{"order_id":"x","colour":"red"}`), "colour"},
		{"SNS envelope without message", envelope(t, "Notification", nil), "without a Message"},
		{"SNS subscription confirmation", envelope(t, "SubscriptionConfirmation", "You have chosen to subscribe"), "SubscriptionConfirmation"},
		{"plain text", "hello, not an order", "message body"},
		{"empty body", "", "empty body"},
		{"foreign JSON", `{"event":"signup","user":7}`, "event"},
		{"order missing its items", `{"order_id":"o-1","customer_id":1,"items":[],"status":"pending","created_at":"2026-01-02T03:04:05Z"}`, "items"},
		{"JSON array", `[1,2,3]`, "message body"},
		{"two orders", string(raw) + string(raw), "after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sqs.DecodeBody(tt.body)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if got.ID != o.ID || got.CustomerID != o.CustomerID || len(got.Items) != len(o.Items) || !got.CreatedAt.Equal(o.CreatedAt) {
					t.Fatalf("decoded %+v, want %+v", got, o)
				}
				return
			}
			if err == nil {
				t.Fatalf("decoded %+v, want an error", got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to mention %q", err, tt.wantErr)
			}
			if got.ID != "" {
				t.Errorf("an error came with order %q", got.ID)
			}
		})
	}
}

// TestDecodeBodyWrapsOrderErrors: a body that fails the order's rules keeps
// the order package's error for callers to inspect.
func TestDecodeBodyWrapsOrderErrors(t *testing.T) {
	_, err := sqs.DecodeBody(envelope(t, "Notification", "not json"))
	if !errors.Is(err, order.ErrMalformed) {
		t.Fatalf("error %v does not wrap order.ErrMalformed", err)
	}
}
