package workerservice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"flashsale/internal/order"
	"flashsale/internal/orderstore/dynamostore"
	"flashsale/internal/testutil/moto"
)

// testExactlyOnce: serve --topic-arn and two workers share the orders
// table; 500 orders are posted, each then sent twice more straight to the
// queue, and one worker is SIGKILLed in the middle of its payments.
// Afterwards every order is completed in the table, none is left
// processing, and each was charged exactly once. The charges are counted
// in the simulated provider's books (one line per charge, appended
// atomically, shared by the workers through --payment-books): the record
// a kill cannot split. The workers' logs agree: at most one "order paid"
// record per order says charged, and a worker that took an order over from
// the killed one after its charge logs charged=false (the provider
// answered from the idempotency key).
func testExactlyOnce(t *testing.T, srv *moto.Server) {
	const orders, dupes = 500, 2
	// A visibility timeout moto can keep up with under this load (the
	// extensions get a third of it); the claims last as long.
	s := newStack(t, srv, 10, 20)
	table := "orders-exactly-once"
	ctx := context.Background()
	ddb := dynamodb.NewFromConfig(srv.Config(t))
	if err := dynamostore.CreateTable(ctx, ddb, table); err != nil {
		t.Fatal(err)
	}
	booksFile := filepath.Join(t.TempDir(), "payment-books")
	api := start(t, srv, "serve", "serve", "--topic-arn", s.topicARN, "--orders-table", table, "--log-level", "warn")
	workerArgs := []string{"--orders-table", table, "--payment-books", booksFile, "--workers", "10", "--payment-delay", "300ms"}
	w1 := startWorker(t, s, "worker-1", workerArgs...)
	w2 := startWorker(t, s, "worker-2", workerArgs...)

	// Orders are posted while the workers run (moto's SQS slows down with
	// the length of a queue: a preloaded 1,500 messages would take it
	// minutes). Each accepted order is read back at once with GET, which
	// finds it, and sent twice more straight to the queue with the body
	// the API recorded, as SQS redelivery or a retrying client would.
	begin := time.Now()
	posted := make(chan []string, 1)
	go func() {
		posted <- postOrdersThen(t, api, orders, 10, func(id string) {
			body, err := orderBody(api, id)
			if err != nil {
				t.Error(err)
				return
			}
			s.sendCopies(t, body, dupes)
		})
	}()

	// SIGKILL worker-1 in the middle of its payments.
	var before map[string]float64
	eventually(t, 120*time.Second, func() (bool, string) {
		before = w1.metrics()
		return before[completed] >= 50 && before[inFlight] > 0, fmt.Sprintf("worker-1 completed %v, in flight %v", before[completed], before[inFlight])
	})
	w1.signal(syscall.SIGKILL)
	w1.wait(5 * time.Second)
	ids := <-posted
	t.Logf("posted %d orders and sent %d copies in %v", len(ids), len(ids)*dupes, time.Since(begin).Round(time.Millisecond))
	if len(ids) != orders {
		t.FailNow()
	}

	// worker-2 finishes: every order completed, every message deleted.
	store, err := dynamostore.New(ddb, dynamostore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	poll(t, 180*time.Second, time.Second, func() (bool, string) {
		c := s.counts(t, s.queueURL)
		return c.Total() == 0, fmt.Sprintf("queue %+v, worker-2 completed %v", c, w2.metrics()[completed])
	})
	statuses := map[order.Status]int{}
	attempts := 0
	for _, id := range ids {
		rec, err := store.Get(ctx, id)
		if err != nil {
			t.Fatalf("order %s: %v", id, err)
		}
		statuses[rec.Status()]++
		if rec.Status() != order.StatusCompleted || rec.PaidAt.IsZero() {
			t.Errorf("order %s: %s (holder %s, %d attempts), want completed", id, rec.Status(), rec.Holder, rec.Attempts)
		}
		attempts += rec.Attempts
	}

	charges, charged := chargesIn(t, booksFile)
	logged := map[string]map[string]int{} // order -> charged|replayed -> records, both workers
	for _, w := range []*proc{w1, w2} {
		for _, r := range w.records() {
			if r["msg"] != "order paid" {
				continue
			}
			id, _ := r["order_id"].(string)
			if logged[id] == nil {
				logged[id] = map[string]int{}
			}
			logged[id][strconv.FormatBool(r["charged"] == true)]++
		}
	}
	replays := 0
	for _, id := range ids {
		if charges[id] != 1 {
			t.Errorf("order %s charged %d times in the provider's books, want 1", id, charges[id])
		}
		if n := logged[id]["true"]; n > 1 {
			t.Errorf("order %s: %d charged payment records in the workers' logs, want at most 1", id, n)
		}
		replays += logged[id]["false"]
	}
	if len(charges) != orders {
		t.Errorf("the books hold %d orders, want %d", len(charges), orders)
	}
	m := w2.metrics()
	t.Logf("%d orders (+%d duplicates each): worker-1 killed with %v paid and %v in flight; store %v; %d charges in the books "+
		"(max 1 per order); %d claims in all (%.2f per order); %d payments answered from the idempotency key; worker-2 skipped %v duplicates",
		orders, dupes, before[completed], before[inFlight], statuses, charged, attempts, float64(attempts)/orders, replays, m[dups])
	if c := s.counts(t, s.dlqURL); c.Total() != 0 {
		t.Errorf("dead-letter queue holds %+v, want nothing", c)
	}
}

// orderBody is the order as GET /orders/{id} of the API returns it (right
// after its 202: pending), as a message body.
func orderBody(api *proc, id string) (string, error) {
	resp, err := http.Get("http://" + api.addr + "/orders/" + id)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var st struct {
		OrderID    string       `json:"order_id"`
		CustomerID int64        `json:"customer_id"`
		Items      []order.Item `json:"items"`
		Status     order.Status `json:"status"`
		CreatedAt  time.Time    `json:"created_at"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK || st.OrderID != id {
		return "", fmt.Errorf("GET /orders/%s right after its 202: %s %+v %v", id, resp.Status, st, err)
	}
	b, err := order.Marshal(order.Order{ID: st.OrderID, CustomerID: st.CustomerID, Items: st.Items,
		Status: order.StatusPending, CreatedAt: st.CreatedAt})
	return string(b), err
}

// sendCopies sends body n times straight to the orders queue.
func (s *stack) sendCopies(t *testing.T, body string, n int) {
	entries := make([]sqstypes.SendMessageBatchRequestEntry, n)
	for i := range entries {
		entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(body)}
	}
	out, err := s.sqs.SendMessageBatch(context.Background(), &awssqs.SendMessageBatchInput{QueueUrl: aws.String(s.queueURL), Entries: entries})
	if err != nil || len(out.Failed) > 0 {
		t.Errorf("send copies: %v %v", err, out)
	}
}
