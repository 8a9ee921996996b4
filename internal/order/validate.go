package order

import (
	"errors"
	"fmt"
	"math"
)

// ValidationError reports a broken rule of the order contract. Field names
// the offending JSON field, such as "items[2].quantity"; it is empty when the
// body as a whole is at fault.
type ValidationError struct {
	Field   string
	Message string
}

// Error implements error.
func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// IsValidation reports whether err is (or wraps) a *ValidationError.
func IsValidation(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve)
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ValidOrderID reports whether id is acceptable as a client-supplied order
// ID: 1 to 64 characters of [A-Za-z0-9_-].
func ValidOrderID(id string) bool {
	if len(id) == 0 || len(id) > MaxOrderIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Validate checks the request against the order contract and returns the
// first rule broken as a *ValidationError.
func (r Request) Validate() error {
	if r.OrderID != "" && !ValidOrderID(r.OrderID) {
		return invalid("order_id", "must be 1 to %d characters of A-Z, a-z, 0-9, '_' or '-'", MaxOrderIDLen)
	}
	if r.CustomerID < minCustomerID {
		return invalid("customer_id", "must be a positive integer")
	}
	return validateItems(r.Items)
}

func validateItems(items []Item) error {
	if len(items) < minItems || len(items) > MaxItems {
		return invalid("items", "must hold %d to %d items, got %d", minItems, MaxItems, len(items))
	}
	for i, it := range items {
		field := func(name string) string { return fmt.Sprintf("items[%d].%s", i, name) }
		switch {
		case it.ProductID == "":
			return invalid(field("product_id"), "must not be empty")
		case len(it.ProductID) > MaxProductIDLen:
			return invalid(field("product_id"), "must be at most %d characters", MaxProductIDLen)
		case it.Quantity < minQuantity || it.Quantity > MaxQuantity:
			return invalid(field("quantity"), "must be between %d and %d", minQuantity, MaxQuantity)
		case math.IsNaN(it.Price) || math.IsInf(it.Price, 0) || it.Price < 0:
			return invalid(field("price"), "must be a finite number >= 0")
		}
	}
	return nil
}

// Validate checks an order received from a queue: a well-formed ID, a
// positive customer, valid items and a known status.
func (o Order) Validate() error {
	if !ValidOrderID(o.ID) {
		return invalid("order_id", "must be 1 to %d characters of A-Z, a-z, 0-9, '_' or '-'", MaxOrderIDLen)
	}
	if o.CustomerID < minCustomerID {
		return invalid("customer_id", "must be a positive integer")
	}
	switch o.Status {
	case StatusPending, StatusProcessing, StatusCompleted, StatusFailed:
	default:
		return invalid("status", "unknown status %q", o.Status)
	}
	return validateItems(o.Items)
}
