package order_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"flashsale/internal/order"
)

func TestDecodeRequest(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	items := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = `{"product_id":"p","quantity":1,"price":1}`
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	tests := []struct {
		name      string
		body      string
		wantField string // "" with wantErr means a body-level error
		wantErr   bool
		malformed bool // true: ErrMalformed; false: *ValidationError
	}{
		{name: "valid", body: `{"customer_id":42,"items":[{"product_id":"sku-1","quantity":2,"price":10.5}]}`},
		{name: "valid with order_id", body: `{"order_id":"A_b-9","customer_id":1,"items":[{"product_id":"x","quantity":1,"price":0}]}`},
		{name: "100 items", body: `{"customer_id":1,"items":` + items(100) + `}`},
		{name: "max quantity", body: `{"customer_id":1,"items":[{"product_id":"x","quantity":1000,"price":1}]}`},
		{name: "128 char product", body: `{"customer_id":1,"items":[{"product_id":"` + long(128) + `","quantity":1,"price":1}]}`},
		{name: "64 char order_id", body: `{"order_id":"` + long(64) + `","customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1}]}`},

		{name: "empty body", body: ``, wantErr: true, malformed: true},
		{name: "not json", body: `hello`, wantErr: true, malformed: true},
		{name: "truncated", body: `{"customer_id":1,`, wantErr: true, malformed: true},
		{name: "array", body: `[]`, wantErr: true, malformed: true},
		{name: "trailing data", body: `{"customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1}]} {}`, wantErr: true, malformed: true},
		{name: "unknown field", body: `{"customer_id":1,"coupon":"x","items":[]}`, wantErr: true, malformed: true, wantField: "coupon"},
		{name: "server-set status", body: `{"customer_id":1,"status":"completed","items":[{"product_id":"x","quantity":1,"price":1}]}`, wantErr: true, malformed: true, wantField: "status"},
		{name: "customer_id string", body: `{"customer_id":"42","items":[]}`, wantErr: true, malformed: true, wantField: "customer_id"},
		{name: "customer_id fraction", body: `{"customer_id":4.2,"items":[]}`, wantErr: true, malformed: true, wantField: "customer_id"},
		{name: "quantity string", body: `{"customer_id":1,"items":[{"product_id":"x","quantity":"2","price":1}]}`, wantErr: true, malformed: true, wantField: "items.quantity"},
		{name: "price string", body: `{"customer_id":1,"items":[{"product_id":"x","quantity":2,"price":"1"}]}`, wantErr: true, malformed: true, wantField: "items.price"},
		{name: "unknown item field", body: `{"customer_id":1,"items":[{"product_id":"x","quantity":2,"price":1,"sku":2}]}`, wantErr: true, malformed: true, wantField: "sku"},

		{name: "customer_id missing", body: `{"items":[{"product_id":"x","quantity":1,"price":1}]}`, wantErr: true, wantField: "customer_id"},
		{name: "customer_id zero", body: `{"customer_id":0,"items":[{"product_id":"x","quantity":1,"price":1}]}`, wantErr: true, wantField: "customer_id"},
		{name: "customer_id negative", body: `{"customer_id":-5,"items":[{"product_id":"x","quantity":1,"price":1}]}`, wantErr: true, wantField: "customer_id"},
		{name: "items missing", body: `{"customer_id":1}`, wantErr: true, wantField: "items"},
		{name: "items empty", body: `{"customer_id":1,"items":[]}`, wantErr: true, wantField: "items"},
		{name: "101 items", body: `{"customer_id":1,"items":` + items(101) + `}`, wantErr: true, wantField: "items"},
		{name: "product_id empty", body: `{"customer_id":1,"items":[{"product_id":"","quantity":1,"price":1}]}`, wantErr: true, wantField: "items[0].product_id"},
		{name: "product_id too long", body: `{"customer_id":1,"items":[{"product_id":"` + long(129) + `","quantity":1,"price":1}]}`, wantErr: true, wantField: "items[0].product_id"},
		{name: "quantity zero", body: `{"customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1},{"product_id":"x","quantity":0,"price":1}]}`, wantErr: true, wantField: "items[1].quantity"},
		{name: "quantity too big", body: `{"customer_id":1,"items":[{"product_id":"x","quantity":1001,"price":1}]}`, wantErr: true, wantField: "items[0].quantity"},
		{name: "price negative", body: `{"customer_id":1,"items":[{"product_id":"x","quantity":1,"price":-0.01}]}`, wantErr: true, wantField: "items[0].price"},
		{name: "price overflow", body: `{"customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1e400}]}`, wantErr: true, malformed: true, wantField: "items.price"},
		{name: "order_id bad chars", body: `{"order_id":"a b","customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1}]}`, wantErr: true, wantField: "order_id"},
		{name: "order_id too long", body: `{"order_id":"` + long(65) + `","customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1}]}`, wantErr: true, wantField: "order_id"},
		{name: "order_id unicode", body: `{"order_id":"é","customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1}]}`, wantErr: true, wantField: "order_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := order.DecodeRequest(strings.NewReader(tt.body))
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted an invalid request")
			}
			var field string
			var ve *order.ValidationError
			var de *order.DecodeError
			switch {
			case errors.As(err, &ve):
				if tt.malformed {
					t.Fatalf("got validation error %v, want malformed", err)
				}
				field = ve.Field
			case errors.As(err, &de):
				if !tt.malformed {
					t.Fatalf("got malformed error %v, want validation", err)
				}
				field = de.Field
			default:
				if !tt.malformed || !errors.Is(err, order.ErrMalformed) {
					t.Fatalf("error %v is neither validation nor malformed", err)
				}
			}
			if field != tt.wantField {
				t.Errorf("field = %q, want %q (error %v)", field, tt.wantField, err)
			}
		})
	}
}

func TestNewAssignsServerFields(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	req := order.Request{CustomerID: 7, Items: []order.Item{{ProductID: "x", Quantity: 2, Price: 1.25}}}
	o, err := order.New(req, now)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != order.StatusPending {
		t.Errorf("status = %q, want pending", o.Status)
	}
	if !order.ValidOrderID(o.ID) || len(o.ID) != 26 {
		t.Errorf("generated id %q is not a ULID", o.ID)
	}
	if o.Total() != 2.5 {
		t.Errorf("total = %v, want 2.5", o.Total())
	}
	b, _ := json.Marshal(o)
	if !strings.Contains(string(b), `"created_at":"2026-11-25T11:00:00.123Z"`) {
		t.Errorf("created_at not RFC 3339 UTC: %s", b)
	}
	req.OrderID = "client-key"
	o2, _ := order.New(req, now)
	if o2.ID != "client-key" {
		t.Errorf("client order_id not kept: %q", o2.ID)
	}
	if _, err := order.New(order.Request{}, now); err == nil {
		t.Error("New accepted an invalid request")
	}
}

func TestNewIDSortableAndUnique(t *testing.T) {
	now := time.Now()
	seen := make(map[string]bool)
	prev := ""
	for i := range 10000 {
		id := order.NewID(now.Add(time.Duration(i/100) * time.Millisecond))
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		if id <= prev {
			t.Fatalf("id %s not after %s", id, prev)
		}
		seen[id], prev = true, id
	}
}

func TestUnmarshalRoundTrip(t *testing.T) {
	o, _ := order.New(order.Request{CustomerID: 3, Items: []order.Item{{ProductID: "x", Quantity: 1, Price: 2}}}, time.Now())
	b, err := order.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	got, err := order.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != o.ID || !got.CreatedAt.Equal(o.CreatedAt) || got.Items[0] != o.Items[0] || got.Status != o.Status {
		t.Fatalf("round trip: %+v, want %+v", got, o)
	}
	for _, bad := range []string{`{"hello":"world"}`, `not json`, `{"order_id":"x","customer_id":1,"items":[{"product_id":"x","quantity":1,"price":1}],"status":"weird"}`} {
		if _, err := order.Unmarshal([]byte(bad)); err == nil {
			t.Errorf("Unmarshal(%s) accepted a foreign message", bad)
		}
	}
}

// FuzzDecodeOrder: decoding never panics; whatever it accepts is valid and
// survives a round trip through the queue encoding.
func FuzzDecodeOrder(f *testing.F) {
	for _, seed := range []string{
		`{"customer_id":42,"items":[{"product_id":"sku-1","quantity":2,"price":10.5}]}`,
		`{"order_id":"abc","customer_id":1,"items":[{"product_id":"x","quantity":1000,"price":0}]}`,
		`{"customer_id":1e3,"items":null}`, `[]`, `{"items":[{}]}`, ``, `{"customer_id":1,"items":[{"price":NaN}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := order.DecodeRequest(strings.NewReader(string(data)))
		if err != nil {
			if !order.IsValidation(err) && !errors.Is(err, order.ErrMalformed) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		o, err := order.New(req, time.Now())
		if err != nil {
			t.Fatalf("decoded request rejected by New: %v", err)
		}
		b, err := order.Marshal(o)
		if err != nil {
			t.Fatalf("marshal accepted order: %v", err)
		}
		if _, err := order.Unmarshal(b); err != nil {
			t.Fatalf("accepted order does not round-trip: %v (%s)", err, b)
		}
	})
}
