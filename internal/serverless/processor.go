package serverless

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"flashsale/internal/order"
	"flashsale/internal/orderstore/memstore"
	"flashsale/internal/payment"
	"flashsale/internal/payonce"
)

// ErrConflict is wrapped by the processor's error for an order whose
// order_id the store holds with another payload: it is never paid, and the
// event reaches the failure destination, where an operator sees it.
var ErrConflict = errors.New("order_id recorded with another payload")

// ErrBusy is wrapped by the processor's error when another processor still
// held the order at the end of the invocation: Lambda retries the event.
var ErrBusy = errors.New("order held by another processor")

// Lease and wait bounds of the processor.
const (
	// DefaultLease is the claim on an order when the invocation has no
	// deadline (tests); otherwise the claim ends at the deadline.
	DefaultLease = time.Minute
	// WaitMargin is kept before the deadline when waiting for another
	// processor's outcome, so that the error is the handler's own.
	WaitMargin = 500 * time.Millisecond
)

// ErrMalformedMessage is wrapped by the processor's error when an SNS message
// is not a valid order. Returning it (rather than dropping the message) lets
// Lambda hand the event to the failure destination after its retries.
var ErrMalformedMessage = errors.New("malformed order message")

// Payer runs one payment; *payment.Processor implements it.
type Payer interface {
	Pay(ctx context.Context, o order.Order) error
}

// ProcessorConfig configures a Processor.
type ProcessorConfig struct {
	// Payer pays each order; required.
	Payer Payer
	// Store records each order's claim and outcome, shared with the API
	// and every other processor (the DynamoDB orders table), so that a
	// retried or redelivered event, or another design subscribed to the
	// topic, pays nothing twice; an in-memory store of this execution
	// environment when nil.
	Store payonce.Reader
	// Logger receives one record per order; required.
	Logger *slog.Logger
	// Invocations tells cold starts; counted from ProcessStart when nil.
	Invocations *Invocations
	// Now is the clock for durations; time.Now when nil.
	Now func() time.Time
	// Metrics, when set, receives one EMF record per invocation: cold
	// start, init duration and the payments' durations.
	Metrics *Metrics
}

// Processor is the SNS handler of the processor Lambda: it decodes the order
// in each record and pays it.
type Processor struct {
	cfg ProcessorConfig
}

// NewProcessor returns a Processor, or an error when a required piece is
// missing.
func NewProcessor(cfg ProcessorConfig) (*Processor, error) {
	if cfg.Payer == nil {
		return nil, errors.New("serverless: processor needs a payer")
	}
	if cfg.Logger == nil {
		return nil, errors.New("serverless: processor needs a logger")
	}
	if cfg.Store == nil {
		s, err := memstore.New(memstore.Config{})
		if err != nil {
			return nil, fmt.Errorf("serverless: %w", err)
		}
		cfg.Store = s
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Invocations == nil {
		cfg.Invocations = NewInvocations(ProcessStart(), cfg.Now)
	}
	return &Processor{cfg: cfg}, nil
}

// Handle processes an SNS event: every record's order is paid once, under a
// claim in the order store held by the invocation's request ID until the
// function's deadline (SNS delivers one record per invocation; several are
// paid one after the other). A declined payment is an outcome, not a
// failure: it is logged (result "declined", level WARN) and final, never
// retried, as a real provider would charge the card again. An order already
// finished (by any processor) is skipped (result "duplicate"); one that
// another processor holds is waited for until shortly before the deadline.
// Handle returns nil when every order is finished. Otherwise it returns an
// error naming each failed record, and wrapping ErrMalformedMessage,
// ErrConflict, ErrBusy or the transient error (the payment's, the store's),
// so that Lambda retries the event and then sends it to the failure
// destination; the error is a *ProcessingError. Nothing is dropped
// silently: each record gets a log line carrying order_id, cold_start and,
// on the first invocation, init_ms.
func (p *Processor) Handle(ctx context.Context, ev events.SNSEvent) error {
	inv := p.cfg.Invocations.Next()
	log := p.cfg.Logger.With(inv.Attrs()...)
	var payments []time.Duration
	defer func() {
		if err := p.cfg.Metrics.Invocation(ctx, inv, payments); err != nil {
			log.ErrorContext(ctx, "metrics not written", "error", err.Error())
		}
	}()
	if len(ev.Records) == 0 {
		log.WarnContext(ctx, "SNS event without records")
		return nil
	}
	var errs []error
	for i, rec := range ev.Records {
		took, ran, err := p.record(ctx, log, rec)
		if ran {
			payments = append(payments, took)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("record %d (SNS message %s): %w", i, rec.SNS.MessageID, err))
		}
	}
	if len(errs) > 0 {
		return &ProcessingError{Failed: len(errs), Total: len(ev.Records), Err: errors.Join(errs...)}
	}
	return nil
}

// ProcessingError is the error Handle returns when some records could not be
// processed. Lambda reports its type name as the errorType of the failed
// invocation (in the failure destination's record too).
type ProcessingError struct {
	// Failed and Total count the records.
	Failed, Total int
	// Err joins one error per failed record.
	Err error
}

// Error implements error.
func (e *ProcessingError) Error() string {
	return fmt.Sprintf("%d of %d orders not processed: %v", e.Failed, e.Total, e.Err)
}

// Unwrap gives access to each record's error.
func (e *ProcessingError) Unwrap() error { return e.Err }

// record processes one SNS record. It returns the payment's duration and
// true when this invocation ran a payment (paid or declined).
func (p *Processor) record(ctx context.Context, log *slog.Logger, rec events.SNSEventRecord) (time.Duration, bool, error) {
	msg := rec.SNS
	log = log.With("sns_message_id", msg.MessageID)
	o, err := order.Unmarshal([]byte(msg.Message))
	if err != nil {
		// The attribute names the order even when the body is unusable.
		log.ErrorContext(ctx, "malformed order message: sent to the failure destination after retries",
			FieldOrderID, attribute(msg, "order_id"), "error", err.Error(), "message_bytes", len(msg.Message))
		return 0, false, fmt.Errorf("%w: %w", ErrMalformedMessage, err)
	}
	log = log.With(FieldOrderID, o.ID)
	holder, lease, wctx, cancel := p.claimOf(ctx)
	defer cancel()
	res, err := payonce.ProcessWaiting(wctx, p.cfg.Store, p.cfg.Payer, o, holder, lease, payonce.DefaultPoll)
	if err != nil {
		result := "error"
		if res.Record.Order.ID != "" && res.Outcome == 0 {
			result = string(payment.ResultTimeout)
		}
		log.ErrorContext(ctx, "order not processed: returned to Lambda for retry",
			"result", result, "payment_ms", ms(res.Took), "error", err.Error())
		return 0, false, fmt.Errorf("order %s: %w", o.ID, err)
	}
	var took time.Duration
	var ran bool
	switch res.Outcome {
	case payonce.Paid:
		took, ran = res.Took, true
		log.InfoContext(ctx, "order paid", "result", string(payment.ResultCompleted), "payment_ms", ms(res.Took),
			"customer_id", o.CustomerID, "total", o.Total(), "holder", holder, "attempts", res.Record.Attempts,
			"charged", !res.Replayed)
	case payonce.Declined:
		took, ran = res.Took, true
		log.WarnContext(ctx, "payment declined: final, not retried", "result", string(payment.ResultDeclined),
			"payment_ms", ms(res.Took), "customer_id", o.CustomerID, "total", o.Total(), "holder", holder)
	case payonce.Finished:
		log.InfoContext(ctx, "order already finished: duplicate delivery skipped", "result", "duplicate",
			"status", string(res.Record.Status()), "processed_by", res.Record.Holder)
	case payonce.Conflict:
		log.ErrorContext(ctx, "order_id recorded with another payload: never paid, sent to the failure destination after retries",
			"result", "conflict", "customer_id", o.CustomerID)
		return 0, false, fmt.Errorf("order %s: %w", o.ID, ErrConflict)
	case payonce.Busy:
		log.WarnContext(ctx, "order held by another processor past this invocation: returned to Lambda for retry",
			"result", "busy", "processed_by", res.Record.Holder)
		return 0, false, fmt.Errorf("order %s held by %s: %w", o.ID, res.Record.Holder, ErrBusy)
	}
	return max(took, 0), ran, nil
}

// claimOf is the claim of an invocation: its request ID as holder, a lease
// to the function's deadline, and the context for waiting on another
// processor (ending WaitMargin before the deadline).
func (p *Processor) claimOf(ctx context.Context) (string, time.Duration, context.Context, context.CancelFunc) {
	holder := "processor"
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		holder = "processor/" + lc.AwsRequestID
	}
	d, ok := ctx.Deadline()
	if !ok {
		return holder, DefaultLease, ctx, func() {}
	}
	lease := max(d.Sub(p.cfg.Now()), time.Millisecond)
	wctx, cancel := context.WithDeadline(ctx, d.Add(-WaitMargin))
	return holder, lease, wctx, cancel
}

// attribute is the string value of a message attribute, or "".
func attribute(e events.SNSEntity, name string) string {
	a, ok := e.MessageAttributes[name].(map[string]any)
	if !ok {
		return ""
	}
	v, _ := a["Value"].(string)
	return v
}
