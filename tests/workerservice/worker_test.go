package workerservice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"flashsale/internal/order"
	"flashsale/internal/testutil/moto"
)

// TestWorkerService runs every scenario on one moto_server; each scenario
// has its own topic and queues. If moto_server is missing, the test fails
// with an install hint when CI is set and is skipped with it otherwise.
func TestWorkerService(t *testing.T) {
	srv := moto.Start(t)
	buildBinary(t)
	t.Run("EndToEnd1000Orders", func(t *testing.T) { testEndToEnd(t, srv) })
	t.Run("SIGKILLMidPayment", func(t *testing.T) { testSIGKILL(t, srv) })
	t.Run("SIGTERMFinishesInFlight", func(t *testing.T) { testSIGTERM(t, srv) })
	t.Run("PoisonToDeadLetterQueue", func(t *testing.T) { testPoison(t, srv) })
	t.Run("DeclinedIsFinal", func(t *testing.T) { testDeclined(t, srv) })
	t.Run("DuplicateNotRepaid", func(t *testing.T) { testDuplicate(t, srv) })
	t.Run("ExactlyOnceAcrossWorkers", func(t *testing.T) { testExactlyOnce(t, srv) })
	t.Run("StartupErrors", func(t *testing.T) { testStartupErrors(t, srv) })
	t.Run("QueueDepthCommand", func(t *testing.T) { testQueueDepth(t, srv) })
}

// postOrders posts n orders to the API's POST /orders/async, conc at a
// time, and returns the IDs of the orders accepted with 202.
func postOrders(t *testing.T, api *proc, n, conc int) []string {
	t.Helper()
	ids := postOrdersThen(t, api, n, conc, nil)
	if t.Failed() {
		t.FailNow()
	}
	return ids
}

// postOrdersThen is postOrders calling then (when not nil) with the ID of
// each accepted order, from the goroutine that posted it. It may run on a
// goroutine of its own: it reports failures with Errorf only.
func postOrdersThen(t *testing.T, api *proc, n, conc int, then func(id string)) []string {
	var (
		mu   sync.Mutex
		ids  []string
		wg   sync.WaitGroup
		errs = make(chan error, n)
		work = make(chan int)
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for range conc {
		wg.Go(func() {
			for i := range work {
				body := fmt.Sprintf(`{"customer_id": %d, "items": [{"product_id": "sku-1", "quantity": 2, "price": 10.5}]}`, i+1)
				resp, err := client.Post("http://"+api.addr+"/orders/async", "application/json", strings.NewReader(body))
				if err != nil {
					errs <- err
					continue
				}
				var out struct {
					OrderID string `json:"order_id"`
					Status  string `json:"status"`
				}
				err = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted || err != nil || out.OrderID == "" || out.Status != "pending" {
					errs <- fmt.Errorf("order %d: %s %+v %v", i, resp.Status, out, err)
					continue
				}
				mu.Lock()
				ids = append(ids, out.OrderID)
				mu.Unlock()
				if then != nil {
					then(out.OrderID)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("post: %v", err)
	}
	return ids
}

// testEndToEnd: 1,000 orders through serve --topic-arn -> SNS -> SQS ->
// worker --workers 50: every order paid exactly once, both queues empty.
func testEndToEnd(t *testing.T, srv *moto.Server) {
	const orders, workers = 1000, 50
	const delay = 100 * time.Millisecond
	s := newStack(t, srv, 10, 5)
	// The API finds moto through AWS_ENDPOINT_URL; the worker through its
	// flag as well.
	api := start(t, srv, "serve", "serve", "--topic-arn", s.topicARN, "--log-level", "warn")
	w := startWorker(t, s, "worker", "--endpoint-url", srv.Endpoint, "--workers", fmt.Sprint(workers),
		"--payment-delay", delay.String())

	begin := time.Now()
	ids := postOrders(t, api, orders, 20)
	posted := time.Since(begin)
	poll(t, 180*time.Second, time.Second, func() (bool, string) {
		m := w.metrics()
		return m[completed] == orders && m[deletedOK] == orders, fmt.Sprintf("completed %v, deleted %v", m[completed], m[deletedOK])
	})
	drained := time.Since(begin)
	t.Logf("%d orders: accepted by the API in %v (%.0f/s), all paid and deleted by %d workers after %v (%.0f/s; the payments alone need %v)",
		orders, posted.Round(time.Millisecond), orders/posted.Seconds(), workers, drained.Round(time.Millisecond),
		orders/drained.Seconds(), orders/workers*delay)

	if m := api.metrics(); m[`flashsale_orders_accepted_total{path="async"}`] != orders {
		t.Errorf("API accepted %v async orders, want %d", m[`flashsale_orders_accepted_total{path="async"}`], orders)
	}
	m := w.metrics()
	for series, want := range map[string]float64{
		completed: orders, `flashsale_payments_total{result="declined"}`: 0, dups: 0, poison: 0,
		deletedOK: orders, `flashsale_sqs_deletes_total{result="failed"}`: 0, received: orders,
		"flashsale_workers": workers, `flashsale_sqs_visibility_changes_total{op="extend",result="failed"}`: 0,
	} {
		if m[series] != want {
			t.Errorf("%s = %v, want %v", series, m[series], want)
		}
	}
	paid := w.paid()
	if len(paid) != orders {
		t.Errorf("%d distinct orders paid, want %d", len(paid), orders)
	}
	for _, id := range ids {
		if paid[id] != 1 {
			t.Errorf("order %s paid %d times, want 1", id, paid[id])
		}
	}
	for _, url := range []string{s.queueURL, s.dlqURL} {
		if c := s.counts(t, url); c.Total() != 0 {
			t.Errorf("%s not empty at the end: %+v", url, c)
		}
	}
	if d := m["flashsale_queue_depth"]; d != 0 {
		t.Errorf("flashsale_queue_depth = %v, want 0", d)
	}
	w.signal(syscall.SIGTERM)
	if code := w.wait(10 * time.Second); code != 0 {
		t.Errorf("worker exited %d after SIGTERM, want 0", code)
	}
}

// testSIGKILL: a worker killed in the middle of payments; its unfinished
// messages come back after the visibility timeout and a second worker pays
// them: none lost, none paid twice.
func testSIGKILL(t *testing.T, srv *moto.Server) {
	const n, vt = 30, 2
	s := newStack(t, srv, vt, 5)
	ids := s.publish(t, newOrders(t, n)...)
	w1 := startWorker(t, s, "worker-1", "--workers", "10", "--payment-delay", "3s")
	// Kill a third of the way through the second round of payments, far
	// from any payment's end: the first ten are paid and deleted, ten are
	// being paid, ten wait in the buffer.
	eventually(t, 20*time.Second, func() (bool, string) {
		m := w1.metrics()
		return m[completed] >= 10 && m[inFlight] > 0, fmt.Sprintf("completed %v, in flight %v", m[completed], m[inFlight])
	})
	time.Sleep(time.Second)
	before := w1.metrics()
	w1.signal(syscall.SIGKILL)
	w1.wait(5 * time.Second)
	paid1 := w1.paid()
	if len(paid1) < 10 || len(paid1) >= n || before[inFlight] == 0 {
		t.Fatalf("killed with %d orders paid and %v in flight; want mid-payment", len(paid1), before[inFlight])
	}
	killedAt := time.Now()
	// Nothing the killed worker held was deleted: it is all still in the
	// queue, in flight until its visibility runs out.
	if c := s.counts(t, s.queueURL); c.Total() != n-len(paid1) {
		t.Errorf("after the kill the queue holds %d messages (%+v), want the %d unpaid", c.Total(), c, n-len(paid1))
	}

	w2 := startWorker(t, s, "worker-2", "--workers", "10", "--payment-delay", "100ms")
	eventually(t, 30*time.Second, func() (bool, string) {
		m := w2.metrics()
		c := s.counts(t, s.queueURL)
		return m[completed] == float64(n-len(paid1)) && c.Total() == 0,
			fmt.Sprintf("worker-2 paid %v of %d; queue %+v", m[completed], n-len(paid1), c)
	})
	t.Logf("worker-1 paid %d before SIGKILL (%v in flight); worker-2 paid the other %d within %v of the kill",
		len(paid1), before[inFlight], n-len(paid1), time.Since(killedAt).Round(time.Millisecond))
	paid2 := w2.paid()
	for _, id := range ids {
		if total := paid1[id] + paid2[id]; total != 1 {
			t.Errorf("order %s paid %d times (worker-1 %d, worker-2 %d), want once", id, total, paid1[id], paid2[id])
		}
	}
	m := w2.metrics()
	if m[dups] != 0 || m[completed] != float64(len(paid2)) {
		t.Errorf("worker-2: %v duplicates, %v completed for %d logged; want 0 and equal", m[dups], m[completed], len(paid2))
	}
	if c := s.counts(t, s.dlqURL); c.Total() != 0 {
		t.Errorf("dead-letter queue holds %+v, want nothing", c)
	}
}

// testSIGTERM: SIGTERM stops receiving; the payments in flight finish and
// are deleted; the buffered messages are given back at once; nothing unpaid
// is deleted.
func testSIGTERM(t *testing.T, srv *moto.Server) {
	const n, workers = 20, 5
	// A long visibility timeout: a message left invisible by the shutdown
	// would stay so for the rest of the test.
	s := newStack(t, srv, 60, 5)
	ids := s.publish(t, newOrders(t, n)...)
	w := startWorker(t, s, "worker", "--workers", fmt.Sprint(workers), "--payment-delay", "3s")
	eventually(t, 10*time.Second, func() (bool, string) {
		m := w.metrics()
		return m[inFlight] == workers && m["flashsale_sqs_messages_held"] == 2*workers,
			fmt.Sprintf("in flight %v, held %v", m[inFlight], m["flashsale_sqs_messages_held"])
	})
	if m := w.metrics(); m[completed] != 0 {
		t.Fatalf("%v payments completed before SIGTERM; want them all in flight", m[completed])
	}
	sent := time.Now()
	w.signal(syscall.SIGTERM)
	// Stopped receiving at once: the buffered messages are visible again
	// while the payments are still running.
	eventually(t, 2500*time.Millisecond, func() (bool, string) {
		c := s.counts(t, s.queueURL)
		return c.Visible == n-workers && c.NotVisible == workers, fmt.Sprintf("%+v", c)
	})
	// While it finishes its payments, it tells load balancers it is going.
	if resp, err := http.Get("http://" + w.addr + "/health"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("health while stopping: %v %v, want 503", resp, err)
	} else {
		resp.Body.Close()
	}
	if code := w.wait(10 * time.Second); code != 0 {
		t.Errorf("worker exited %d after SIGTERM, want 0", code)
	}
	took := time.Since(sent)
	if took < 2*time.Second {
		t.Errorf("worker exited %v after SIGTERM: before its 3s payments could finish", took)
	}
	paid := w.paid()
	if len(paid) != workers {
		t.Errorf("%d orders paid, want the %d in flight", len(paid), workers)
	}
	stopped := w.record("worker service stopped")
	if stopped == nil || stopped["paid"] != float64(workers) || stopped["deleted"] != float64(workers) ||
		stopped["received"] != float64(2*workers) || stopped["delete_failed"] != 0.0 {
		t.Errorf("final record %v: want paid %d, deleted %d, received %d, no failed delete", stopped, workers, workers, 2*workers)
	}
	// Everything unpaid is in the queue, visible at once; nothing paid is.
	c := s.counts(t, s.queueURL)
	if c.Visible != n-workers || c.NotVisible != 0 {
		t.Errorf("queue after exit %+v, want %d visible and none in flight", c, n-workers)
	}
	left := s.drainIDs(t, s.queueURL)
	var unpaid []string
	for _, id := range ids {
		if paid[id] == 0 {
			unpaid = append(unpaid, id)
		}
	}
	slices.Sort(left)
	slices.Sort(unpaid)
	if !slices.Equal(left, unpaid) {
		t.Errorf("left in the queue %v, want exactly the unpaid orders %v", left, unpaid)
	}
	t.Logf("SIGTERM with %d payments in flight: exited after %v, %d paid and deleted, %d given back",
		workers, took.Round(time.Millisecond), len(paid), len(left))
}

// testPoison: a message that is not an order goes to the dead-letter queue
// after maxReceiveCount receives, while the pool keeps paying orders.
func testPoison(t *testing.T, srv *moto.Server) {
	const maxReceives = 5
	s := newStack(t, srv, 2, maxReceives)
	const junk = "this is not an order"
	if _, err := s.sns.Publish(context.Background(), &awssns.PublishInput{TopicArn: aws.String(s.topicARN), Message: aws.String(junk)}); err != nil {
		t.Fatal(err)
	}
	ids := s.publish(t, newOrders(t, 10)...)
	w := startWorker(t, s, "worker", "--workers", "3", "--payment-delay", "100ms", "--retry-delay", "0s")
	eventually(t, 30*time.Second, func() (bool, string) {
		m := w.metrics()
		dlq := s.counts(t, s.dlqURL)
		return m[completed] == float64(len(ids)) && dlq.Total() == 1,
			fmt.Sprintf("completed %v; dead-letter queue %+v; poison %v", m[completed], dlq, m[poison])
	})
	// The pool still works after the poison message left.
	more := s.publish(t, newOrders(t, 5)...)
	eventually(t, 20*time.Second, func() (bool, string) {
		m := w.metrics()
		return m[completed] == float64(len(ids)+len(more)), fmt.Sprintf("completed %v", m[completed])
	})
	m := w.metrics()
	if m[poison] != maxReceives {
		t.Errorf("poison counted %v times, want one per receive: %d", m[poison], maxReceives)
	}
	if m[dups] != 0 {
		t.Errorf("%v duplicates, want 0", m[dups])
	}
	if c := s.counts(t, s.queueURL); c.Total() != 0 {
		t.Errorf("orders queue not empty: %+v", c)
	}
	if bodies := s.drain(t, s.dlqURL); len(bodies) != 1 || bodies[0] != junk {
		t.Errorf("dead-letter queue holds %q, want the poison message only", bodies)
	}
	resp, err := http.Get("http://" + w.addr + "/health")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("health after poison: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// testDeclined: a declined payment is an outcome, not a failure: the order
// is failed for good and its message deleted, never retried (a real
// provider would charge the card again) nor sent to the dead-letter queue.
func testDeclined(t *testing.T, srv *moto.Server) {
	const n = 3
	s := newStack(t, srv, 5, 3)
	s.publish(t, newOrders(t, n)...)
	w := startWorker(t, s, "worker", "--workers", "3", "--payment-delay", "50ms", "--decline-rate", "1", "--retry-delay", "0s")
	eventually(t, 30*time.Second, func() (bool, string) {
		m := w.metrics()
		return m[deletedOK] == n, fmt.Sprintf("deleted %v", m[deletedOK])
	})
	m := w.metrics()
	if got := m[`flashsale_payments_total{result="declined"}`]; got != n {
		t.Errorf("%v declined payments, want %d (each order tried once)", got, n)
	}
	if m[completed] != 0 {
		t.Errorf("completed %v, want nothing paid", m[completed])
	}
	for _, url := range []string{s.queueURL, s.dlqURL} {
		if c := s.counts(t, url); c.Total() != 0 {
			t.Errorf("%s holds %+v, want nothing", url, c)
		}
	}
}

// testDuplicate: SNS and SQS deliver at least once. A second delivery of a
// paid order, raw or in an SNS envelope, is acknowledged (deleted) without
// paying again, and counted.
func testDuplicate(t *testing.T, srv *moto.Server) {
	s := newStack(t, srv, 10, 5)
	w := startWorker(t, s, "worker", "--workers", "2", "--payment-delay", "100ms")
	o := newOrders(t, 1)[0]
	s.publish(t, o)
	eventually(t, 10*time.Second, func() (bool, string) {
		m := w.metrics()
		return m[completed] == 1 && m[deletedOK] == 1, fmt.Sprintf("completed %v, deleted %v", m[completed], m[deletedOK])
	})
	// The same order again: through the topic, and straight into the queue
	// as an SNS notification envelope (what a subscription without raw
	// delivery writes).
	s.publish(t, o)
	raw, _ := order.Marshal(o)
	env, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "dup-1", "TopicArn": s.topicARN, "Message": string(raw)})
	if _, err := s.sqs.SendMessage(context.Background(), &awssqs.SendMessageInput{QueueUrl: aws.String(s.queueURL), MessageBody: aws.String(string(env))}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		m := w.metrics()
		return m[dups] == 2 && m[deletedOK] == 3, fmt.Sprintf("duplicates %v, deleted %v", m[dups], m[deletedOK])
	})
	m := w.metrics()
	if m[completed] != 1 || m[poison] != 0 {
		t.Errorf("completed %v, poison %v; want the order paid once and no poison", m[completed], m[poison])
	}
	if paid := w.paid(); !maps.Equal(paid, map[string]int{o.ID: 1}) {
		t.Errorf("paid %v, want %s once", paid, o.ID)
	}
	if c := s.counts(t, s.queueURL); c.Total() != 0 {
		t.Errorf("queue not empty: %+v", c)
	}
}

// testStartupErrors: serve --topic-arn and worker fail at start-up, with a
// clear message, when their topic or queue cannot be reached.
func testStartupErrors(t *testing.T, srv *moto.Server) {
	s := newStack(t, srv, 10, 5)
	dead := fmt.Sprintf("http://127.0.0.1:%d", moto.FreePort(t))
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"serve, no such topic", []string{"serve", "--topic-arn", s.topicARN + "-missing"}, 1, "cannot be reached"},
		{"serve, endpoint down", []string{"serve", "--topic-arn", s.topicARN, "--endpoint-url", dead}, 1, "cannot be reached at " + dead},
		{"serve, not an ARN", []string{"serve", "--topic-arn", "orders"}, 2, "want arn:"},
		{"serve, endpoint without topic", []string{"serve", "--endpoint-url", srv.Endpoint}, 2, "needs --topic-arn"},
		{"worker, no such queue", []string{"worker", "--queue-url", s.queueURL + "-missing"}, 1, "not reachable"},
		{"worker, endpoint down", []string{"worker", "--queue-url", s.queueURL, "--endpoint-url", dead}, 1, "not reachable"},
		{"worker, no queue URL", []string{"worker"}, 2, "--queue-url is required"},
		{"queue depth, no such queue", []string{"queue", "depth", "--queue-url", s.queueURL + "-missing"}, 1, "NonExistentQueue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, append(tt.args, "--addr", fmt.Sprintf("127.0.0.1:%d", moto.FreePort(t)))...)
			if tt.args[0] == "queue" {
				cmd = exec.CommandContext(ctx, binary, tt.args...)
			}
			cmd.Env = env(srv)
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != tt.code || !strings.Contains(string(out), tt.want) {
				t.Errorf("exit %d, output %q; want exit %d mentioning %q", code, out, tt.code, tt.want)
			}
		})
	}
}

// testQueueDepth: flashsale queue depth prints the approximate counts,
// once or every interval.
func testQueueDepth(t *testing.T, srv *moto.Server) {
	s := newStack(t, srv, 30, 5)
	s.publish(t, newOrders(t, 3)...)
	// Take one message in flight.
	if _, err := s.sqs.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{QueueUrl: aws.String(s.queueURL), MaxNumberOfMessages: 1}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		cmd := exec.Command(binary, append([]string{"queue", "depth", "--queue-url", s.queueURL}, args...)...)
		cmd.Env = env(srv)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("queue depth %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	table := strings.Fields(strings.Split(strings.TrimSpace(run()), "\n")[1])
	if len(table) != 4 || table[1] != "2" || table[2] != "1" || table[3] != "0" {
		t.Errorf("queue depth row %q, want visible 2, not_visible 1, delayed 0", table)
	}
	lines := strings.Split(strings.TrimSpace(run("--json", "--interval", "100ms", "--count", "3", "--endpoint-url", srv.Endpoint)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d JSON lines, want 3: %q", len(lines), lines)
	}
	for _, l := range lines {
		var got struct {
			Time                         time.Time
			Visible, NotVisible, Delayed int
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(l), &raw); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		_ = json.Unmarshal([]byte(l), &got)
		if raw["visible"] != 2.0 || raw["not_visible"] != 1.0 || raw["delayed"] != 0.0 || raw["time"] == nil {
			t.Errorf("line %q, want visible 2, not_visible 1, delayed 0 and a time", l)
		}
	}
}
