package serverless

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"flashsale/internal/order"
	"flashsale/internal/payment"
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
	// Ledger remembers the orders paid by this execution environment, so
	// that a retried or redelivered event does not pay them twice; a new
	// ledger when nil.
	Ledger *payment.Ledger
	// Declined remembers the orders whose payment this environment saw
	// declined, so that a redelivery does not charge the card again; a new
	// ledger when nil.
	Declined *payment.Ledger
	// Logger receives one record per order; required.
	Logger *slog.Logger
	// Invocations tells cold starts; counted from ProcessStart when nil.
	Invocations *Invocations
	// Now is the clock for durations; time.Now when nil.
	Now func() time.Time
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
	if cfg.Ledger == nil {
		cfg.Ledger = payment.NewLedger(0)
	}
	if cfg.Declined == nil {
		cfg.Declined = payment.NewLedger(0)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Invocations == nil {
		cfg.Invocations = NewInvocations(ProcessStart(), cfg.Now)
	}
	return &Processor{cfg: cfg}, nil
}

// Handle processes an SNS event: every record's order is paid (SNS delivers
// one record per invocation; several are paid one after the other). A
// declined payment is an outcome, not a failure: it is logged (result
// "declined", level WARN) and final, never retried, as a real provider
// would charge the card again. Handle returns nil when every order was paid
// or declined, now or before by this environment. Otherwise it returns an
// error naming each failed record, and wrapping ErrMalformedMessage or the
// payment's transient error (the context's, a timeout), so that Lambda
// retries the event and then sends it to the failure destination; the error
// is a *ProcessingError. Nothing is dropped silently: each record gets a log
// line carrying order_id, cold_start and, on the first invocation, init_ms.
func (p *Processor) Handle(ctx context.Context, ev events.SNSEvent) error {
	inv := p.cfg.Invocations.Next()
	log := p.cfg.Logger.With(inv.Attrs()...)
	if len(ev.Records) == 0 {
		log.WarnContext(ctx, "SNS event without records")
		return nil
	}
	var errs []error
	for i, rec := range ev.Records {
		if err := p.record(ctx, log, rec); err != nil {
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

func (p *Processor) record(ctx context.Context, log *slog.Logger, rec events.SNSEventRecord) error {
	msg := rec.SNS
	log = log.With("sns_message_id", msg.MessageID)
	o, err := order.Unmarshal([]byte(msg.Message))
	if err != nil {
		// The attribute names the order even when the body is unusable.
		log.ErrorContext(ctx, "malformed order message: sent to the failure destination after retries",
			FieldOrderID, attribute(msg, "order_id"), "error", err.Error(), "message_bytes", len(msg.Message))
		return fmt.Errorf("%w: %w", ErrMalformedMessage, err)
	}
	log = log.With(FieldOrderID, o.ID)
	if p.cfg.Ledger.Paid(o.ID) {
		log.InfoContext(ctx, "order already paid: duplicate delivery skipped", "result", "duplicate")
		return nil
	}
	if p.cfg.Declined.Paid(o.ID) {
		log.InfoContext(ctx, "order already declined: duplicate delivery skipped", "result", "duplicate")
		return nil
	}
	start := p.cfg.Now()
	err = p.cfg.Payer.Pay(ctx, o)
	took := p.cfg.Now().Sub(start)
	result := payment.ResultOf(err)
	if errors.Is(err, payment.ErrDeclined) {
		p.cfg.Declined.Record(o.ID)
		log.WarnContext(ctx, "payment declined: final, not retried", "result", string(result), "payment_ms", ms(took),
			"customer_id", o.CustomerID, "total", o.Total())
		return nil
	}
	if err != nil {
		log.ErrorContext(ctx, "payment failed: returned to Lambda for retry",
			"result", string(result), "payment_ms", ms(took), "error", err.Error())
		return fmt.Errorf("order %s: %w", o.ID, err)
	}
	p.cfg.Ledger.Record(o.ID)
	log.InfoContext(ctx, "order paid", "result", string(result), "payment_ms", ms(took),
		"customer_id", o.CustomerID, "total", o.Total())
	return nil
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
