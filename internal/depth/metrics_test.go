package depth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"flashsale/internal/metrics"
	"flashsale/internal/payment"
	"flashsale/internal/queue"
	"flashsale/internal/queue/sqs"
	"flashsale/internal/testutil/moto"
)

// Both sources are queue.DepthReaders and Readers.
var (
	_ queue.DepthReader = (*Metrics)(nil)
	_ Reader            = (*Metrics)(nil)
	_ queue.DepthReader = (*SQS)(nil)
	_ Reader            = (*SQS)(nil)
)

const exposition = `# HELP flashsale_queue_depth Orders waiting in the queue.
# TYPE flashsale_queue_depth gauge
flashsale_queue_depth 42
# TYPE flashsale_payments_total counter
flashsale_payments_total{result="completed"} 10
flashsale_payments_total{result="declined"} 2
flashsale_payments_total{result="timeout"} 1
# TYPE flashsale_payments_in_flight gauge
flashsale_payments_in_flight 5
# TYPE flashsale_orders_accepted_total counter
flashsale_orders_accepted_total{path="async"} 60
flashsale_orders_accepted_total{path="sync"} 3
`

func TestParseMetrics(t *testing.T) {
	s, err := ParseMetrics(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	if s.Depth != 42 || s.Processed() != 13 || s.InFlight != 5 || s.Payments["declined"] != 2 ||
		s.Accepted["async"] != 60 || s.Accepted["sync"] != 3 {
		t.Errorf("snapshot = %+v", s)
	}
	tests := []struct {
		name, text  string
		wantNoDepth bool
	}{
		{"missing gauge", "# TYPE other gauge\nother 1\n", true},
		{"negative gauge: the server could not read its queue", "flashsale_queue_depth -1\n", true},
		{"garbage", "flashsale_queue_depth{ 1\n", false},
	}
	for _, tt := range tests {
		_, err := ParseMetrics(strings.NewReader(tt.text))
		if err == nil || errors.Is(err, ErrNoDepth) != tt.wantNoDepth {
			t.Errorf("%s: err %v, want ErrNoDepth %v", tt.name, err, tt.wantNoDepth)
		}
	}
	minimal, err := ParseMetrics(strings.NewReader("flashsale_queue_depth 0\n"))
	if err != nil || minimal.InFlight != -1 || minimal.Processed() != 0 {
		t.Errorf("minimal: %+v, %v", minimal, err)
	}
}

// TestMetricsSource reads the real exposition of internal/metrics over
// HTTP on 127.0.0.1, so a renamed metric breaks this test.
func TestMetricsSource(t *testing.T) {
	m := metrics.New()
	depth := 7.0
	m.QueueDepth(func() float64 { return depth })
	m.PaymentStarted()
	m.PaymentStarted()
	m.PaymentFinished(payment.ResultCompleted, 3*time.Second)
	m.OrderAccepted("async")
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	src := NewMetrics(MetricsURL(srv.URL+"/"), nil)
	ctx := context.Background()
	n, err := src.Depth(ctx)
	if err != nil || n != 7 {
		t.Fatalf("Depth = %d, %v; want 7", n, err)
	}
	r, err := src.Read(ctx)
	if err != nil || r.Depth != 7 || r.Processed != 1 || r.InFlight != 1 {
		t.Errorf("Read = %+v, %v; want depth 7, processed 1, in flight 1", r, err)
	}
	snap, err := src.Scrape(ctx)
	if err != nil || snap.Accepted["async"] != 1 {
		t.Errorf("Scrape = %+v, %v", snap, err)
	}
	depth = -1
	if _, err := src.Depth(ctx); !errors.Is(err, ErrNoDepth) {
		t.Errorf("negative depth: err %v, want ErrNoDepth", err)
	}

	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	if _, err := NewMetrics(notFound.URL, nil).Depth(ctx); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("404: err %v", err)
	}
}

// TestSQSSource reads an SQS queue's approximate counts on moto_server.
func TestSQSSource(t *testing.T) {
	srv := moto.Start(t)
	client := awssqs.NewFromConfig(srv.Config(t))
	ctx := context.Background()
	q, err := client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("depth-test")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	gauge, err := sqs.NewGauge(client, *q.QueueUrl)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewSQS(gauge)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := src.Depth(ctx); err != nil || n != 3 {
		t.Fatalf("Depth = %d, %v; want 3", n, err)
	}
	if _, err := client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 60}); err != nil {
		t.Fatal(err)
	}
	r, err := src.Read(ctx)
	if err != nil || r.Depth != 2 || r.InFlight != 1 || r.Processed != -1 {
		t.Errorf("Read = %+v, %v; want depth 2, 1 in flight, processed unknown", r, err)
	}
	missingGauge, _ := sqs.NewGauge(client, strings.Replace(*q.QueueUrl, "depth-test", "no-such-queue", 1))
	missing, _ := NewSQS(missingGauge)
	if _, err := missing.Read(ctx); err == nil {
		t.Error("a missing queue should be an error")
	}
	if _, err := NewSQS(nil); err == nil {
		t.Error("a nil gauge should be an error")
	}
}
