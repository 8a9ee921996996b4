package orderstore_test

import (
	"testing"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/orderstore"
)

func TestPayloadHash(t *testing.T) {
	base := order.Order{ID: "a", CustomerID: 42, Items: []order.Item{{ProductID: "sku-1", Quantity: 2, Price: 10.5}}, CreatedAt: time.Unix(1, 0)}
	same := base
	same.ID, same.CreatedAt, same.Status = "b", time.Unix(2, 0), order.StatusCompleted
	tests := []struct {
		name  string
		other func() order.Order
		equal bool
	}{
		{"ID, time and status aside", func() order.Order { return same }, true},
		{"another customer", func() order.Order { o := base; o.CustomerID = 7; return o }, false},
		{"another quantity", func() order.Order {
			o := base
			o.Items = []order.Item{{ProductID: "sku-1", Quantity: 3, Price: 10.5}}
			return o
		}, false},
		{"another price", func() order.Order {
			o := base
			o.Items = []order.Item{{ProductID: "sku-1", Quantity: 2, Price: 10.51}}
			return o
		}, false},
		{"one more item", func() order.Order {
			o := base
			o.Items = append([]order.Item{{ProductID: "sku-2", Quantity: 1, Price: 1}}, base.Items...)
			return o
		}, false},
	}
	for _, tt := range tests {
		if got := orderstore.PayloadHash(tt.other()) == orderstore.PayloadHash(base); got != tt.equal {
			t.Errorf("%s: equal hashes %v, want %v", tt.name, got, tt.equal)
		}
	}
	if h := orderstore.PayloadHash(base); len(h) != 64 {
		t.Errorf("hash %q, want 64 hex digits (SHA-256)", h)
	}
}
