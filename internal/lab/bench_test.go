package lab

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRunBench is a short smoke run of the bench: one fixed rate and the
// maximum, against the system and the bare handler on 127.0.0.1.
func TestRunBench(t *testing.T) {
	res, err := RunBench(context.Background(), Bench{Rates: []float64{200}, MaxWorkers: 4, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != 2 || res.Points[1].Rate != 0 {
		t.Fatalf("points = %+v, want the fixed rate then the maximum", res.Points)
	}
	fixed := res.Points[0]
	for _, r := range []struct {
		name string
		n    int
		fail int
	}{{"system", fixed.System.Stats.Requests, fixed.System.Stats.Failures}, {"bare", fixed.Bare.Stats.Requests, fixed.Bare.Stats.Failures}} {
		if r.n != 40 || r.fail != 0 {
			t.Errorf("%s at 200/s for 0.2 s: %d requests, %d failed; want 40, 0", r.name, r.n, r.fail)
		}
	}
	if mx := res.Points[1]; mx.System.MaxWorkers != 4 || mx.System.Stats.Requests == 0 || mx.Bare.Stats.Failures != 0 {
		t.Errorf("max point: %+v / %+v", mx.System.Stats, mx.Bare.Stats)
	}
	var b strings.Builder
	if err := res.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 200 req/s | system |", "| 200 req/s | bare |", "| max (4 in flight) |", "## System / bare"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}
	if _, err := RunBench(context.Background(), Bench{}); err == nil {
		t.Error("a bench without duration should fail")
	}
}

func TestBareHandler(t *testing.T) {
	tests := []struct {
		body string
		want int
	}{
		{`{"customer_id": 42, "items": [{"product_id": "sku-1", "quantity": 2, "price": 10.5}]}`, http.StatusAccepted},
		{`{"customer_id": 0, "items": []}`, http.StatusBadRequest},
		{`{"customer_id": 1, "items": [{"product_id": "a", "quantity": 1, "price": 1}], "extra": 1}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		BareHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/orders/async", strings.NewReader(tt.body)))
		if rec.Code != tt.want {
			t.Errorf("%s: %d, want %d", tt.body, rec.Code, tt.want)
		}
	}
}
