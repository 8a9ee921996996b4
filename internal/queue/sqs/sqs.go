// Package sqs is the Amazon SQS backend of the worker service: a
// queue.Consumer that drains the orders queue subscribed to the SNS topic.
//
// A background receiver long-polls the queue (WaitTimeSeconds 20, up to 10
// messages a call) into a small local buffer, never holding more than the
// buffer size beyond what the workers have taken. Every message held in the
// process, buffered or being paid, has its visibility extended
// (ChangeMessageVisibilityBatch) before it runs out, so that SQS does not
// hand it to another worker meanwhile. Ack deletes the message
// (DeleteMessageBatch, batched across workers and flushed at once); Nack
// stops extending it and makes it visible again after Config.RetryDelay, so
// that after the queue's maxReceiveCount SQS moves it to its dead-letter
// queue. Nothing is ever deleted but by Ack: a message whose payment did not
// finish returns to the queue when its visibility timeout expires, whatever
// happens to the process.
//
// Every call to SQS has a deadline (Config.CallTimeout), so that one hung
// call can neither stop the extensions of every other message nor hang a
// shutdown. An acknowledged message stays extended until its delete
// returns; delete entries that fail on SQS's side (SenderFault false) are
// retried twice. A buffered message that may no longer be ours (its
// visibility ran out, or SQS refused to extend it) is never handed to a
// worker: it stays in SQS, which delivers it again.
//
// Bodies are read both as raw-delivery bodies (the order JSON) and as SNS
// notification envelopes (Type "Notification", the order in Message); a body
// that is neither is delivered as poison (queue.Delivery.Err).
//
// The package reports what it does through a small Observer interface and
// knows nothing of Prometheus.
package sqs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"flashsale/internal/queue"
)

// SQS limits the consumer works with.
const (
	// MaxBatch is the most messages one ReceiveMessage returns and the most
	// entries of one batch call.
	MaxBatch = 10
	// MaxWait is the longest long poll SQS allows, and the consumer's.
	MaxWait = 20 * time.Second
)

// Visibility operations, as reported to Observer.VisibilityChanged.
const (
	// OpExtend is the extension of a message still held in the process.
	OpExtend = "extend"
	// OpRelease gives a message back to the queue (Nack, or a buffered
	// message at shutdown).
	OpRelease = "release"
)

// API is the part of the SQS client the consumer uses; *sqs.Client
// implements it.
type API interface {
	AttributesAPI
	ReceiveMessage(ctx context.Context, in *awssqs.ReceiveMessageInput, optFns ...func(*awssqs.Options)) (*awssqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *awssqs.DeleteMessageBatchInput, optFns ...func(*awssqs.Options)) (*awssqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *awssqs.ChangeMessageVisibilityBatchInput, optFns ...func(*awssqs.Options)) (*awssqs.ChangeMessageVisibilityBatchOutput, error)
}

// Observer is told what the consumer does; internal/metrics implements it.
// Implementations must be safe for concurrent use and fast.
type Observer interface {
	// Received is called after each successful ReceiveMessage with the
	// number of messages it returned (0 for an empty long poll).
	Received(n int)
	// ReceiveFailed is called after each failed ReceiveMessage.
	ReceiveFailed()
	// Deleted is called after each DeleteMessageBatch with the entries
	// deleted and those that failed.
	Deleted(ok, failed int)
	// VisibilityChanged is called after each ChangeMessageVisibilityBatch,
	// with the operation (OpExtend or OpRelease) and the entries changed and
	// failed.
	VisibilityChanged(op string, ok, failed int)
	// Held is the number of messages now held in the process: buffered,
	// being processed or being settled.
	Held(n int)
}

// StaleObserver is an optional interface of an Observer. Stale is called
// for each buffered message dropped instead of being handed to a worker,
// because it may no longer be ours: its visibility ran out, or SQS refused
// to extend it. The message is not deleted; SQS delivers it again (to this
// process or another).
type StaleObserver interface {
	Stale()
}

type nopObserver struct{}

func (nopObserver) Received(int)                       {}
func (nopObserver) ReceiveFailed()                     {}
func (nopObserver) Deleted(int, int)                   {}
func (nopObserver) VisibilityChanged(string, int, int) {}
func (nopObserver) Held(int)                           {}

// DefaultBuffer is the default number of messages received ahead of the
// workers.
const DefaultBuffer = MaxBatch

// DefaultCallTimeout is the default deadline of each SQS batch call.
const DefaultCallTimeout = 10 * time.Second

// receiveLatency is how long before a ReceiveMessage answer arrives SQS
// may have picked its messages: a generous round trip.
const receiveLatency = 500 * time.Millisecond

// Delete retries of entries that failed on SQS's side (SenderFault false).
const (
	deleteRetries = 2
	deleteBackoff = 100 * time.Millisecond // doubled at each retry
)

// Config configures a Consumer.
type Config struct {
	// QueueURL is the queue to drain; required.
	QueueURL string
	// Buffer is how many received messages may wait in the process for a
	// worker to take them; DefaultBuffer when zero. Keep it at most the
	// number of workers: a buffered message is invisible to every other
	// consumer of the queue.
	Buffer int
	// VisibilityTimeout is how long a received message stays invisible
	// before it must be extended; every ReceiveMessage and every extension
	// asks for it. Zero reads the queue's VisibilityTimeout attribute. SQS
	// counts whole seconds: it is rounded up, to at least 1 s.
	VisibilityTimeout time.Duration
	// RetryDelay is how long a Nacked message stays invisible before SQS
	// delivers it again (rounded up to whole seconds; zero gives it back at
	// once). A negative delay makes no call at all: the message becomes
	// visible when its current visibility timeout runs out.
	RetryDelay time.Duration
	// WaitTime is the long-poll wait of each ReceiveMessage; MaxWait when
	// zero.
	WaitTime time.Duration
	// CallTimeout is the deadline of each DeleteMessageBatch and
	// ChangeMessageVisibilityBatch call (the SDK's own retries included);
	// DefaultCallTimeout when zero. A ReceiveMessage may take WaitTime
	// longer. A call that times out fails like any other: an extension is
	// tried again at the next check, a release or a delete leaves the
	// message to SQS. While a visibility call hangs no other message is
	// extended, so the deadline of ChangeMessageVisibilityBatch calls is
	// lowered to a third of the visibility timeout (MaxCallTimeout) when
	// that is shorter; New logs it.
	CallTimeout time.Duration
	// Observer is told of receives, deletes and visibility changes;
	// optional.
	Observer Observer
	// Logger logs failures; slog.Default() when nil.
	Logger *slog.Logger
}

// state is where a received message is in the process.
type state int

const (
	stateBuffered  state = iota // received, waiting for a worker
	stateDelivered              // handed to a worker by Receive
	stateSettling               // Ack or Nack in progress
	stateDone                   // settled or given back
)

// entry is one received message held in the process. Its fields are
// guarded by Consumer.mu.
type entry struct {
	id       string
	receipt  string
	deadline time.Time // when its visibility runs out, as far as we know
	state    state
	lost     bool // SQS no longer knows the receipt handle: stop extending
}

// request is one entry of a batch call, answered on done.
type request struct {
	e       *entry
	seconds int32 // visibility, for ChangeMessageVisibilityBatch
	done    chan error
	// finish: the batching goroutine forgets e once it answered.
	finish bool
}

// Consumer receives orders from one SQS queue. It implements
// queue.Consumer and queue.DepthReader and is safe for concurrent use.
// Receive starts its background receiver; StopReceiving stops it; Close
// releases everything.
type Consumer struct {
	client     API
	gauge      *Gauge
	cfg        Config
	vt         time.Duration // visibility timeout asked for, whole seconds
	changeTO   time.Duration // deadline of each visibility call: at most vt/3
	wait       int32         // long-poll seconds
	checkEvery time.Duration // how often held messages are checked for extension
	margin     time.Duration // extend when less than this is left
	obs        Observer
	log        *slog.Logger

	ready     chan *queue.Delivery // the local buffer
	taken     chan struct{}        // a buffered message was taken (cap 1)
	startOnce sync.Once
	recvCtx   context.Context
	stopRecv  context.CancelFunc
	recvDone  chan struct{}
	stopOnce  sync.Once
	stopped   chan struct{}
	stopErr   error

	releases  chan *request
	deletes   chan *request
	bgCtx     context.Context
	bgStop    context.CancelFunc
	bg        sync.WaitGroup
	closeOnce sync.Once
	closed    chan struct{}

	mu   sync.Mutex
	held map[*entry]struct{} // buffered or delivered: extended
	busy int                 // entries not done yet
	idle chan struct{}       // closed when busy drops to 0
}

var (
	_ queue.Consumer    = (*Consumer)(nil)
	_ queue.DepthReader = (*Consumer)(nil)
)

// New checks that the queue is reachable (reading its visibility timeout
// when cfg leaves it zero) and returns a consumer of it. The consumer does
// not receive anything before the first Receive.
func New(ctx context.Context, client API, cfg Config) (*Consumer, error) {
	gauge, err := NewGauge(client, cfg.QueueURL)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Buffer < 0:
		return nil, fmt.Errorf("sqs: buffer %d: must not be negative", cfg.Buffer)
	case cfg.VisibilityTimeout < 0:
		return nil, fmt.Errorf("sqs: visibility timeout %v: must not be negative", cfg.VisibilityTimeout)
	case cfg.VisibilityTimeout > 12*time.Hour:
		return nil, fmt.Errorf("sqs: visibility timeout %v: SQS allows at most 12h", cfg.VisibilityTimeout)
	case cfg.RetryDelay > 12*time.Hour:
		return nil, fmt.Errorf("sqs: retry delay %v: SQS allows at most 12h", cfg.RetryDelay)
	case cfg.WaitTime < 0 || cfg.WaitTime > MaxWait:
		return nil, fmt.Errorf("sqs: wait time %v: must be between 0 and %v", cfg.WaitTime, MaxWait)
	case cfg.CallTimeout < 0:
		return nil, fmt.Errorf("sqs: call timeout %v: must not be negative", cfg.CallTimeout)
	}
	if cfg.Buffer == 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.WaitTime == 0 {
		cfg.WaitTime = MaxWait
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	queueVT, err := visibilityTimeout(ctx, client, cfg.QueueURL)
	if err != nil {
		return nil, err
	}
	vt := cfg.VisibilityTimeout
	if vt == 0 {
		vt = queueVT
	}
	vt = time.Duration(seconds(vt)) * time.Second
	if vt < time.Second {
		vt = time.Second
	}
	changeTO := cfg.CallTimeout
	if limit := MaxCallTimeout(vt); changeTO > limit {
		cfg.Logger.Info("sqs visibility calls get a third of the visibility timeout, less than the call timeout, so that one hung call cannot let held messages become visible",
			"queue_url", cfg.QueueURL, "call_timeout", cfg.CallTimeout.String(), "visibility_timeout", vt.String(), "visibility_call_timeout", limit.String())
		changeTO = limit
	}
	c := &Consumer{
		client:     client,
		gauge:      gauge,
		cfg:        cfg,
		vt:         vt,
		changeTO:   changeTO,
		wait:       seconds(cfg.WaitTime),
		checkEvery: min(max(vt/4, 50*time.Millisecond), 5*time.Second),
		margin:     vt * 2 / 3,
		obs:        cfg.Observer,
		log:        cfg.Logger.With("queue_url", cfg.QueueURL),
		ready:      make(chan *queue.Delivery, cfg.Buffer),
		taken:      make(chan struct{}, 1),
		recvDone:   make(chan struct{}),
		stopped:    make(chan struct{}),
		releases:   make(chan *request),
		deletes:    make(chan *request),
		closed:     make(chan struct{}),
		held:       make(map[*entry]struct{}),
	}
	c.recvCtx, c.stopRecv = context.WithCancel(context.Background())
	c.bgCtx, c.bgStop = context.WithCancel(context.Background())
	c.bg.Add(3)
	go c.keep()
	go c.deleteLoop()
	go c.deleteLoop()
	return c, nil
}

// visibilityTimeout reads the queue's VisibilityTimeout, which also proves
// that the queue exists and is reachable.
func visibilityTimeout(ctx context.Context, client AttributesAPI, url string) (time.Duration, error) {
	out, err := client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout},
	})
	if err != nil {
		return 0, fmt.Errorf("sqs: queue %s is not reachable: %w", url, err)
	}
	v := out.Attributes[string(types.QueueAttributeNameVisibilityTimeout)]
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("sqs: visibility timeout of %s = %q: %w", url, v, err)
	}
	return time.Duration(n) * time.Second, nil
}

// MaxCallTimeout is the longest deadline of one ChangeMessageVisibilityBatch
// call the consumer allows with the visibility timeout vt: a third of it. Held messages are
// checked every quarter of vt at most and extended once less than two
// thirds is left, so an extension still lands in time after a call ahead of
// it hung for this long.
func MaxCallTimeout(vt time.Duration) time.Duration { return vt / 3 }

// seconds is d in whole seconds, rounded up.
func seconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	return int32((d + time.Second - 1) / time.Second)
}

// QueueURL is the queue the consumer drains.
func (c *Consumer) QueueURL() string { return c.cfg.QueueURL }

// VisibilityTimeout is the visibility timeout the consumer asks for.
func (c *Consumer) VisibilityTimeout() time.Duration { return c.vt }

// SettleBudget is how long an Ack may take before SQS answers it for good:
// its DeleteMessageBatch call with the retries of entries that failed on
// SQS's side and their backoffs, once for a batch that may be in progress
// ahead of it and once for its own. A caller that bounds Ack (or Nack) with
// a shorter deadline may see a delete reported failed that then succeeds.
func (c *Consumer) SettleBudget() time.Duration { return SettleBudgetFor(c.cfg.CallTimeout) }

// SettleBudgetFor is the SettleBudget of a consumer whose calls have the
// deadline callTimeout: how long the delete of a message paid just before
// a shutdown may take (a stop timeout covers it after the payment).
func SettleBudgetFor(callTimeout time.Duration) time.Duration {
	one := time.Duration(deleteRetries+1) * callTimeout
	for i, b := 0, deleteBackoff; i < deleteRetries; i, b = i+1, b*2 {
		one += b
	}
	return 2 * one
}

// Depth is the queue's ApproximateNumberOfMessages.
func (c *Consumer) Depth(ctx context.Context) (int, error) { return c.gauge.Depth(ctx) }

// Counts reads the queue's approximate counts.
func (c *Consumer) Counts(ctx context.Context) (Counts, error) { return c.gauge.Counts(ctx) }

// Receive returns the next message, starting the background receiver on
// the first call. It returns ctx's error when ctx ends first, and
// queue.ErrClosed after StopReceiving.
func (c *Consumer) Receive(ctx context.Context) (*queue.Delivery, error) {
	c.startOnce.Do(func() { go c.receive() })
	select {
	case <-c.stopped:
		return nil, queue.ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for {
		select {
		case d := <-c.ready:
			select {
			case c.taken <- struct{}{}:
			default:
			}
			if c.deliver(d) {
				return d, nil
			}
		case <-c.stopped:
			return nil, queue.ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// deliver marks a buffered message as handed to a worker and reports true,
// or, when it may no longer be ours (SQS refused to extend it, or its
// visibility ran out: SQS may already have given it to another consumer),
// forgets it without deleting it and reports false.
func (c *Consumer) deliver(d *queue.Delivery) bool {
	e := d.Handle.(*entry)
	now := time.Now()
	c.mu.Lock()
	stale := e.lost || !now.Before(e.deadline)
	if !stale {
		e.state = stateDelivered
	}
	lost, deadline := e.lost, e.deadline
	c.mu.Unlock()
	if !stale {
		return true
	}
	c.finish(e)
	if so, ok := c.obs.(StaleObserver); ok {
		so.Stale()
	}
	c.log.Warn("buffered message no longer ours: not paid, left to SQS, which delivers it again",
		"message_id", e.id, "lost", lost, "expired_for", now.Sub(deadline))
	return false
}

// receive is the background receiver: it long-polls while the buffer has
// room, and stops when StopReceiving cancels recvCtx (cancelling the poll
// in flight).
func (c *Consumer) receive() {
	defer close(c.recvDone)
	const minBackoff, maxBackoff = 100 * time.Millisecond, 10 * time.Second
	backoff := minBackoff
	for {
		// Only this goroutine fills the buffer, so its room can only grow
		// until the messages of this call are pushed: they never block.
		room := min(cap(c.ready)-len(c.ready), MaxBatch)
		if room <= 0 {
			select {
			case <-c.taken:
				continue
			case <-c.recvCtx.Done():
				return
			}
		}
		sent := time.Now()
		ctx, cancel := context.WithTimeout(c.recvCtx, time.Duration(c.wait)*time.Second+c.cfg.CallTimeout)
		out, err := c.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(c.cfg.QueueURL),
			MaxNumberOfMessages:         int32(room),
			WaitTimeSeconds:             c.wait,
			VisibilityTimeout:           seconds(c.vt),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		})
		cancel()
		if err != nil {
			if c.recvCtx.Err() != nil {
				return
			}
			c.obs.ReceiveFailed()
			c.log.Warn("sqs receive failed; retrying", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-c.recvCtx.Done():
				return
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = minBackoff
		c.obs.Received(len(out.Messages))
		// SQS starts a message's visibility timeout when it picks it, which
		// a long poll does just before it answers, however long it waited
		// before: not before the call was sent, nor (as far as we can
		// tell) more than receiveLatency before the answer arrived.
		picked := time.Now().Add(-receiveLatency)
		if picked.Before(sent) {
			picked = sent
		}
		for _, m := range out.Messages {
			c.ready <- c.track(m, picked)
		}
	}
}

// track starts holding a received message, picked by SQS at the given
// time, and decodes it.
func (c *Consumer) track(m types.Message, picked time.Time) *queue.Delivery {
	e := &entry{
		id:       aws.ToString(m.MessageId),
		receipt:  aws.ToString(m.ReceiptHandle),
		deadline: picked.Add(c.vt),
		state:    stateBuffered,
	}
	c.mu.Lock()
	c.held[e] = struct{}{}
	c.busy++
	c.obs.Held(c.busy)
	c.mu.Unlock()
	d := &queue.Delivery{ID: e.id, Handle: e}
	d.Receives, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	o, err := DecodeBody(aws.ToString(m.Body))
	if err != nil {
		d.Err = fmt.Errorf("sqs message %s: %w", e.id, err)
	} else {
		d.Order = o
	}
	return d
}

// Ack deletes the message from the queue, batched with the other Acks of
// the moment. The message stays extended until the delete returns, even
// when ctx ends first. Ack returns once SQS answered or ctx ended: a nil
// error means the message is deleted; after an error the message may still
// be deleted (ctx ended first) or comes back when its visibility timeout
// expires (and is then recognised as paid by the worker's ledger). Give it
// SettleBudget to be told for sure.
func (c *Consumer) Ack(ctx context.Context, d *queue.Delivery) error {
	e, err := c.settle(d, true)
	if err != nil {
		return err
	}
	// Once handed to a delete loop, the request is finished there, after
	// SQS answered: the extensions go on until then.
	r := &request{e: e, done: make(chan error, 1), finish: true}
	if err := c.handOff(ctx, c.deletes, r, "delete"); err != nil {
		c.finish(e)
		return err
	}
	return c.await(ctx, r, "delete")
}

// Nack stops extending the message and gives it back: visible again after
// Config.RetryDelay (or, with a negative delay, when its visibility timeout
// runs out). SQS counts each receive; past the queue's maxReceiveCount it
// moves the message to the dead-letter queue.
func (c *Consumer) Nack(ctx context.Context, d *queue.Delivery) error {
	e, err := c.settle(d, false)
	if err != nil {
		return err
	}
	defer c.finish(e)
	if c.cfg.RetryDelay < 0 {
		return nil
	}
	return c.call(ctx, c.releases, &request{e: e, seconds: seconds(c.cfg.RetryDelay), done: make(chan error, 1)}, "release")
}

// NackAfter is Nack with its own delay: the message is visible again after
// delay (at most 12 h), whatever Config.RetryDelay says. The worker uses it
// for an order another processor holds, to come back when that claim ends.
func (c *Consumer) NackAfter(ctx context.Context, d *queue.Delivery, delay time.Duration) error {
	e, err := c.settle(d, false)
	if err != nil {
		return err
	}
	defer c.finish(e)
	delay = min(max(delay, 0), 12*time.Hour)
	return c.call(ctx, c.releases, &request{e: e, seconds: seconds(delay), done: make(chan error, 1)}, "release")
}

// call hands r to a batching goroutine and waits for its answer.
func (c *Consumer) call(ctx context.Context, to chan<- *request, r *request, what string) error {
	if err := c.handOff(ctx, to, r, what); err != nil {
		return err
	}
	return c.await(ctx, r, what)
}

// handOff hands r to a batching goroutine.
func (c *Consumer) handOff(ctx context.Context, to chan<- *request, r *request, what string) error {
	select {
	case to <- r:
		return nil
	case <-c.closed:
		return fmt.Errorf("sqs: %s message %s: %w", what, r.e.id, queue.ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("sqs: %s message %s: %w", what, r.e.id, ctx.Err())
	}
}

// await waits for the answer to r, handed off.
func (c *Consumer) await(ctx context.Context, r *request, what string) error {
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("sqs: %s message %s: no answer yet: %w", what, r.e.id, ctx.Err())
	}
}

// settle marks a delivered message as being settled. A message given back
// (ack false) leaves the extended set at once, so that no extension lands
// after its release; an acknowledged one stays in it until finish, so that
// a slow delete cannot outlast its visibility (an extension that lands
// after the delete fails and is ignored).
func (c *Consumer) settle(d *queue.Delivery, ack bool) (*entry, error) {
	if d == nil {
		return nil, errors.New("sqs: settle a nil delivery")
	}
	e, ok := d.Handle.(*entry)
	if !ok {
		return nil, fmt.Errorf("sqs: delivery %s was not received by this consumer", d.ID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.state != stateDelivered {
		return nil, fmt.Errorf("sqs: message %s settled twice", e.id)
	}
	e.state = stateSettling
	if !ack {
		delete(c.held, e)
	}
	return e, nil
}

// finish forgets a message for good.
func (c *Consumer) finish(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.state = stateDone
	delete(c.held, e)
	c.busy--
	c.obs.Held(c.busy)
	if c.busy == 0 && c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
}

// keep is the only goroutine that changes visibilities: extensions of held
// messages and releases. Serialising them guarantees that an extension
// never lands after the release of the same message. Each call has a
// deadline (Config.CallTimeout), so that a hung one holds up the others for
// that long at most.
func (c *Consumer) keep() {
	defer c.bg.Done()
	tick := time.NewTicker(c.checkEvery)
	defer tick.Stop()
	for {
		select {
		case <-c.bgCtx.Done():
			return
		case r := <-c.releases:
			c.release(gather(r, c.releases))
		case <-tick.C:
			c.extendDue()
		}
	}
}

// gather collects up to MaxBatch requests: first, and whatever else is
// waiting right now.
func gather(first *request, from <-chan *request) []*request {
	batch := []*request{first}
	for len(batch) < MaxBatch {
		select {
		case r := <-from:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// release gives messages back with ChangeMessageVisibilityBatch.
func (c *Consumer) release(batch []*request) {
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(batch))
	for i, r := range batch {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r.e.receipt), VisibilityTimeout: r.seconds,
		}
	}
	errs := c.changeVisibility(entries)
	failed := 0
	for i, r := range batch {
		if errs[i] != nil {
			failed++
			errs[i] = fmt.Errorf("sqs: release message %s: %w", r.e.id, errs[i])
			c.log.Warn("giving a message back failed; it becomes visible when its visibility timeout runs out",
				"message_id", r.e.id, "err", errs[i])
		}
	}
	// Observed before any Nack returns, so that whoever reads the counters
	// after a Nack sees its release counted.
	c.obs.VisibilityChanged(OpRelease, len(batch)-failed, failed)
	for i, r := range batch {
		r.done <- errs[i]
	}
}

// extendDue extends, most urgent first, every held message whose
// visibility runs out within the margin.
func (c *Consumer) extendDue() {
	now := time.Now()
	type due struct {
		e        *entry
		deadline time.Time
	}
	var list []due
	c.mu.Lock()
	for e := range c.held {
		if !e.lost && e.deadline.Sub(now) < c.margin {
			list = append(list, due{e, e.deadline})
		}
	}
	c.mu.Unlock()
	slices.SortFunc(list, func(a, b due) int { return a.deadline.Compare(b.deadline) })
	for chunk := range slices.Chunk(list, MaxBatch) {
		if c.bgCtx.Err() != nil {
			return
		}
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, d := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(d.e.receipt), VisibilityTimeout: seconds(c.vt),
			}
		}
		sent := time.Now()
		errs := c.changeVisibility(entries)
		failed := 0
		c.mu.Lock()
		for i, d := range chunk {
			if errs[i] == nil {
				d.e.deadline = sent.Add(c.vt)
				continue
			}
			if d.e.state == stateDone || d.e.state == stateSettling {
				continue // settled meanwhile: nothing left to extend
			}
			failed++
			if senderFault(errs[i]) {
				// SQS refused this receipt handle (ReceiptHandleIsInvalid,
				// MessageNotInflight...): the message is no longer ours to
				// extend. It may be delivered again; the ledger recognises
				// it if it gets paid here meanwhile, and a buffered one is
				// not handed to a worker. Any other failure (the call's, or
				// an entry's on SQS's side) is tried again at the next
				// check.
				d.e.lost = true
			}
			c.log.Warn("extending the visibility of a held message failed",
				"message_id", d.e.id, "err", errs[i], "left", d.deadline.Sub(sent))
		}
		c.mu.Unlock()
		c.obs.VisibilityChanged(OpExtend, len(chunk)-failed, failed)
	}
}

// deleteLoop deletes acknowledged messages in batches.
func (c *Consumer) deleteLoop() {
	defer c.bg.Done()
	for {
		select {
		case <-c.bgCtx.Done():
			return
		case r := <-c.deletes:
			c.delete(gather(r, c.deletes))
		}
	}
}

// delete deletes a batch of acknowledged messages and answers each request.
// Entries that failed on SQS's side (SenderFault false) are tried again, up
// to deleteRetries times with a short backoff; a failed call is not, the
// SDK having retried it already within its deadline.
func (c *Consumer) delete(batch []*request) {
	errs := make([]error, len(batch))
	pending := make([]int, len(batch)) // indexes in batch still to delete
	for i := range pending {
		pending[i] = i
	}
	backoff := deleteBackoff
	for attempt := 0; ; attempt++ {
		receipts := make([]string, len(pending))
		for j, i := range pending {
			receipts[j] = batch[i].e.receipt
		}
		var retry []int
		for j, err := range c.deleteOnce(receipts) {
			i := pending[j]
			errs[i] = err
			var ee *entryError
			if errors.As(err, &ee) && !ee.senderFault {
				retry = append(retry, i)
			}
		}
		if len(retry) == 0 || attempt == deleteRetries {
			break
		}
		c.log.Info("deleting messages failed on SQS's side; retrying", "messages", len(retry), "retry_in", backoff)
		select {
		case <-time.After(backoff):
		case <-c.bgCtx.Done():
		}
		if c.bgCtx.Err() != nil {
			break
		}
		backoff *= 2
		pending = retry
	}
	failed := 0
	for i, r := range batch {
		if errs[i] != nil {
			failed++
			errs[i] = fmt.Errorf("sqs: delete message %s: %w", r.e.id, errs[i])
			c.log.Warn("deleting a processed message failed; it will come back and be recognised as a duplicate",
				"message_id", r.e.id, "err", errs[i])
		}
	}
	// Observed before any Ack returns, so that whoever reads the counters
	// after an Ack sees its delete counted.
	c.obs.Deleted(len(batch)-failed, failed)
	for i, r := range batch {
		r.done <- errs[i]
		if r.finish {
			c.finish(r.e)
		}
	}
}

// deleteOnce makes one DeleteMessageBatch call and returns each entry's
// error.
func (c *Consumer) deleteOnce(receipts []string) []error {
	entries := make([]types.DeleteMessageBatchRequestEntry, len(receipts))
	for i, receipt := range receipts {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(receipt)}
	}
	ctx, cancel := context.WithTimeout(c.bgCtx, c.cfg.CallTimeout)
	defer cancel()
	out, err := c.client.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{
		QueueUrl: aws.String(c.cfg.QueueURL), Entries: entries,
	})
	var failed []types.BatchResultErrorEntry
	if out != nil {
		failed = out.Failed
	}
	return batchErrors(len(entries), err, failed)
}

// changeVisibility makes one ChangeMessageVisibilityBatch call, whose
// entries' IDs are their indexes, and returns each entry's error.
func (c *Consumer) changeVisibility(entries []types.ChangeMessageVisibilityBatchRequestEntry) []error {
	ctx, cancel := context.WithTimeout(c.bgCtx, c.changeTO)
	defer cancel()
	out, err := c.client.ChangeMessageVisibilityBatch(ctx, &awssqs.ChangeMessageVisibilityBatchInput{
		QueueUrl: aws.String(c.cfg.QueueURL), Entries: entries,
	})
	var failed []types.BatchResultErrorEntry
	if out != nil {
		failed = out.Failed
	}
	return batchErrors(len(entries), err, failed)
}

// entryError is the failure of one entry of a batch call.
type entryError struct {
	code, message string
	// senderFault is SQS's verdict: true when the request was wrong (a
	// receipt handle no longer valid, a message no longer in flight),
	// false when SQS failed and a retry may succeed.
	senderFault bool
}

func (e *entryError) Error() string {
	return fmt.Sprintf("%s: %s (sender fault %v)", e.code, e.message, e.senderFault)
}

// senderFault reports whether err is an entry's failure that SQS blamed on
// the request.
func senderFault(err error) bool {
	var ee *entryError
	return errors.As(err, &ee) && ee.senderFault
}

// batchErrors spreads the result of a batch call over its n entries, whose
// IDs are their indexes: the call's error for all, or each failed entry's
// (an *entryError).
func batchErrors(n int, callErr error, failed []types.BatchResultErrorEntry) []error {
	errs := make([]error, n)
	if callErr != nil {
		for i := range errs {
			errs[i] = callErr
		}
		return errs
	}
	for _, f := range failed {
		i, err := strconv.Atoi(aws.ToString(f.Id))
		if err != nil || i < 0 || i >= n {
			continue
		}
		errs[i] = &entryError{code: aws.ToString(f.Code), message: aws.ToString(f.Message), senderFault: f.SenderFault}
	}
	return errs
}

// StopReceiving stops the background receiver, cancelling the long poll in
// flight, and gives the buffered messages that no worker took back to the
// queue (visible at once). Receive then returns queue.ErrClosed. Messages
// already delivered stay held and extended until they are settled. It is
// idempotent; ctx bounds the release of the buffer.
func (c *Consumer) StopReceiving(ctx context.Context) error {
	c.stopOnce.Do(func() {
		close(c.stopped)
		c.startOnce.Do(func() { close(c.recvDone) }) // never started
		c.stopRecv()
		<-c.recvDone
		var reqs []*request
		for {
			select {
			case d := <-c.ready:
				e := d.Handle.(*entry)
				c.mu.Lock()
				e.state = stateSettling
				delete(c.held, e)
				c.mu.Unlock()
				reqs = append(reqs, &request{e: e, seconds: 0, done: make(chan error, 1)})
				continue
			default:
			}
			break
		}
		var (
			wg   sync.WaitGroup
			emu  sync.Mutex
			errs []error
		)
		for _, r := range reqs {
			// Sent concurrently, gathered into batches by keep.
			wg.Go(func() {
				err := c.call(ctx, c.releases, r, "release")
				c.finish(r.e)
				if err != nil {
					emu.Lock()
					errs = append(errs, err)
					emu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(reqs) > 0 {
			c.log.Info("stopped receiving; buffered messages given back to the queue", "messages", len(reqs), "failed", len(errs))
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// Close stops receiving (see StopReceiving), waits until every message
// delivered to a worker is settled or ctx ends, and stops the goroutines
// that extend and delete. Messages still unsettled when ctx ends are left to
// SQS: never deleted, they become visible again when their visibility
// timeout runs out. Close is idempotent.
func (c *Consumer) Close(ctx context.Context) error {
	var err error
	c.closeOnce.Do(func() {
		err = c.StopReceiving(ctx)
		if werr := c.waitIdle(ctx); werr != nil {
			c.mu.Lock()
			n := c.busy
			c.mu.Unlock()
			c.log.Warn("closing with unsettled messages; they return to the queue after their visibility timeout", "messages", n)
			err = errors.Join(err, fmt.Errorf("sqs: close with %d unsettled messages: %w", n, werr))
		}
		close(c.closed)
		c.bgStop()
		c.bg.Wait()
	})
	return err
}

// waitIdle waits until no message is held or ctx ends.
func (c *Consumer) waitIdle(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.busy == 0 {
			c.mu.Unlock()
			return nil
		}
		if c.idle == nil {
			c.idle = make(chan struct{})
		}
		idle := c.idle
		c.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
