package sqs_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"flashsale/internal/queue"
	"flashsale/internal/queue/sqs"
)

// settleAsync settles d in a goroutine and returns its error and how long
// it took, or fails the test when it has not returned after a minute.
func settleAsync(t *testing.T, settle func(context.Context, *queue.Delivery) error, d *queue.Delivery) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- settle(context.Background(), d) }()
	select {
	case err := <-done:
		return err, time.Since(start)
	case <-time.After(time.Minute):
		t.Fatalf("settling %s has not returned after a minute", d.ID)
		return nil, 0
	}
}

// TestHungCallTimesOut: a batch call that never answers fails after
// Config.CallTimeout, and the messages still held go on being extended.
func TestHungCallTimesOut(t *testing.T) {
	tests := []struct {
		name string
		hang func(f *fakeSQS)
		// settle settles the first message while the call hangs; nil
		// settles nothing.
		settle func(c *sqs.Consumer) func(context.Context, *queue.Delivery) error
	}{
		{"extend", func(f *fakeSQS) { f.hangChange = 1 }, nil},
		{"release", func(f *fakeSQS) { f.hangChange = 1 }, func(c *sqs.Consumer) func(context.Context, *queue.Delivery) error { return c.Nack }},
		{"delete", func(f *fakeSQS) { f.hangDelete = 1 }, func(c *sqs.Consumer) func(context.Context, *queue.Delivery) error { return c.Ack }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(30)
				f.send(body(t, 1))
				f.send(body(t, 2))
				c, obs := newConsumer(t, f, sqs.Config{Buffer: 2})
				d1, d2 := receive(t, c), receive(t, c)
				f.mu.Lock()
				tt.hang(f)
				f.mu.Unlock()
				if tt.settle != nil {
					err, took := settleAsync(t, tt.settle(c), d1)
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("settle during a hung call = %v, want a deadline error", err)
					}
					if took != sqs.DefaultCallTimeout {
						t.Errorf("settle took %v, want the %v call timeout", took, sqs.DefaultCallTimeout)
					}
				}
				time.Sleep(2 * time.Minute)
				m := f.msg(d2.ID)
				if m.receives != 1 || m.expired != 0 || !m.visibleAt.After(time.Now()) {
					t.Errorf("held message after a hung call: receives %d, late extensions %d, visible %v; want 1, 0, false",
						m.receives, m.expired, !m.visibleAt.After(time.Now()))
				}
				if tt.settle == nil {
					if m := f.msg(d1.ID); m.receives != 1 || m.expired != 0 {
						t.Errorf("held message %s: receives %d, late extensions %d; want 1, 0", d1.ID, m.receives, m.expired)
					}
					if got := obs.snapshot().changeFailed[sqs.OpExtend]; got != 2 {
						t.Errorf("%d failed extensions, want the 2 of the hung call", got)
					}
					if err := c.Ack(context.Background(), d1); err != nil {
						t.Errorf("ack %s: %v", d1.ID, err)
					}
				}
				if err := c.Ack(context.Background(), d2); err != nil {
					t.Errorf("ack %s after the hung call: %v", d2.ID, err)
				}
			})
		})
	}
}

// TestAckExtendsUntilDeleted: a delete slower than the visibility left
// does not let the paid message be delivered again: it stays extended
// until the delete returns.
func TestAckExtendsUntilDeleted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(3)
		f.deleteDelay = 10 * time.Second
		id := f.send(body(t, 1))
		c, obs := newConsumer(t, f, sqs.Config{Buffer: 1, CallTimeout: time.Minute})
		d := receive(t, c)
		if err := c.Ack(context.Background(), d); err != nil {
			t.Fatalf("ack with a slow delete: %v", err)
		}
		m := f.msg(id)
		if !m.deleted || m.receives != 1 || m.expired != 0 {
			t.Errorf("message deleted %v, receives %d, late extensions %d; want true, 1, 0", m.deleted, m.receives, m.expired)
		}
		if got := obs.snapshot(); got.changed[sqs.OpExtend] < 3 {
			t.Errorf("%d extensions during a 10s delete with a 3s visibility, want at least 3", got.changed[sqs.OpExtend])
		}
		time.Sleep(time.Minute)
		if got := obs.snapshot(); got.changeFailed[sqs.OpExtend] != 0 || got.held != 0 {
			t.Errorf("after the delete: %d failed extensions, %d held; want 0, 0", got.changeFailed[sqs.OpExtend], got.held)
		}
	})
}

// TestExtendFailure: an extension entry that failed on SQS's side is tried
// again; one that SQS refused (sender fault) is not, and the message comes
// back.
func TestExtendFailure(t *testing.T) {
	tests := []struct {
		name         string
		senderFault  bool
		wantReceives int
	}{
		{"transient is retried", false, 1},
		{"sender fault stops extending", true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(3)
				id := f.send(body(t, 1))
				f.failChange[id+"#1"] = &fakeFail{n: 1, senderFault: tt.senderFault}
				c, obs := newConsumer(t, f, sqs.Config{Buffer: 1})
				d := receive(t, c)
				time.Sleep(time.Minute)
				m := f.msg(id)
				if m.receives != tt.wantReceives {
					t.Errorf("message received %d times in a minute held, want %d", m.receives, tt.wantReceives)
				}
				if got := obs.snapshot().changeFailed[sqs.OpExtend]; got != 1 {
					t.Errorf("%d failed extensions, want 1", got)
				}
				err := c.Ack(context.Background(), d)
				if (err == nil) != !tt.senderFault {
					t.Errorf("ack = %v, want success only while the message was ours", err)
				}
			})
		})
	}
}

// TestStaleBufferedMessageNotDelivered: a buffered message that SQS refused
// to extend, or whose visibility ran out, is not handed to a worker: it is
// counted, left to SQS, and its next delivery is handed out instead.
func TestStaleBufferedMessageNotDelivered(t *testing.T) {
	tests := []struct {
		name        string
		senderFault bool
		wait        time.Duration // before taking it, its visibility ends at 3s
	}{
		{"lost", true, 2 * time.Second},
		{"expired", false, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(3)
				f.send(body(t, 1))
				id := f.send(body(t, 2))
				// Every extension of the buffered message's first receipt fails.
				f.failChange[id+"#1"] = &fakeFail{n: 1000, senderFault: tt.senderFault}
				c, obs := newConsumer(t, f, sqs.Config{Buffer: 2})
				first := receive(t, c)
				synctest.Wait() // the second message waits in the buffer
				time.Sleep(tt.wait)
				d := receive(t, c)
				if d.ID != id || d.Receives != 2 {
					t.Fatalf("received %s (receives %d), want %s's second delivery, not the stale first", d.ID, d.Receives, id)
				}
				if got := obs.snapshot(); got.stale != 1 || got.held != 2 {
					t.Errorf("stale %d, held %d; want 1, 2", got.stale, got.held)
				}
				for _, d := range []*queue.Delivery{first, d} {
					if err := c.Ack(context.Background(), d); err != nil {
						t.Errorf("ack %s: %v", d.ID, err)
					}
				}
			})
		})
	}
}

// TestDeleteRetries: delete entries that failed on SQS's side are retried
// twice with a short backoff; those SQS refused (sender fault) are not.
func TestDeleteRetries(t *testing.T) {
	tests := []struct {
		name        string
		transient   int  // failures on SQS's side
		senderFault bool // the entry is refused
		wantCalls   int
		wantErr     bool
		wantTook    time.Duration
	}{
		{"no failure", 0, false, 1, false, 0},
		{"one transient", 1, false, 2, false, 100 * time.Millisecond},
		{"two transient", 2, false, 3, false, 300 * time.Millisecond},
		{"three transient", 3, false, 3, true, 300 * time.Millisecond},
		{"sender fault", 0, true, 1, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(30)
				id := f.send(body(t, 1))
				f.transientDelete[id] = tt.transient
				f.failDelete[id] = tt.senderFault
				c, obs := newConsumer(t, f, sqs.Config{Buffer: 1})
				d := receive(t, c)
				start := time.Now()
				err := c.Ack(context.Background(), d)
				if took := time.Since(start); took != tt.wantTook {
					t.Errorf("ack took %v, want %v", took, tt.wantTook)
				}
				if (err != nil) != tt.wantErr {
					t.Errorf("ack = %v, want error %v", err, tt.wantErr)
				}
				f.mu.Lock()
				calls := len(f.deletes)
				f.mu.Unlock()
				if calls != tt.wantCalls {
					t.Errorf("%d DeleteMessageBatch calls, want %d", calls, tt.wantCalls)
				}
				if m := f.msg(id); m.deleted == tt.wantErr {
					t.Errorf("deleted = %v, want %v", m.deleted, !tt.wantErr)
				}
				wantOK, wantFailed := 1, 0
				if tt.wantErr {
					wantOK, wantFailed = 0, 1
				}
				if got := obs.snapshot(); got.deleted != wantOK || got.deleteFailed != wantFailed {
					t.Errorf("deleted %d, failed %d; want %d, %d", got.deleted, got.deleteFailed, wantOK, wantFailed)
				}
			})
		})
	}
}

// slowCounters is a counters whose Deleted and VisibilityChanged take a
// while, as a contended metrics registry may: a settle that returned
// before its call was counted shows up as a missing count.
type slowCounters struct {
	*counters
}

func (s slowCounters) Deleted(ok, failed int) {
	time.Sleep(time.Millisecond)
	s.counters.Deleted(ok, failed)
}

func (s slowCounters) VisibilityChanged(op string, ok, failed int) {
	time.Sleep(time.Millisecond)
	s.counters.VisibilityChanged(op, ok, failed)
}

// TestSettleCountedBeforeReturn: when Ack or Nack returns, its delete or
// release is already counted, failed or not, so that a scrape or a test
// that reads the counters right after sees it.
func TestSettleCountedBeforeReturn(t *testing.T) {
	tests := []struct {
		name       string
		ack        bool
		fail       bool
		ok, failed func(counts) int
	}{
		{"ack", true, false, func(c counts) int { return c.deleted }, func(c counts) int { return c.deleteFailed }},
		{"ack failed", true, true, func(c counts) int { return c.deleted }, func(c counts) int { return c.deleteFailed }},
		{"nack", false, false, func(c counts) int { return c.changed[sqs.OpRelease] }, func(c counts) int { return c.changeFailed[sqs.OpRelease] }},
		{"nack failed", false, true, func(c counts) int { return c.changed[sqs.OpRelease] }, func(c counts) int { return c.changeFailed[sqs.OpRelease] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(30)
				id := f.send(body(t, 1))
				obs := slowCounters{newCounters()}
				c, err := sqs.New(t.Context(), f, sqs.Config{QueueURL: queueURL, Buffer: 1, Observer: obs, Logger: quiet, RetryDelay: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(context.Background())
				d := receive(t, c)
				settle := c.Nack
				if tt.ack {
					settle = c.Ack
				}
				if tt.fail {
					f.mu.Lock()
					f.failDelete[id] = true
					f.failChange[f.msgs[0].receipt] = &fakeFail{n: 1, senderFault: true}
					f.mu.Unlock()
				}
				err = settle(context.Background(), d)
				if (err != nil) != tt.fail {
					t.Fatalf("settle = %v, want an error %v", err, tt.fail)
				}
				got := obs.snapshot()
				wantOK, wantFailed := 1, 0
				if tt.fail {
					wantOK, wantFailed = 0, 1
				}
				if tt.ok(got) != wantOK || tt.failed(got) != wantFailed {
					t.Errorf("counted right after the settle returned: ok %d, failed %d; want %d, %d", tt.ok(got), tt.failed(got), wantOK, wantFailed)
				}
			})
		})
	}
}

// TestVisibilityCallTimeoutBelowVisibility: with a call timeout longer than
// the visibility timeout, a hung extension call is cut after a third of
// the visibility timeout, and the other held message is extended in time.
func TestVisibilityCallTimeoutBelowVisibility(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(6)
		f.send(body(t, 1))
		f.send(body(t, 2))
		c, obs := newConsumer(t, f, sqs.Config{Buffer: 2, CallTimeout: time.Minute})
		d1 := receive(t, c)
		d2 := receive(t, c)
		f.mu.Lock()
		f.hangChange = 1
		f.mu.Unlock()
		time.Sleep(time.Minute)
		for _, d := range []*queue.Delivery{d1, d2} {
			if m := f.msg(d.ID); m.receives != 1 || m.expired != 0 || !m.visibleAt.After(time.Now()) {
				t.Errorf("%s after a hung extension call: receives %d, late extensions %d, visible %v; want 1, 0, false",
					d.ID, m.receives, m.expired, !m.visibleAt.After(time.Now()))
			}
		}
		if got := obs.snapshot().changeFailed[sqs.OpExtend]; got != 2 {
			t.Errorf("%d failed extensions, want the 2 entries of the hung call", got)
		}
		if sqs.MaxCallTimeout(6*time.Second) != 2*time.Second {
			t.Errorf("MaxCallTimeout(6s) = %v, want 2s", sqs.MaxCallTimeout(6*time.Second))
		}
		for _, d := range []*queue.Delivery{d1, d2} {
			if err := c.Ack(context.Background(), d); err != nil {
				t.Errorf("ack %s: %v", d.ID, err)
			}
		}
	})
}

// TestAckWithinSettleBudget: a delete that needs its two retries, each call
// as slow as the call timeout allows, answers within SettleBudget, behind a
// batch doing the same; three call timeouts (the worker's old bound) are
// not enough.
func TestAckWithinSettleBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const callTimeout = 2 * time.Second
		f := newFake(30)
		f.deleteDelay = callTimeout - time.Millisecond
		var ids []string
		for i := range 4 {
			ids = append(ids, f.send(body(t, int64(i+1))))
		}
		for _, id := range ids {
			f.transientDelete[id] = 2
		}
		c, _ := newConsumer(t, f, sqs.Config{Buffer: 4, CallTimeout: callTimeout})
		budget := c.SettleBudget()
		if want := 2 * (3*callTimeout + 300*time.Millisecond); budget != want {
			t.Errorf("SettleBudget = %v, want %v", budget, want)
		}
		var ds []*queue.Delivery
		for range ids {
			ds = append(ds, receive(t, c))
		}
		var wg sync.WaitGroup
		for _, d := range ds {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), budget)
				defer cancel()
				start := time.Now()
				if err := c.Ack(ctx, d); err != nil {
					t.Errorf("ack %s within the settle budget %v: %v", d.ID, budget, err)
				}
				if took := time.Since(start); took <= 3*callTimeout {
					t.Errorf("ack took %v: the test wants deletes slower than 3 call timeouts", took)
				}
			})
		}
		wg.Wait()
		for _, id := range ids {
			if m := f.msg(id); !m.deleted || m.expired != 0 {
				t.Errorf("%s: deleted %v, late extensions %d; want true, 0", id, m.deleted, m.expired)
			}
		}
	})
}

// TestAckDeadlineKeepsExtending: an Ack whose deadline ends before its
// delete answers reports it, but the message stays extended until the
// delete returns, so that no other consumer is handed a paid order.
func TestAckDeadlineKeepsExtending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(3)
		f.deleteDelay = 10 * time.Second
		id := f.send(body(t, 1))
		c, obs := newConsumer(t, f, sqs.Config{Buffer: 1, CallTimeout: time.Minute})
		d := receive(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := c.Ack(ctx, d); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("ack past its deadline = %v, want a deadline error", err)
		}
		time.Sleep(5 * time.Second) // the visibility (3s) would have run out unextended
		if m := f.msg(id); m.deleted || m.expired != 0 || !m.visibleAt.After(time.Now()) {
			t.Errorf("during the delete: deleted %v, late extensions %d, visible %v; want false, 0, false", m.deleted, m.expired, !m.visibleAt.After(time.Now()))
		}
		time.Sleep(10 * time.Second)
		if m := f.msg(id); !m.deleted || m.receives != 1 || m.expired != 0 {
			t.Errorf("after the delete: deleted %v, receives %d, late extensions %d; want true, 1, 0", m.deleted, m.receives, m.expired)
		}
		if got := obs.snapshot(); got.deleted != 1 || got.held != 0 {
			t.Errorf("deleted %d, held %d; want 1, 0", got.deleted, got.held)
		}
	})
}
