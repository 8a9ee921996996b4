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
// maximum, against the durable system, the system in memory and the bare
// handler on 127.0.0.1, and a small database size run.
func TestRunBench(t *testing.T) {
	res, err := RunBench(context.Background(), Bench{Rates: []float64{200}, MaxWorkers: 4, MaxRounds: 2, Duration: 200 * time.Millisecond, SizeOrders: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != 3 || res.Points[1].Rate != 0 || res.Points[1].Round != 1 || res.Points[2].Round != 2 {
		t.Fatalf("points = %+v, want the fixed rate then the maximum twice", res.Points)
	}
	fixed := res.Points[0]
	for _, r := range []struct {
		name string
		n    int
		fail int
	}{{"durable", fixed.Durable.Stats.Requests, fixed.Durable.Stats.Failures}, {"system", fixed.System.Stats.Requests, fixed.System.Stats.Failures}, {"bare", fixed.Bare.Stats.Requests, fixed.Bare.Stats.Failures}} {
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
	// Every accepted order of the durable runs was synced, by fewer disk
	// syncs than writes or as many, never none.
	for _, p := range res.Points {
		accepted := int64(p.Durable.Stats.Requests - p.Durable.Stats.Failures)
		if p.Syncs < accepted || p.DiskSyncs <= 0 || p.DiskSyncs > p.Syncs {
			t.Errorf("%v: %d accepted, %d durable writes, %d disk syncs", p.Rate, accepted, p.Syncs, p.DiskSyncs)
		}
	}
	if len(res.Sizes) != 2 || res.Sizes[0].Kept != 2000 || res.Sizes[1].Kept >= 2000 || res.Sizes[1].Bytes <= 0 {
		t.Errorf("size runs = %+v; want all 2000 kept without retention, fewer with", res.Sizes)
	}
	for _, want := range []string{"| 200 req/s | durable |", "| 200 req/s | memory |", "| 200 req/s | bare |", "| max (4 in flight), round 1 |",
		"## Durable / memory", "## Memory / bare", "disk syncs per accepted order", "## Database size",
		"| max (4 in flight), round 2 | durable |", "at the maximum rate over 2 rounds: median"} {
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
