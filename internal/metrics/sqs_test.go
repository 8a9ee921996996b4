package metrics_test

import (
	"context"
	"errors"
	"maps"
	"sort"
	"strings"
	"testing"

	"flashsale/internal/metrics"
)

// gather returns the value of every series whose name starts with one of
// prefixes, keyed `name{label="value",...}` as in the text format.
func gather(t *testing.T, m *metrics.Metrics, prefixes ...string) map[string]float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if !hasPrefix(f.GetName(), prefixes) {
			continue
		}
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			sort.Strings(labels)
			key := f.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case s.Counter != nil:
				out[key] = s.Counter.GetValue()
			case s.Gauge != nil:
				out[key] = s.Gauge.GetValue()
			}
		}
	}
	return out
}

func hasPrefix(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func TestSQSCounters(t *testing.T) {
	m := metrics.New()
	s := m.SQS()
	s.Received(10)
	s.Received(0)
	s.ReceiveFailed()
	s.Deleted(9, 1)
	s.Deleted(3, 0)
	s.VisibilityChanged("extend", 4, 0)
	s.VisibilityChanged("release", 1, 2)
	s.Held(7)
	want := map[string]float64{
		`flashsale_sqs_deletes_total{result="failed"}`:                         1,
		`flashsale_sqs_deletes_total{result="ok"}`:                             12,
		`flashsale_sqs_messages_held`:                                          7,
		`flashsale_sqs_messages_received_total`:                                10,
		`flashsale_sqs_receive_errors_total`:                                   1,
		`flashsale_sqs_visibility_changes_total{op="extend",result="failed"}`:  0,
		`flashsale_sqs_visibility_changes_total{op="extend",result="ok"}`:      4,
		`flashsale_sqs_visibility_changes_total{op="release",result="failed"}`: 2,
		`flashsale_sqs_visibility_changes_total{op="release",result="ok"}`:     1,
	}
	if got := gather(t, m, "flashsale_sqs_"); !maps.Equal(got, want) {
		t.Errorf("metrics\n got %v\nwant %v", got, want)
	}
}

// TestSQSQueue: one read per scrape gives the depth and the three states;
// a failed read gives a depth of -1 and no states.
func TestSQSQueue(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want map[string]float64
	}{
		{"read", nil, map[string]float64{
			"flashsale_queue_depth":                                   12,
			`flashsale_sqs_approximate_messages{state="visible"}`:     12,
			`flashsale_sqs_approximate_messages{state="not_visible"}`: 5,
			`flashsale_sqs_approximate_messages{state="delayed"}`:     1,
		}},
		{"failed", errors.New("unreachable"), map[string]float64{"flashsale_queue_depth": -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New()
			reads := 0
			m.SQSQueue(func(ctx context.Context) (metrics.QueueCounts, error) {
				reads++
				if _, ok := ctx.Deadline(); !ok {
					t.Error("read without a deadline")
				}
				return metrics.QueueCounts{Visible: 12, NotVisible: 5, Delayed: 1}, tt.err
			})
			if got := gather(t, m, "flashsale_queue_depth", "flashsale_sqs_approximate"); !maps.Equal(got, tt.want) {
				t.Errorf("metrics\n got %v\nwant %v", got, tt.want)
			}
			if reads != 1 {
				t.Errorf("%d reads for one scrape, want 1", reads)
			}
		})
	}
}
