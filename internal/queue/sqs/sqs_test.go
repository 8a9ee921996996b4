package sqs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"flashsale/internal/order"
	"flashsale/internal/queue"
	"flashsale/internal/queue/queuetest"
	"flashsale/internal/queue/sqs"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const queueURL = "http://127.0.0.1:1/000000000000/orders"

func body(t *testing.T, customer int64) string {
	t.Helper()
	b, err := order.Marshal(queuetest.NewOrder(t, customer))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newConsumer returns a consumer of f, closed at the end of the test (inside
// the synctest bubble).
func newConsumer(t *testing.T, f *fakeSQS, cfg sqs.Config) (*sqs.Consumer, *counters) {
	t.Helper()
	obs := newCounters()
	cfg.QueueURL = queueURL
	cfg.Observer = obs
	cfg.Logger = quiet
	c, err := sqs.New(t.Context(), f, cfg)
	if err != nil {
		t.Fatalf("new consumer: %v", err)
	}
	t.Cleanup(func() {
		// Deliveries a test left unsettled are left to the queue.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c, obs
}

func receive(t *testing.T, c *sqs.Consumer) *queue.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return d
}

// TestExtendsHeldMessages holds messages, delivered and buffered, for 20
// visibility timeouts: none becomes visible or is delivered again, every
// extension lands before the timeout runs out.
func TestExtendsHeldMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(3)
		ids := []string{f.send(body(t, 1)), f.send(body(t, 2)), f.send(body(t, 3))}
		c, obs := newConsumer(t, f, sqs.Config{Buffer: 3})
		d := receive(t, c) // one delivered, two left in the buffer
		synctest.Wait()
		time.Sleep(time.Minute) // a payment twenty times the visibility timeout
		for _, id := range ids {
			m := f.msg(id)
			if m.receives != 1 {
				t.Errorf("message %s received %d times while held, want 1", id, m.receives)
			}
			if m.expired != 0 {
				t.Errorf("message %s: %d extensions came after its visibility ran out", id, m.expired)
			}
			if !m.visibleAt.After(time.Now()) {
				t.Errorf("message %s visible while held", id)
			}
		}
		got := obs.snapshot()
		if got.changeFailed[sqs.OpExtend] != 0 {
			t.Errorf("%d failed extensions", got.changeFailed[sqs.OpExtend])
		}
		// Each message is extended at least once per visibility timeout.
		if want := 3 * 60 / 3; got.changed[sqs.OpExtend] < want {
			t.Errorf("%d extensions in a minute, want at least %d", got.changed[sqs.OpExtend], want)
		}
		if got.held != 3 {
			t.Errorf("held = %d, want 3", got.held)
		}
		if err := c.Ack(context.Background(), d); err != nil {
			t.Fatalf("ack: %v", err)
		}
		if err := c.Close(context.Background()); err != nil {
			t.Fatalf("close: %v", err)
		}
		// The delivered message is deleted; the two buffered ones are given
		// back at once, never deleted.
		if m := f.msg(d.ID); !m.deleted {
			t.Errorf("acknowledged message %s not deleted", d.ID)
		}
		if n := f.visible(time.Now()); n != 2 {
			t.Errorf("%d messages visible after close, want the 2 buffered ones", n)
		}
		if got := obs.snapshot(); got.held != 0 || got.deleted != 1 || got.changed[sqs.OpRelease] != 2 {
			t.Errorf("after close: held %d deleted %d released %d; want 0, 1, 2", got.held, got.deleted, got.changed[sqs.OpRelease])
		}
	})
}

// TestAckDeletesInBatches acknowledges ten messages at once: they are
// deleted in fewer calls than messages, and Ack returns after the delete.
func TestAckDeletesInBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(30)
		f.latency = 20 * time.Millisecond
		for i := range 10 {
			f.send(body(t, int64(i+1)))
		}
		c, obs := newConsumer(t, f, sqs.Config{Buffer: 10})
		var ds []*queue.Delivery
		for range 10 {
			ds = append(ds, receive(t, c))
		}
		var wg sync.WaitGroup
		for _, d := range ds {
			wg.Go(func() {
				if err := c.Ack(context.Background(), d); err != nil {
					t.Errorf("ack %s: %v", d.ID, err)
				}
				if m := f.msg(d.ID); !m.deleted {
					t.Errorf("Ack of %s returned before the delete", d.ID)
				}
			})
		}
		wg.Wait()
		f.mu.Lock()
		calls, entries := len(f.deletes), 0
		for _, b := range f.deletes {
			entries += len(b)
		}
		f.mu.Unlock()
		if entries != 10 {
			t.Errorf("%d delete entries, want 10", entries)
		}
		if calls >= 10 {
			t.Errorf("%d DeleteMessageBatch calls for 10 concurrent acks: not batched", calls)
		}
		if got := obs.snapshot(); got.deleted != 10 || got.deleteFailed != 0 {
			t.Errorf("deleted %d, failed %d; want 10, 0", got.deleted, got.deleteFailed)
		}
	})
}

// TestFailedDeleteComesBack: a delete entry that fails makes Ack fail and
// is counted; the message returns after its visibility timeout.
func TestFailedDeleteComesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(5)
		id := f.send(body(t, 1))
		f.failDelete[id] = true
		c, obs := newConsumer(t, f, sqs.Config{Buffer: 1})
		d := receive(t, c)
		err := c.Ack(context.Background(), d)
		if err == nil || !strings.Contains(err.Error(), id) {
			t.Fatalf("ack with a failing delete = %v, want an error naming %s", err, id)
		}
		if got := obs.snapshot(); got.deleteFailed != 1 || got.deleted != 0 {
			t.Errorf("deleted %d, failed %d; want 0, 1", got.deleted, got.deleteFailed)
		}
		start := time.Now()
		again := receive(t, c)
		if again.ID != id || again.Receives != 2 || again.Order.ID != d.Order.ID {
			t.Fatalf("received %s (receives %d), want %s again (receives 2)", again.ID, again.Receives, id)
		}
		if waited := time.Since(start); waited > 5*time.Second+200*time.Millisecond {
			t.Errorf("came back after %v, want within the 5s visibility timeout", waited)
		}
		f.failDelete[id] = false
		if err := c.Ack(context.Background(), again); err != nil {
			t.Fatalf("second ack: %v", err)
		}
	})
}

// TestNackRetryDelay: a Nacked message comes back after the retry delay,
// not before, and never while it is still being extended.
func TestNackRetryDelay(t *testing.T) {
	tests := []struct {
		name     string
		retry    time.Duration
		min, max time.Duration
	}{
		{"at once", 0, 0, 200 * time.Millisecond},
		{"after 5s", 5 * time.Second, 5 * time.Second, 5200 * time.Millisecond},
		{"rounded up to 2s", 1500 * time.Millisecond, 2 * time.Second, 2200 * time.Millisecond},
		{"left to the visibility timeout", -1, 0, 3*time.Second + 200*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(3)
				id := f.send(body(t, 1))
				c, obs := newConsumer(t, f, sqs.Config{Buffer: 1, RetryDelay: tt.retry})
				d := receive(t, c)
				time.Sleep(10 * time.Second) // held (and extended) past the timeout
				if err := c.Nack(context.Background(), d); err != nil {
					t.Fatalf("nack: %v", err)
				}
				start := time.Now()
				again := receive(t, c)
				waited := time.Since(start)
				if again.ID != id || again.Receives != 2 {
					t.Fatalf("received %s (receives %d), want %s (receives 2)", again.ID, again.Receives, id)
				}
				if waited < tt.min || waited > tt.max {
					t.Errorf("came back after %v, want between %v and %v", waited, tt.min, tt.max)
				}
				if err := c.Ack(context.Background(), again); err != nil {
					t.Fatal(err)
				}
				got := obs.snapshot()
				wantRelease := 1
				if tt.retry < 0 {
					wantRelease = 0
				}
				if got.changed[sqs.OpRelease] != wantRelease {
					t.Errorf("%d releases, want %d", got.changed[sqs.OpRelease], wantRelease)
				}
				if m := f.msg(id); m.expired != 0 {
					t.Errorf("%d extensions after the visibility ran out", m.expired)
				}
			})
		})
	}
}

// TestSettleTwice: a delivery is settled once; a foreign delivery is
// refused.
func TestSettleTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(3)
		f.send(body(t, 1))
		c, _ := newConsumer(t, f, sqs.Config{Buffer: 1})
		d := receive(t, c)
		if err := c.Ack(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if err := c.Nack(context.Background(), d); err == nil {
			t.Error("nack after ack succeeded")
		}
		if err := c.Ack(context.Background(), &queue.Delivery{ID: "x", Handle: "receipt"}); err == nil {
			t.Error("ack of a foreign delivery succeeded")
		}
	})
}

// TestStopReceivingCancelsLongPoll: stopping interrupts the 20-second long
// poll at once and Receive answers queue.ErrClosed.
func TestStopReceivingCancelsLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(3)
		c, _ := newConsumer(t, f, sqs.Config{})
		done := make(chan error, 1)
		go func() {
			_, err := c.Receive(context.Background())
			done <- err
		}()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		f.mu.Lock()
		polls := f.polls
		f.mu.Unlock()
		if polls != 1 {
			t.Fatalf("%d long polls in progress, want 1", polls)
		}
		start := time.Now()
		if err := c.StopReceiving(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, queue.ErrClosed) {
			t.Fatalf("receive after stop = %v, want ErrClosed", err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("stop took %v of the long poll, want 0", waited)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.cancelled != 1 || f.polls != 0 {
			t.Errorf("cancelled polls %d, in progress %d; want 1, 0", f.cancelled, f.polls)
		}
		if n := len(f.receives); n != 1 {
			t.Errorf("%d ReceiveMessage calls, want 1", n)
		}
		if in := f.receives[0]; in.WaitTimeSeconds != 20 {
			t.Errorf("WaitTimeSeconds = %d, want 20", in.WaitTimeSeconds)
		}
	})
}

// TestStopReceivingGivesBufferBack: at stop, the buffered messages that no
// worker took are made visible again at once; the delivered one stays held
// until it is settled; nothing unacknowledged is deleted.
func TestStopReceivingGivesBufferBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(30)
		for i := range 4 {
			f.send(body(t, int64(i+1)))
		}
		c, obs := newConsumer(t, f, sqs.Config{Buffer: 4})
		d := receive(t, c)
		synctest.Wait() // the receiver fills the buffer
		if n := f.visible(time.Now()); n != 0 {
			t.Fatalf("%d messages visible, want all 4 received", n)
		}
		if err := c.StopReceiving(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := f.visible(time.Now()); n != 3 {
			t.Errorf("%d messages visible after stop, want the 3 buffered", n)
		}
		if m := f.msg(d.ID); !m.visibleAt.After(time.Now()) {
			t.Error("the delivered message was given back while a worker holds it")
		}
		if _, err := c.Receive(context.Background()); !errors.Is(err, queue.ErrClosed) {
			t.Errorf("receive after stop = %v, want ErrClosed", err)
		}
		time.Sleep(time.Minute) // the worker's payment goes on, extended
		if m := f.msg(d.ID); m.receives != 1 || !m.visibleAt.After(time.Now()) {
			t.Errorf("delivered message: receives %d, visible %v; want held", m.receives, !m.visibleAt.After(time.Now()))
		}
		if err := c.Ack(context.Background(), d); err != nil {
			t.Fatalf("ack after stop: %v", err)
		}
		if err := c.Close(context.Background()); err != nil {
			t.Fatalf("close: %v", err)
		}
		f.mu.Lock()
		deleted := 0
		for _, m := range f.msgs {
			if m.deleted {
				deleted++
			}
		}
		f.mu.Unlock()
		if deleted != 1 || obs.snapshot().deleted != 1 {
			t.Errorf("%d messages deleted, want only the acknowledged one", deleted)
		}
	})
}

// TestCloseWaitsForSettlement: Close waits for the messages delivered to
// workers; when its context ends first, it leaves them to SQS undeleted.
func TestCloseWaitsForSettlement(t *testing.T) {
	t.Run("settled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFake(3)
			id := f.send(body(t, 1))
			c, _ := newConsumer(t, f, sqs.Config{Buffer: 1})
			d := receive(t, c)
			closed := make(chan error, 1)
			go func() { closed <- c.Close(context.Background()) }()
			time.Sleep(30 * time.Second)
			select {
			case err := <-closed:
				t.Fatalf("close returned %v with a message being paid", err)
			default:
			}
			if err := c.Ack(context.Background(), d); err != nil {
				t.Fatalf("ack during close: %v", err)
			}
			if err := <-closed; err != nil {
				t.Fatalf("close: %v", err)
			}
			if m := f.msg(id); !m.deleted || m.receives != 1 {
				t.Errorf("message deleted %v after %d receives, want deleted after 1", m.deleted, m.receives)
			}
		})
	})
	t.Run("deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFake(3)
			id := f.send(body(t, 1))
			c, _ := newConsumer(t, f, sqs.Config{Buffer: 1})
			receive(t, c) // never settled: the process is going away
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := c.Close(ctx)
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 unsettled") {
				t.Fatalf("close = %v, want a deadline error about 1 unsettled message", err)
			}
			if m := f.msg(id); m.deleted {
				t.Fatal("an unsettled message was deleted")
			}
			time.Sleep(3 * time.Second)
			if n := f.visible(time.Now()); n != 1 {
				t.Errorf("%d visible after the visibility timeout, want the unsettled message back", n)
			}
		})
	})
}

// TestBufferBound: the receiver holds at most Buffer messages beyond those
// delivered, and asks for no more than that, with a 20-second long poll.
func TestBufferBound(t *testing.T) {
	tests := []struct {
		buffer, sent, take int
		wantHeld           int
	}{
		{buffer: 2, sent: 10, take: 1, wantHeld: 3},
		{buffer: 10, sent: 25, take: 0, wantHeld: 10},
		{buffer: 10, sent: 25, take: 12, wantHeld: 22},
		{buffer: 1, sent: 5, take: 5, wantHeld: 5},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			f := newFake(30)
			for i := range tt.sent {
				f.send(body(t, int64(i+1)))
			}
			c, obs := newConsumer(t, f, sqs.Config{Buffer: tt.buffer})
			if tt.take == 0 {
				// Start the receiver without taking anything.
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				if _, err := c.Receive(ctx); !errors.Is(err, context.Canceled) {
					t.Fatalf("receive with a cancelled context = %v", err)
				}
			}
			for range tt.take {
				receive(t, c)
			}
			synctest.Wait()
			time.Sleep(time.Minute)
			synctest.Wait()
			if got := obs.snapshot(); got.held != tt.wantHeld || got.received != tt.wantHeld {
				t.Errorf("buffer %d, %d taken: held %d, received %d; want %d", tt.buffer, tt.take, got.held, got.received, tt.wantHeld)
			}
			f.mu.Lock()
			for _, in := range f.receives {
				if in.MaxNumberOfMessages > int32(min(tt.buffer, sqs.MaxBatch)) || in.MaxNumberOfMessages < 1 {
					t.Errorf("MaxNumberOfMessages = %d with buffer %d", in.MaxNumberOfMessages, tt.buffer)
				}
				if in.WaitTimeSeconds != 20 || in.VisibilityTimeout != 30 {
					t.Errorf("WaitTimeSeconds %d, VisibilityTimeout %d; want 20, 30", in.WaitTimeSeconds, in.VisibilityTimeout)
				}
			}
			f.mu.Unlock()
		})
	}
}

// TestReceiveRetriesAfterErrors: a failing ReceiveMessage is counted and
// retried; messages flow again after it.
func TestReceiveRetriesAfterErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(30)
		f.failReceives = 3
		id := f.send(body(t, 1))
		c, obs := newConsumer(t, f, sqs.Config{})
		if d := receive(t, c); d.ID != id {
			t.Fatalf("received %s, want %s", d.ID, id)
		}
		if got := obs.snapshot(); got.receiveFailed != 3 {
			t.Errorf("receive failures counted %d, want 3", got.receiveFailed)
		}
	})
}

// TestPoisonDelivery: a body that is not an order is delivered with Err
// set, and Nack gives it back so SQS can count it towards its dead-letter
// queue.
func TestPoisonDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(30)
		id := f.send("hello, not an order")
		c, _ := newConsumer(t, f, sqs.Config{})
		d := receive(t, c)
		if d.Err == nil || d.ID != id || d.Receives != 1 {
			t.Fatalf("delivery %+v: want poison %s, receives 1", d, id)
		}
		if err := c.Nack(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		again := receive(t, c)
		if again.ID != id || again.Receives != 2 || again.Err == nil {
			t.Fatalf("after nack got %+v, want %s again with receives 2", again, id)
		}
		_ = c.Nack(context.Background(), again)
	})
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     sqs.Config
		attrErr error
		want    string
	}{
		{"no queue URL", sqs.Config{}, nil, "queue URL is required"},
		{"negative buffer", sqs.Config{QueueURL: queueURL, Buffer: -1}, nil, "buffer"},
		{"long poll too long", sqs.Config{QueueURL: queueURL, WaitTime: 21 * time.Second}, nil, "wait time"},
		{"visibility too long", sqs.Config{QueueURL: queueURL, VisibilityTimeout: 13 * time.Hour}, nil, "12h"},
		{"unreachable", sqs.Config{QueueURL: queueURL}, errors.New("connection refused"), "not reachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(30)
			f.attrErr = tt.attrErr
			c, err := sqs.New(context.Background(), f, tt.cfg)
			if err == nil {
				_ = c.Close(context.Background())
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to mention %q", err, tt.want)
			}
			if tt.attrErr != nil && !errors.Is(err, tt.attrErr) {
				t.Errorf("error %v does not wrap %v", err, tt.attrErr)
			}
		})
	}
}

func TestVisibilityTimeout(t *testing.T) {
	tests := []struct {
		queue int
		cfg   time.Duration
		want  time.Duration
	}{
		{queue: 30, want: 30 * time.Second},
		{queue: 30, cfg: 1500 * time.Millisecond, want: 2 * time.Second},
		{queue: 0, want: time.Second},
		{queue: 30, cfg: 90 * time.Second, want: 90 * time.Second},
	}
	for _, tt := range tests {
		c, err := sqs.New(context.Background(), newFake(tt.queue), sqs.Config{QueueURL: queueURL, VisibilityTimeout: tt.cfg})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.VisibilityTimeout(); got != tt.want {
			t.Errorf("queue %ds, config %v: visibility %v, want %v", tt.queue, tt.cfg, got, tt.want)
		}
		_ = c.Close(context.Background())
	}
}

func TestCountsAndDepth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(30)
		for i := range 5 {
			f.send(body(t, int64(i+1)))
		}
		c, _ := newConsumer(t, f, sqs.Config{Buffer: 2})
		receive(t, c)
		synctest.Wait()
		got, err := c.Counts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := (sqs.Counts{Visible: 2, NotVisible: 3}); got != want || got.Total() != 5 {
			t.Errorf("counts %+v, want %+v", got, want)
		}
		if d, err := c.Depth(context.Background()); err != nil || d != 2 {
			t.Errorf("depth = %d, %v; want 2", d, err)
		}
	})
}
