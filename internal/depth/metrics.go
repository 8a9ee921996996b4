package depth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metric names read from a flashsale server's GET /metrics.
const (
	MetricQueueDepth = "flashsale_queue_depth"
	MetricPayments   = "flashsale_payments_total"
	MetricInFlight   = "flashsale_payments_in_flight"
	MetricAccepted   = "flashsale_orders_accepted_total"
)

// ErrNoDepth is returned when the metrics have no usable queue depth: the
// gauge is missing (a server without a queue) or negative (the server could
// not read its external queue).
var ErrNoDepth = errors.New("no queue depth in the metrics")

// Snapshot is what one scrape of a flashsale server's metrics says.
type Snapshot struct {
	// Depth is flashsale_queue_depth.
	Depth float64
	// Payments is flashsale_payments_total by its result label
	// (completed, declined, timeout).
	Payments map[string]float64
	// InFlight is flashsale_payments_in_flight; -1 when absent.
	InFlight float64
	// Accepted is flashsale_orders_accepted_total by its path label
	// (sync, async).
	Accepted map[string]float64
}

// Processed is the payments finished, whatever their result.
func (s Snapshot) Processed() float64 {
	var n float64
	for _, v := range s.Payments {
		n += v
	}
	return n
}

// Metrics reads a flashsale server's Prometheus metrics over HTTP. It
// implements queue.DepthReader and Reader.
type Metrics struct {
	url    string
	client *http.Client
}

// NewMetrics returns a source reading url (such as
// http://127.0.0.1:8080/metrics) with client (http.DefaultClient when nil).
func NewMetrics(url string, client *http.Client) *Metrics {
	if client == nil {
		client = http.DefaultClient
	}
	return &Metrics{url: url, client: client}
}

// MetricsURL is the metrics endpoint of a server at base.
func MetricsURL(base string) string { return strings.TrimRight(base, "/") + "/metrics" }

// Depth implements queue.DepthReader.
func (m *Metrics) Depth(ctx context.Context) (int, error) {
	s, err := m.Scrape(ctx)
	if err != nil {
		return 0, err
	}
	return int(math.Round(s.Depth)), nil
}

// Read implements Reader.
func (m *Metrics) Read(ctx context.Context) (Reading, error) {
	s, err := m.Scrape(ctx)
	if err != nil {
		return Reading{}, err
	}
	r := Reading{Depth: int(math.Round(s.Depth)), Processed: int64(math.Round(s.Processed())), InFlight: -1}
	if s.InFlight >= 0 {
		r.InFlight = int(math.Round(s.InFlight))
	}
	return r, nil
}

// Scrape fetches and parses the metrics once.
func (m *Metrics) Scrape(ctx context.Context) (Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return Snapshot{}, fmt.Errorf("metrics request: %w", err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := m.client.Do(req)
	if err != nil {
		return Snapshot{}, fmt.Errorf("scrape %s: %w", m.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return Snapshot{}, fmt.Errorf("scrape %s: HTTP %d", m.url, resp.StatusCode)
	}
	return ParseMetrics(resp.Body)
}

// ParseMetrics reads a flashsale snapshot from metrics in the Prometheus
// text format. It fails with ErrNoDepth when the depth gauge is missing or
// negative.
func ParseMetrics(r io.Reader) (Snapshot, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Snapshot{}, fmt.Errorf("parse metrics: %w", err)
	}
	s := Snapshot{
		Payments: byLabel(families[MetricPayments], "result"),
		Accepted: byLabel(families[MetricAccepted], "path"),
		InFlight: -1,
	}
	if v, ok := single(families[MetricInFlight]); ok {
		s.InFlight = v
	}
	depth, ok := single(families[MetricQueueDepth])
	switch {
	case !ok:
		return s, fmt.Errorf("%w: %s is missing", ErrNoDepth, MetricQueueDepth)
	case depth < 0 || math.IsNaN(depth):
		return s, fmt.Errorf("%w: %s is %v (the server could not read its queue)", ErrNoDepth, MetricQueueDepth, depth)
	}
	s.Depth = depth
	return s, nil
}

// value is the number of a gauge, counter or untyped metric.
func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

// single is the value of a family's only (or first) series.
func single(f *dto.MetricFamily) (float64, bool) {
	if f == nil || len(f.GetMetric()) == 0 {
		return 0, false
	}
	return value(f.GetMetric()[0]), true
}

// byLabel sums a family's series by the value of one label.
func byLabel(f *dto.MetricFamily, label string) map[string]float64 {
	out := map[string]float64{}
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		key := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				key = l.GetValue()
			}
		}
		out[key] += value(m)
	}
	return out
}
