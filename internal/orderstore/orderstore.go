// Package orderstore is the record of every order's life, shared by every
// process that takes or pays orders, so that an at-least-once delivery path
// (SNS retries, Lambda retries, SQS redelivery, two designs subscribed to one
// topic) pays each order exactly once in effect:
//
//	Create -> pending --Claim (a lease)--> processing --Finish--> completed | failed
//	                        ^ the lease ran out: another processor claims it
//
// Every change is a conditional write: a finished order never changes again,
// and an order is claimed by one holder at a time. A claim is a lease: it
// ends on its own (before the message's visibility timeout, or the function's
// deadline), so that when its holder dies another processor takes the order
// over. The payment provider gets the order ID as its idempotency key, so a
// take-over after a payment that went through charges nothing twice.
//
// Implementations: memstore (in memory, the embedded default) and, on AWS,
// DynamoDB. Both pass storetest, the contract suite.
package orderstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"flashsale/internal/order"
)

// Errors of a Store. Each comes with the record as it is, when there is one,
// so that no second read is needed.
var (
	// ErrNotFound: no order with this ID (or its record expired).
	ErrNotFound = errors.New("orderstore: no such order")
	// ErrExists: Create of an order ID the store already holds.
	ErrExists = errors.New("orderstore: order already recorded")
	// ErrFinished: the order is completed or failed; it never changes again.
	ErrFinished = errors.New("orderstore: order already finished")
	// ErrClaimed: another holder's claim on the order has not run out.
	ErrClaimed = errors.New("orderstore: order claimed by another processor")
	// ErrNotHolder: Finish by a holder whose claim another one took over.
	ErrNotHolder = errors.New("orderstore: the claim is held by another processor")
	// ErrConflict: the order ID is recorded with another payload.
	ErrConflict = errors.New("orderstore: order_id already used for another order")
)

// Record is an order as the store keeps it.
type Record struct {
	// Order is the order; its Status is the record's.
	Order order.Order `json:"order"`
	// PayloadHash identifies the payload (customer and items): an order ID
	// reused with another payload is a conflict, the same one a repeat.
	PayloadHash string `json:"payload_hash"`
	// UpdatedAt is the time of the last change.
	UpdatedAt time.Time `json:"updated_at"`
	// PaidAt is when the payment completed; zero otherwise.
	PaidAt time.Time `json:"paid_at,omitzero"`
	// Attempts counts the claims taken: the payment attempts.
	Attempts int `json:"attempts"`
	// Holder is who holds the claim (processing) or who finished the order:
	// a worker ID, a Lambda request ID.
	Holder string `json:"holder,omitempty"`
	// LeaseUntil is when the current claim runs out (processing only).
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	// Reason says why a failed order failed (declined).
	Reason string `json:"reason,omitempty"`
	// ExpiresAt is when the store may forget the record (its TTL).
	ExpiresAt time.Time `json:"expires_at"`
}

// Status is the order's status.
func (r Record) Status() order.Status { return r.Order.Status }

// Finished reports whether the order is completed or failed.
func (r Record) Finished() bool { return Finished(r.Order.Status) }

// Finished reports whether s is a final status.
func Finished(s order.Status) bool { return s == order.StatusCompleted || s == order.StatusFailed }

// Store is the order record that processors and the API share. Every method
// is one conditional write or one read; all are safe for concurrent use by
// many processes.
type Store interface {
	// Create records o as pending. When the store already holds its ID it
	// writes nothing and returns the record with ErrExists, or with
	// ErrConflict when the payload differs; except a record cancelled with
	// ReasonNotAccepted, which is replaced: its order was never accepted.
	Create(ctx context.Context, o order.Order) (Record, error)
	// Get returns the record of an order, or ErrNotFound.
	Get(ctx context.Context, id string) (Record, error)
	// Claim takes o for payment for lease, on behalf of holder: a pending
	// order, one whose claim ran out, or one the store does not hold yet
	// (recorded then) becomes processing with one more attempt. A finished
	// order returns its record with ErrFinished, one claimed by a live
	// lease with ErrClaimed, one recorded with another payload ErrConflict.
	Claim(ctx context.Context, o order.Order, holder string, lease time.Duration) (Record, error)
	// Finish records the outcome of holder's claim: completed (with the
	// payment time) or failed (with reason). It returns ErrFinished when the
	// order is already finished, ErrNotHolder when another holder took the
	// claim over, ErrNotFound for an unknown order.
	Finish(ctx context.Context, id, holder string, status order.Status, reason string) (Record, error)
	// Cancel ends a pending order as failed with reason, without a claim:
	// the API's answer when it could not publish the order, so that a
	// message that went out all the same is never paid. It returns the
	// record with ErrClaimed when a processor holds the order (so it was
	// published after all), with ErrFinished when it is finished, or
	// ErrNotFound.
	Cancel(ctx context.Context, id, reason string) (Record, error)
}

// ReasonNotAccepted is the reason of an order cancelled because its POST
// was answered 503: the order was never accepted, and a client may post the
// same order_id again (with any payload).
const ReasonNotAccepted = "not_accepted"

// ReasonDeclined is the reason of an order whose payment was declined.
const ReasonDeclined = "declined"

// PayloadHash is the hash of what a client chose in an order: its customer
// and items, in their order. Two posts of one order_id with the same payload
// are one order; with another, a conflict.
func PayloadHash(o order.Order) string {
	b, err := json.Marshal(struct {
		CustomerID int64        `json:"customer_id"`
		Items      []order.Item `json:"items"`
	}{o.CustomerID, o.Items})
	if err != nil { // plain data: never
		panic(fmt.Sprintf("orderstore: payload of %s: %v", o.ID, err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ValidateClaim checks the holder and lease given to Claim.
func ValidateClaim(holder string, lease time.Duration) error {
	switch {
	case holder == "":
		return errors.New("orderstore: a claim needs a holder")
	case lease <= 0:
		return fmt.Errorf("orderstore: lease %v: must be positive", lease)
	}
	return nil
}

// ValidateFinish checks the outcome given to Finish.
func ValidateFinish(holder string, status order.Status) error {
	switch {
	case holder == "":
		return errors.New("orderstore: finishing needs the holder of the claim")
	case !Finished(status):
		return fmt.Errorf("orderstore: finish with status %q: want completed or failed", status)
	}
	return nil
}
