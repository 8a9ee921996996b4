// Package workerservice_test runs the worker service as users do: the
// flashsale binary, built by the test, as `serve --topic-arn` and `worker`
// processes against a moto_server started on a free loopback port, with a
// topic, an SQS queue subscribed to it (raw delivery) and a dead-letter
// queue. The tests kill, terminate and restart those processes and check the
// queues and the processes' metrics and logs.
package workerservice_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"flashsale/internal/order"
	"flashsale/internal/payment/books"
	"flashsale/internal/queue/queuetest"
	"flashsale/internal/queue/sns"
	"flashsale/internal/queue/sqs"
	"flashsale/internal/testutil/emfschema"
	"flashsale/internal/testutil/moto"
	"flashsale/internal/testutil/syncbuf"
)

// binary is the flashsale binary, built by buildBinary in a directory that
// TestMain removes.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flashsale-worker-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "flashsale")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildOut  []byte
	buildErr  error
)

// buildBinary builds the flashsale binary once, when a test first needs it
// (not when moto_server is missing and the tests skip).
func buildBinary(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		buildOut, buildErr = exec.Command("go", "build", "-o", binary, "flashsale/cmd/flashsale").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build flashsale: %v\n%s", buildErr, buildOut)
	}
}

// stack is a topic, the orders queue subscribed to it with raw message
// delivery, and the queue's dead-letter queue, on a moto_server.
type stack struct {
	srv      *moto.Server
	sns      *awssns.Client
	sqs      *awssqs.Client
	topicARN string
	queueURL string
	dlqURL   string
}

// newStack creates the resources named after the test, with the orders
// queue's visibility timeout and the redrive policy's maxReceiveCount.
func newStack(t *testing.T, srv *moto.Server, visibility, maxReceives int) *stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := srv.Config(t)
	s := &stack{srv: srv, sns: awssns.NewFromConfig(cfg), sqs: awssqs.NewFromConfig(cfg)}
	name := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	topic, err := s.sns.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	s.topicARN = aws.ToString(topic.TopicArn)
	dlq, err := s.sqs.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		t.Fatalf("create dead-letter queue: %v", err)
	}
	s.dlqURL = aws.ToString(dlq.QueueUrl)
	redrive, _ := json.Marshal(map[string]string{
		"deadLetterTargetArn": s.queueARN(t, s.dlqURL),
		"maxReceiveCount":     strconv.Itoa(maxReceives),
	})
	q, err := s.sqs.CreateQueue(ctx, &awssqs.CreateQueueInput{
		QueueName: aws.String(name),
		Attributes: map[string]string{
			string(sqstypes.QueueAttributeNameVisibilityTimeout): strconv.Itoa(visibility),
			string(sqstypes.QueueAttributeNameRedrivePolicy):     string(redrive),
		},
	})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	s.queueURL = aws.ToString(q.QueueUrl)
	if _, err := s.sns.Subscribe(ctx, &awssns.SubscribeInput{
		TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(s.queueARN(t, s.queueURL)),
		Attributes: map[string]string{"RawMessageDelivery": "true"},
	}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return s
}

func (s *stack) queueARN(t *testing.T, url string) string {
	t.Helper()
	out, err := s.sqs.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("queue ARN of %s: %v", url, err)
	}
	return out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
}

func (s *stack) counts(t *testing.T, url string) sqs.Counts {
	t.Helper()
	g, err := sqs.NewGauge(s.sqs, url)
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.Counts(context.Background())
	if err != nil {
		t.Fatalf("counts of %s: %v", url, err)
	}
	return c
}

// publish publishes orders to the topic with the SNS publisher, the way
// serve --topic-arn does, and returns their IDs.
func (s *stack) publish(t *testing.T, orders ...order.Order) []string {
	t.Helper()
	pub, err := sns.New(s.sns, s.topicARN)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(orders))
	for i, o := range orders {
		if err := pub.Publish(context.Background(), o); err != nil {
			t.Fatalf("publish: %v", err)
		}
		ids[i] = o.ID
	}
	return ids
}

func newOrders(t *testing.T, n int) []order.Order {
	t.Helper()
	out := make([]order.Order, n)
	for i := range out {
		out[i] = queuetest.NewOrder(t, int64(i+1))
	}
	return out
}

// drain receives and deletes every visible message of url, returning the
// bodies, until a receive finds none.
func (s *stack) drain(t *testing.T, url string) []string {
	t.Helper()
	var bodies []string
	for {
		out, err := s.sqs.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
		})
		if err != nil {
			t.Fatalf("receive from %s: %v", url, err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if _, err := s.sqs.DeleteMessage(context.Background(), &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}
	}
}

// proc is a flashsale process.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	addr string // its HTTP address
	out  *syncbuf.Buffer
	done chan struct{}
	err  error // after done
}

// env is the environment of a flashsale process: the moto_server's
// endpoint and dummy credentials, nothing from the host's AWS settings.
func env(srv *moto.Server) []string {
	var e []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			e = append(e, kv)
		}
	}
	return append(e, append(srv.Env(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")...)
}

// start runs flashsale with args plus --addr on a free port and waits for
// its /health. The process is killed at the end of the test if it still
// runs; its output is logged when the test fails.
func start(t *testing.T, srv *moto.Server, name string, args ...string) *proc {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", moto.FreePort(t))
	p := &proc{t: t, name: name, addr: addr, out: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, append(args, "--addr", addr)...)
	p.cmd.Env = env(srv)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, tail(p.out.String(), 60))
		}
	})
	eventually(t, 20*time.Second, func() (bool, string) {
		select {
		case <-p.done:
			t.Fatalf("%s exited at start: %v\n%s", name, p.err, p.out.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/health")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return p
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = append([]string{fmt.Sprintf("... (%d lines before)", len(l)-lines)}, l[len(l)-lines:]...)
	}
	return strings.Join(l, "\n")
}

// startWorker starts `flashsale worker` with JSON logs at debug level (one
// record per paid order) and checks its startup record.
func startWorker(t *testing.T, s *stack, name string, args ...string) *proc {
	t.Helper()
	args = append([]string{"worker", "--queue-url", s.queueURL, "--log-format", "json", "--log-level", "debug"}, args...)
	p := start(t, s.srv, name, args...)
	eventually(t, 5*time.Second, func() (bool, string) {
		r := p.record("worker service ready")
		if r == nil {
			return false, "no startup record"
		}
		initMS, ok := r["init_ms"].(float64)
		if r["cold_start"] != true || !ok || initMS <= 0 || initMS > 10_000 || r["function"] != "flashsale-worker" {
			t.Fatalf("startup record %v: want cold_start true, 0 < init_ms < 10000 and function flashsale-worker", r)
		}
		// Its EMF record (on stdout), valid by the specification, with the
		// same init and instance: the analysis counts the two as one start.
		emfs := emfschema.Records(t, []byte(p.out.String()))
		if len(emfs) == 0 {
			return false, "no EMF start-up record"
		}
		if len(emfs) != 1 || emfs[0]["InitDuration"] != initMS || emfs[0]["ColdStart"] != 1.0 ||
			emfs[0]["function"] != "flashsale-worker" || emfs[0]["instance"] != r["instance"] {
			t.Fatalf("EMF records %v: want one start-up record matching %v", emfs, r)
		}
		return true, ""
	})
	return p
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %s: %v", p.name, err)
	}
}

// wait waits for the process to exit and returns its exit code (-1 when it
// was killed by a signal).
func (p *proc) wait(within time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		p.t.Fatalf("%s still running after %v", p.name, within)
	}
	return p.cmd.ProcessState.ExitCode()
}

// records are the JSON log records of the process.
func (p *proc) records() []map[string]any { return logRecords(p.out.String()) }

// record is the last record with this message, or nil.
func (p *proc) record(msg string) map[string]any { return lastRecord(p.records(), msg) }

// paid counts the orders the process logged as paid, by order ID.
func (p *proc) paid() map[string]int {
	paid, _ := paidIn(p.records())
	return paid
}

// logRecords are the lines of a worker's output that are JSON objects.
func logRecords(out string) []map[string]any {
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r map[string]any
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			recs = append(recs, r)
		}
	}
	return recs
}

// lastRecord is the last of recs with this message, or nil.
func lastRecord(recs []map[string]any, msg string) map[string]any {
	var last map[string]any
	for _, r := range recs {
		if r["msg"] == msg {
			last = r
		}
	}
	return last
}

// paidIn counts the "order paid" records of recs by order ID, and those of
// them the provider charged (not answered from the idempotency key).
func paidIn(recs []map[string]any) (paid, charged map[string]int) {
	paid, charged = map[string]int{}, map[string]int{}
	for _, r := range recs {
		if r["msg"] == "order paid" {
			id, _ := r["order_id"].(string)
			paid[id]++
			if r["charged"] != false {
				charged[id]++
			}
		}
	}
	return paid, charged
}

// drainIDs drains the queue at url and returns the IDs of the orders its
// messages carried.
func (s *stack) drainIDs(t *testing.T, url string) []string {
	t.Helper()
	var ids []string
	for _, b := range s.drain(t, url) {
		o, err := order.Unmarshal([]byte(b))
		if err != nil {
			t.Fatalf("queued body %q: %v", b, err)
		}
		ids = append(ids, o.ID)
	}
	return ids
}

// chargesIn counts the charges of each order in a payment books file, and
// all of them.
func chargesIn(t *testing.T, path string) (map[string]int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := books.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	charges := map[string]int{}
	for _, e := range entries {
		charges[e.Key]++
	}
	return charges, len(entries)
}

// metrics scrapes the process's /metrics: value by series, with labels as
// written (`flashsale_payments_total{result="completed"}`).
func (p *proc) metrics() map[string]float64 {
	p.t.Helper()
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		p.t.Fatalf("scrape %s: %v", p.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("scrape %s: %v", p.name, err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

const (
	completed = `flashsale_payments_total{result="completed"}`
	inFlight  = "flashsale_payments_in_flight"
	dups      = "flashsale_duplicates_total"
	poison    = "flashsale_poison_messages_total"
	deletedOK = `flashsale_sqs_deletes_total{result="ok"}`
	received  = "flashsale_sqs_messages_received_total"
)

// eventually polls cond every 50ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	poll(t, within, 50*time.Millisecond, cond)
}

// poll checks cond every interval until it holds or within passes. Each
// scrape of a worker's /metrics reads the queue's attributes, which costs
// moto_server a scan of the whole queue: poll big queues slowly.
func poll(t *testing.T, within, interval time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	var why string
	for {
		var ok bool
		if ok, why = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %v: %s", within, why)
		}
		time.Sleep(interval)
	}
}
