// Package order is the domain of flashsale: an order, its items, the rules a
// request must follow, and the strict decoding that every entry point shares.
// It depends on nothing else in this module.
package order

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Status is the life-cycle state of an order.
type Status string

// The states an order goes through.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
)

// Limits of the order contract.
const (
	MaxItems         = 100
	MaxProductIDLen  = 128
	MaxQuantity      = 1000
	MaxOrderIDLen    = 64
	MaxBodyBytes     = 64 << 10 // largest request body accepted, 64 KiB
	minCustomerID    = 1
	minQuantity      = 1
	minItems         = 1
	attributeOrderID = "order_id"
)

// Item is one line of an order.
type Item struct {
	ProductID string  `json:"product_id"`
	Quantity  int     `json:"quantity"`
	Price     float64 `json:"price"`
}

// Order is an accepted order as it travels through queues and processors.
type Order struct {
	ID         string    `json:"order_id"`
	CustomerID int64     `json:"customer_id"`
	Items      []Item    `json:"items"`
	Status     Status    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
}

// Request is the body a client posts to an order endpoint. OrderID is
// optional: when empty the server assigns one.
type Request struct {
	OrderID    string `json:"order_id,omitempty"`
	CustomerID int64  `json:"customer_id"`
	Items      []Item `json:"items"`
}

// Total is the order's value: the sum of quantity times price.
func (o Order) Total() float64 {
	var t float64
	for _, it := range o.Items {
		t += float64(it.Quantity) * it.Price
	}
	return t
}

// MarshalJSON writes created_at in RFC 3339, UTC.
func (o Order) MarshalJSON() ([]byte, error) {
	type plain Order
	p := plain(o)
	p.CreatedAt = p.CreatedAt.UTC()
	return json.Marshal(p)
}

// New turns a validated request into a pending order created at now. It
// assigns an order ID when the request carries none.
func New(req Request, now time.Time) (Order, error) {
	if err := req.Validate(); err != nil {
		return Order{}, err
	}
	id := req.OrderID
	if id == "" {
		id = NewID(now)
	}
	items := make([]Item, len(req.Items))
	copy(items, req.Items)
	return Order{
		ID:         id,
		CustomerID: req.CustomerID,
		Items:      items,
		Status:     StatusPending,
		CreatedAt:  now.UTC().Truncate(time.Millisecond),
	}, nil
}

var (
	idMu      sync.Mutex
	idEntropy = ulid.Monotonic(rand.Reader, 0)
)

// NewID returns a new order ID: a ULID, unique and sortable by creation time
// (monotonic within one process even inside the same millisecond).
func NewID(now time.Time) string {
	idMu.Lock()
	defer idMu.Unlock()
	id, err := ulid.New(ulid.Timestamp(now), idEntropy)
	if err != nil {
		// The monotonic reader overflows only after 2^80 IDs in one
		// millisecond; fall back to fresh entropy rather than fail.
		id = ulid.MustNew(ulid.Timestamp(now), rand.Reader)
	}
	return id.String()
}

// String describes the order briefly, for logs.
func (o Order) String() string {
	return fmt.Sprintf("order %s (customer %d, %d items)", o.ID, o.CustomerID, len(o.Items))
}
