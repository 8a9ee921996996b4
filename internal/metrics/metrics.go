// Package metrics exports flashsale's metrics in the Prometheus format with
// prometheus/client_golang. It implements the observer interfaces of
// httpapi, payment and worker. Only long-running binaries import it: the
// Lambda functions never do.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"flashsale/internal/payment"
)

// Metrics holds every flashsale metric, registered in its own registry.
type Metrics struct {
	reg *prometheus.Registry

	accepted   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	payments   *prometheus.CounterVec
	inFlight   prometheus.Gauge
	workers    prometheus.Gauge
	duplicates prometheus.Counter
	poison     prometheus.Counter
	requests   *prometheus.HistogramVec
	paymentDur *prometheus.HistogramVec
}

// New returns the metrics, registered in a fresh registry along with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashsale_orders_accepted_total",
			Help: "Orders accepted, by path: sync (validated, payment started) or async (durably enqueued).",
		}, []string{"path"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashsale_orders_rejected_total",
			Help: "Requests rejected without any other effect, by reason.",
		}, []string{"reason"}),
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashsale_payments_total",
			Help: "Payments finished, by result: completed, declined or timeout.",
		}, []string{"result"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flashsale_payments_in_flight",
			Help: "Payments running now.",
		}),
		workers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flashsale_workers",
			Help: "Worker goroutines draining the queue.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flashsale_duplicates_total",
			Help: "Deliveries of orders already paid, acknowledged without paying again.",
		}),
		poison: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flashsale_poison_messages_total",
			Help: "Queue messages that are not valid orders, left to the dead-letter handling.",
		}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flashsale_http_request_duration_seconds",
			Help:    "Duration of the requests that were not rejected, by path and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 3, 5, 10, 15, 20, 30, 60},
		}, []string{"path", "code"}),
		paymentDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flashsale_payment_duration_seconds",
			Help:    "Duration of payments, by result.",
			Buckets: []float64{.001, .01, .1, .5, 1, 2, 3, 3.5, 5, 10, 30},
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.accepted, m.rejected, m.payments, m.inFlight, m.workers,
		m.duplicates, m.poison, m.requests, m.paymentDur,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Expose the label values from the start, so that dashboards and the
	// lab read zeros rather than missing series.
	for _, p := range []string{"sync", "async"} {
		m.accepted.WithLabelValues(p)
	}
	for _, r := range []payment.Result{payment.ResultCompleted, payment.ResultDeclined, payment.ResultTimeout} {
		m.payments.WithLabelValues(string(r))
	}
	return m
}

// Registry is where the metrics are registered, for adding more.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// QueueDepth registers flashsale_queue_depth, read from depth at each scrape.
func (m *Metrics) QueueDepth(depth func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "flashsale_queue_depth",
		Help: "Orders waiting in the queue.",
	}, depth))
}

// OrderAccepted implements httpapi.Observer.
func (m *Metrics) OrderAccepted(path string) { m.accepted.WithLabelValues(path).Inc() }

// OrderRejected implements httpapi.Observer.
func (m *Metrics) OrderRejected(reason string) { m.rejected.WithLabelValues(reason).Inc() }

// RequestObserved implements httpapi.Observer.
func (m *Metrics) RequestObserved(path string, code int, d time.Duration) {
	m.requests.WithLabelValues(path, strconv.Itoa(code)).Observe(d.Seconds())
}

// PaymentStarted implements payment.Observer.
func (m *Metrics) PaymentStarted() { m.inFlight.Inc() }

// PaymentFinished implements payment.Observer.
func (m *Metrics) PaymentFinished(r payment.Result, d time.Duration) {
	m.inFlight.Dec()
	m.payments.WithLabelValues(string(r)).Inc()
	m.paymentDur.WithLabelValues(string(r)).Observe(d.Seconds())
}

// SetWorkers implements worker.Observer.
func (m *Metrics) SetWorkers(n int) { m.workers.Set(float64(n)) }

// Duplicate implements worker.Observer.
func (m *Metrics) Duplicate() { m.duplicates.Inc() }

// Poison implements worker.Observer.
func (m *Metrics) Poison() { m.poison.Inc() }
