package sqs_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeSQS is a small in-memory SQS queue with SQS's visibility semantics
// (a received message is invisible until its timeout, a new receipt handle
// per receive, deletes and visibility changes by receipt handle). It runs
// on the clock of a synctest bubble, so tests wait minutes in microseconds.
type fakeSQS struct {
	latency time.Duration // of each batch call, so that batches can form
	// deleteDelay is added to the latency of each DeleteMessageBatch.
	deleteDelay time.Duration

	mu         sync.Mutex
	vt         int
	msgs       []*fakeMsg
	next       int
	receives   []*awssqs.ReceiveMessageInput
	polls      int        // ReceiveMessage calls in progress
	cancelled  int        // ReceiveMessage calls ended by their context
	deletes    [][]string // receipt handles per DeleteMessageBatch
	changes    []change
	failDelete map[string]bool // message IDs whose delete entry fails
	// transientDelete is, per message ID, the number of its next delete
	// entries that fail on SQS's side (SenderFault false).
	transientDelete map[string]int
	// failChange is, per receipt handle, how its next visibility changes
	// fail.
	failChange map[string]*fakeFail
	// hangChange and hangDelete are the numbers of next calls that hang
	// until their context ends.
	hangChange, hangDelete int
	attrErr                error
	// failReceives is the number of next ReceiveMessage calls that fail.
	failReceives int
}

type fakeMsg struct {
	id        string
	body      string
	visibleAt time.Time
	receives  int
	receipt   string
	deleted   bool
	// expired counts the times the message became visible while a
	// consumer still held it (its visibility ran out unextended).
	expired int
}

// fakeFail makes the next n entries of a receipt handle fail.
type fakeFail struct {
	n           int
	senderFault bool
}

type change struct {
	id      string
	seconds int32
	at      time.Time
	ok      bool
}

func newFake(vt int) *fakeSQS {
	return &fakeSQS{vt: vt, failDelete: map[string]bool{}, transientDelete: map[string]int{}, failChange: map[string]*fakeFail{}}
}

func (f *fakeSQS) send(body string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	id := fmt.Sprintf("m%d", f.next)
	f.msgs = append(f.msgs, &fakeMsg{id: id, body: body})
	return id
}

func (f *fakeSQS) msg(id string) fakeMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		if m.id == id {
			return *m
		}
	}
	panic("no message " + id)
}

func (f *fakeSQS) visible(now time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, m := range f.msgs {
		if !m.deleted && !m.visibleAt.After(now) {
			n++
		}
	}
	return n
}

func (f *fakeSQS) GetQueueAttributes(_ context.Context, in *awssqs.GetQueueAttributesInput, _ ...func(*awssqs.Options)) (*awssqs.GetQueueAttributesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.attrErr != nil {
		return nil, f.attrErr
	}
	now := time.Now()
	var vis, inflight int
	for _, m := range f.msgs {
		switch {
		case m.deleted:
		case m.visibleAt.After(now):
			inflight++
		default:
			vis++
		}
	}
	return &awssqs.GetQueueAttributesOutput{Attributes: map[string]string{
		string(types.QueueAttributeNameVisibilityTimeout):                     strconv.Itoa(f.vt),
		string(types.QueueAttributeNameApproximateNumberOfMessages):           strconv.Itoa(vis),
		string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible): strconv.Itoa(inflight),
		string(types.QueueAttributeNameApproximateNumberOfMessagesDelayed):    "0",
	}}, nil
}

func (f *fakeSQS) ReceiveMessage(ctx context.Context, in *awssqs.ReceiveMessageInput, _ ...func(*awssqs.Options)) (*awssqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	f.receives = append(f.receives, in)
	if f.failReceives > 0 {
		f.failReceives--
		f.mu.Unlock()
		return nil, errors.New("fake: service unavailable")
	}
	f.polls++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.polls--
		f.mu.Unlock()
	}()
	end := time.Now().Add(time.Duration(in.WaitTimeSeconds) * time.Second)
	for {
		if out := f.take(in); len(out) > 0 {
			return &awssqs.ReceiveMessageOutput{Messages: out}, nil
		}
		if !time.Now().Before(end) {
			return &awssqs.ReceiveMessageOutput{}, nil
		}
		select {
		case <-ctx.Done():
			f.mu.Lock()
			f.cancelled++
			f.mu.Unlock()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (f *fakeSQS) take(in *awssqs.ReceiveMessageInput) []types.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	var out []types.Message
	for _, m := range f.msgs {
		if len(out) >= int(in.MaxNumberOfMessages) {
			break
		}
		if m.deleted || m.visibleAt.After(now) {
			continue
		}
		m.receives++
		m.receipt = fmt.Sprintf("%s#%d", m.id, m.receives)
		m.visibleAt = now.Add(time.Duration(in.VisibilityTimeout) * time.Second)
		out = append(out, types.Message{
			MessageId: aws.String(m.id), ReceiptHandle: aws.String(m.receipt), Body: aws.String(m.body),
			Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(m.receives)},
		})
	}
	return out
}

// byReceipt finds the message whose current receipt handle is r.
func (f *fakeSQS) byReceipt(r string) *fakeMsg {
	for _, m := range f.msgs {
		if m.receipt == r && !m.deleted {
			return m
		}
	}
	return nil
}

// hang blocks until ctx ends when *n calls are still to hang.
func (f *fakeSQS) hang(ctx context.Context, n *int) error {
	f.mu.Lock()
	hang := *n > 0
	if hang {
		*n--
	}
	f.mu.Unlock()
	if !hang {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (f *fakeSQS) DeleteMessageBatch(ctx context.Context, in *awssqs.DeleteMessageBatchInput, _ ...func(*awssqs.Options)) (*awssqs.DeleteMessageBatchOutput, error) {
	if err := f.hang(ctx, &f.hangDelete); err != nil {
		return nil, err
	}
	time.Sleep(f.latency + f.deleteDelay)
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &awssqs.DeleteMessageBatchOutput{}
	var handles []string
	for _, e := range in.Entries {
		handles = append(handles, aws.ToString(e.ReceiptHandle))
		m := f.byReceipt(aws.ToString(e.ReceiptHandle))
		if m != nil && f.transientDelete[m.id] > 0 {
			f.transientDelete[m.id]--
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("fake"), SenderFault: false})
			continue
		}
		if m == nil || f.failDelete[m.id] {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("ReceiptHandleIsInvalid"), Message: aws.String("fake failure"), SenderFault: true})
			continue
		}
		m.deleted = true
		out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
	}
	f.deletes = append(f.deletes, handles)
	return out, nil
}

func (f *fakeSQS) ChangeMessageVisibilityBatch(ctx context.Context, in *awssqs.ChangeMessageVisibilityBatchInput, _ ...func(*awssqs.Options)) (*awssqs.ChangeMessageVisibilityBatchOutput, error) {
	if err := f.hang(ctx, &f.hangChange); err != nil {
		return nil, err
	}
	time.Sleep(f.latency)
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	out := &awssqs.ChangeMessageVisibilityBatchOutput{}
	for _, e := range in.Entries {
		if ff := f.failChange[aws.ToString(e.ReceiptHandle)]; ff != nil && ff.n > 0 {
			ff.n--
			code := "InternalError"
			if ff.senderFault {
				code = "ReceiptHandleIsInvalid"
			}
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String(code), Message: aws.String("fake"), SenderFault: ff.senderFault})
			continue
		}
		m := f.byReceipt(aws.ToString(e.ReceiptHandle))
		if m == nil || !m.visibleAt.After(now) {
			// SQS refuses to change a message that is no longer in flight.
			if m != nil {
				m.expired++
				f.changes = append(f.changes, change{id: m.id, seconds: e.VisibilityTimeout, at: now})
			}
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("MessageNotInflight"), Message: aws.String("fake"), SenderFault: true})
			continue
		}
		m.visibleAt = now.Add(time.Duration(e.VisibilityTimeout) * time.Second)
		f.changes = append(f.changes, change{id: m.id, seconds: e.VisibilityTimeout, at: now, ok: true})
		out.Successful = append(out.Successful, types.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

// counts is what counters counted.
type counts struct {
	received, receiveFailed int
	deleted, deleteFailed   int
	changed, changeFailed   map[string]int
	held                    int
	stale                   int
}

// counters is an Observer that counts.
type counters struct {
	mu sync.Mutex
	c  counts
}

func newCounters() *counters {
	return &counters{c: counts{changed: map[string]int{}, changeFailed: map[string]int{}}}
}

func (c *counters) Received(n int) { c.mu.Lock(); c.c.received += n; c.mu.Unlock() }
func (c *counters) ReceiveFailed() { c.mu.Lock(); c.c.receiveFailed++; c.mu.Unlock() }
func (c *counters) Deleted(ok, failed int) {
	c.mu.Lock()
	c.c.deleted += ok
	c.c.deleteFailed += failed
	c.mu.Unlock()
}
func (c *counters) VisibilityChanged(op string, ok, failed int) {
	c.mu.Lock()
	c.c.changed[op] += ok
	c.c.changeFailed[op] += failed
	c.mu.Unlock()
}
func (c *counters) Held(n int) { c.mu.Lock(); c.c.held = n; c.mu.Unlock() }
func (c *counters) Stale()     { c.mu.Lock(); c.c.stale++; c.mu.Unlock() }

func (c *counters) snapshot() counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.c
	out.changed = maps.Clone(c.c.changed)
	out.changeFailed = maps.Clone(c.c.changeFailed)
	return out
}
