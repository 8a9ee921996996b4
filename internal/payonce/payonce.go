// Package payonce pays an order at most once across every process that
// shares an order store: claim, pay under the order's idempotency key,
// record the outcome. It is what the in-process pool, the SQS worker, the
// processor Lambda and the sync path share, so that an at-least-once
// delivery (SNS and Lambda retries, SQS redelivery, two designs subscribed
// to one topic, two concurrent sync requests) pays each order once.
//
//	Claim --ok--> Pay --> Finish(completed | failed: declined)
//	  |--ErrFinished--> Finished: acknowledge, pay nothing
//	  |--ErrClaimed---> Busy: give the message back until the claim ends
//	  '--ErrConflict--> Conflict: the order_id is another order's; never paid
package payonce

import (
	"context"
	"errors"
	"fmt"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/orderstore"
	"flashsale/internal/payment"
)

// FinishTimeout bounds the recording of a payment's outcome, which the end
// of the caller's context does not cancel.
const FinishTimeout = 10 * time.Second

// Store is the part of the order store a processor uses.
type Store interface {
	Claim(ctx context.Context, o order.Order, holder string, lease time.Duration) (orderstore.Record, error)
	Finish(ctx context.Context, id, holder string, status order.Status, reason string) (orderstore.Record, error)
}

// Payer pays one order, with its ID as the idempotency key.
type Payer interface {
	Pay(ctx context.Context, o order.Order) error
}

// Outcome is what Process did with an order.
type Outcome int

// The outcomes of Process.
const (
	// Paid: this call paid the order; it is completed.
	Paid Outcome = iota + 1
	// Declined: this call's payment was declined; the order failed, for
	// good.
	Declined
	// Finished: the order was finished before; nothing was paid.
	Finished
	// Busy: another processor holds a live claim on the order; nothing was
	// paid. Give the message back until Record.LeaseUntil.
	Busy
	// Conflict: the order_id is recorded with another payload; this one is
	// never paid.
	Conflict
)

var outcomeNames = map[Outcome]string{Paid: "paid", Declined: "declined", Finished: "finished", Busy: "busy", Conflict: "conflict"}

// String is the outcome's name, as logged.
func (o Outcome) String() string {
	if s, ok := outcomeNames[o]; ok {
		return s
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Settled reports whether the message that carried the order is done with
// (acknowledge it); otherwise it goes back to its queue.
func (o Outcome) Settled() bool { return o != Busy }

// Result is the outcome of Process and the order's record after it.
type Result struct {
	Outcome Outcome
	Record  orderstore.Record
	// Took is how long the payment took (Paid and Declined).
	Took time.Duration
	// Replayed: the payer had charged the order before (an earlier holder
	// paid, then died before recording it) and answered that outcome
	// without charging again.
	Replayed bool
}

// Process pays o once on behalf of holder, under a claim of lease: long
// enough for one payment and its recording, ending before the message
// comes back to another processor (its visibility timeout, the function's
// deadline). It returns an error, with nothing final recorded, when the
// store cannot be reached or the payment did not finish (interrupted,
// timed out): the caller gives the message back, and the claim runs out
// at the end of its lease so that a retry can take it over. A payment
// repeated after a take-over is charged once: the payer takes the order ID
// as its idempotency key.
func Process(ctx context.Context, store Store, payer Payer, o order.Order, holder string, lease time.Duration) (Result, error) {
	rec, err := store.Claim(ctx, o, holder, lease)
	switch {
	case errors.Is(err, orderstore.ErrFinished):
		return Result{Outcome: Finished, Record: rec}, nil
	case errors.Is(err, orderstore.ErrClaimed):
		return Result{Outcome: Busy, Record: rec}, nil
	case errors.Is(err, orderstore.ErrConflict):
		return Result{Outcome: Conflict, Record: rec}, nil
	case err != nil:
		return Result{}, fmt.Errorf("claim of order %s: %w", o.ID, err)
	}
	start := time.Now()
	var receipt payment.Receipt
	err = payer.Pay(payment.WithReceipt(payment.WithHolder(ctx, holder), &receipt), o)
	took := time.Since(start)
	status, reason, outcome := order.StatusCompleted, "", Paid
	switch {
	case errors.Is(err, payment.ErrDeclined):
		status, reason, outcome = order.StatusFailed, orderstore.ReasonDeclined, Declined
	case err != nil:
		return Result{Record: rec, Took: took}, fmt.Errorf("payment of order %s (attempt %d): %w", o.ID, rec.Attempts, err)
	}
	// The outcome is recorded even when ctx ended meanwhile: the payment
	// went through.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FinishTimeout)
	defer cancel()
	rec, err = store.Finish(fctx, o.ID, holder, status, reason)
	switch {
	case errors.Is(err, orderstore.ErrFinished), errors.Is(err, orderstore.ErrNotHolder):
		// Our claim ran out and another processor took the order over: it
		// pays under the same idempotency key, charging nothing twice, and
		// records the outcome.
		return Result{Outcome: Finished, Record: rec, Took: took, Replayed: receipt.Replayed}, nil
	case err != nil:
		return Result{Record: rec, Took: took}, fmt.Errorf("recording the outcome of order %s: %w", o.ID, err)
	}
	return Result{Outcome: outcome, Record: rec, Took: took, Replayed: receipt.Replayed}, nil
}

// Reader is a Store that also reads records, for ProcessWaiting.
type Reader interface {
	Store
	Get(ctx context.Context, id string) (orderstore.Record, error)
}

// DefaultPoll is how often ProcessWaiting checks an order another
// processor holds.
const DefaultPoll = 50 * time.Millisecond

// ProcessWaiting is Process for a caller that cannot give its message back
// cheaply (a sync request, a Lambda invocation): when another processor
// holds the order, it waits for that one's outcome, checking the store
// every poll, and takes the order over if that claim runs out unfinished.
// It returns Busy only when ctx ends first.
func ProcessWaiting(ctx context.Context, store Reader, payer Payer, o order.Order, holder string, lease, poll time.Duration) (Result, error) {
	for {
		res, err := Process(ctx, store, payer, o, holder, lease)
		if err != nil || res.Outcome != Busy {
			return res, err
		}
		rec, err := await(ctx, store, o.ID, res.Record, poll)
		switch {
		case err != nil:
			return Result{Outcome: Busy, Record: rec}, err
		case rec.Finished():
			return Result{Outcome: Finished, Record: rec}, nil
		case ctx.Err() != nil:
			return Result{Outcome: Busy, Record: rec}, nil
		}
		// The holder's claim ran out unfinished: take the order over.
	}
}

// await polls the record of id until it is finished, its claim runs out,
// or ctx ends; it returns the last record seen.
func await(ctx context.Context, store Reader, id string, rec orderstore.Record, poll time.Duration) (orderstore.Record, error) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return rec, nil
		case <-t.C:
		}
		got, err := store.Get(ctx, id)
		switch {
		case err != nil && ctx.Err() != nil:
			return rec, nil
		case err != nil:
			return rec, fmt.Errorf("waiting for order %s: %w", id, err)
		}
		rec = got
		if rec.Finished() || rec.Status() != order.StatusProcessing || !time.Now().Before(rec.LeaseUntil) {
			return rec, nil
		}
	}
}
