package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SQS are the metrics of the worker service's SQS consumer. It implements
// the Observer of internal/queue/sqs.
type SQS struct {
	received      prometheus.Counter
	receiveErrors prometheus.Counter
	deletes       *prometheus.CounterVec
	visibility    *prometheus.CounterVec
	held          prometheus.Gauge
}

// SQS registers the metrics of an SQS consumer and returns them. Call it
// once per Metrics.
func (m *Metrics) SQS() *SQS {
	s := &SQS{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flashsale_sqs_messages_received_total",
			Help: "Messages received from SQS (each delivery of a message counts).",
		}),
		receiveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flashsale_sqs_receive_errors_total",
			Help: "ReceiveMessage calls that failed (retried with backoff).",
		}),
		deletes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashsale_sqs_deletes_total",
			Help: "Messages deleted after their processing (ok), or whose delete failed (failed: the message comes back and is recognised as a duplicate).",
		}, []string{"result"}),
		visibility: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashsale_sqs_visibility_changes_total",
			Help: "Visibility changes by operation (extend: a message held in the process; release: a message given back) and result.",
		}, []string{"op", "result"}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flashsale_sqs_messages_held",
			Help: "Messages held in the process: buffered, being processed or being settled.",
		}),
	}
	m.reg.MustRegister(s.received, s.receiveErrors, s.deletes, s.visibility, s.held)
	for _, r := range []string{"ok", "failed"} {
		s.deletes.WithLabelValues(r)
		for _, op := range []string{"extend", "release"} {
			s.visibility.WithLabelValues(op, r)
		}
	}
	return s
}

// Received counts the messages of one ReceiveMessage.
func (s *SQS) Received(n int) { s.received.Add(float64(n)) }

// ReceiveFailed counts a failed ReceiveMessage.
func (s *SQS) ReceiveFailed() { s.receiveErrors.Inc() }

// Deleted counts the entries of one DeleteMessageBatch.
func (s *SQS) Deleted(ok, failed int) {
	s.deletes.WithLabelValues("ok").Add(float64(ok))
	s.deletes.WithLabelValues("failed").Add(float64(failed))
}

// VisibilityChanged counts the entries of one ChangeMessageVisibilityBatch.
func (s *SQS) VisibilityChanged(op string, ok, failed int) {
	s.visibility.WithLabelValues(op, "ok").Add(float64(ok))
	s.visibility.WithLabelValues(op, "failed").Add(float64(failed))
}

// Held sets the number of messages held in the process.
func (s *SQS) Held(n int) { s.held.Set(float64(n)) }

// QueueCounts are the approximate message counts of an SQS queue.
type QueueCounts struct {
	Visible, NotVisible, Delayed int
}

// SQSQueue registers flashsale_queue_depth (the visible messages, the same
// metric as the in-process queue's depth) and
// flashsale_sqs_approximate_messages by state, all read with one call of
// read at each scrape. When read fails, the depth is -1 and the states are
// left out.
func (m *Metrics) SQSQueue(read func(context.Context) (QueueCounts, error)) {
	m.reg.MustRegister(&queueCollector{
		read:  read,
		depth: prometheus.NewDesc("flashsale_queue_depth", "Orders waiting in the queue.", nil, nil),
		state: prometheus.NewDesc("flashsale_sqs_approximate_messages",
			"SQS's approximate message counts of the queue, by state: visible, not_visible (in flight), delayed.",
			[]string{"state"}, nil),
	})
}

type queueCollector struct {
	read         func(context.Context) (QueueCounts, error)
	depth, state *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.state
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, -1)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(q.Visible))
	ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, float64(q.Visible), "visible")
	ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, float64(q.NotVisible), "not_visible")
	ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, float64(q.Delayed), "delayed")
}
