package serverless

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"flashsale/internal/emf"
)

// The cold-start metrics: CloudWatch Embedded Metric Format records that the
// Lambda functions write to standard output once per invocation, and the
// worker service once at start-up. CloudWatch Logs extracts the metrics from
// them (no API call, no permission beyond writing logs); the cold-start
// analyser reads them too. The dashboard and alarms refer to these names.
const (
	// MetricsNamespace is the CloudWatch namespace of the metrics.
	MetricsNamespace = "flashsale"
	// DimensionFunction is the one dimension: the function's (or the
	// service's) name.
	DimensionFunction = FieldFunction
	// MetricColdStart is 1 on a cold start (the first invocation of an
	// execution environment, or a service start), 0 on a warm invocation:
	// its Sum counts cold starts, its SampleCount invocations and its
	// Average is the cold-start share. Unit Count.
	MetricColdStart = "ColdStart"
	// MetricInitDuration is the time from process start to the first
	// invocation (a service: to ready), on cold starts only: the init_ms of
	// the logs. Unit Milliseconds.
	MetricInitDuration = "InitDuration"
	// MetricPaymentDuration is the duration of each payment an invocation
	// ran (paid or declined; not duplicates skipped). Unit Milliseconds.
	MetricPaymentDuration = "PaymentDuration"
	// FieldInstance names a service process in its start-up log record and
	// its start-up metrics record, which the analyser counts as one start.
	FieldInstance = "instance"
)

// FunctionName is the Lambda function's name (AWS_LAMBDA_FUNCTION_NAME), or
// fallback outside Lambda.
func FunctionName(fallback string) string {
	if lambdacontext.FunctionName != "" {
		return lambdacontext.FunctionName
	}
	return fallback
}

// Metrics writes the cold-start metrics of one function or service as EMF
// records. A nil *Metrics writes nothing. It is safe for concurrent use.
type Metrics struct {
	w        *emf.Writer
	function string
	now      func() time.Time
}

// NewMetrics returns Metrics for the function (or service) named function,
// writing one line per record to w: os.Stdout in Lambda, whose lines
// CloudWatch Logs reads as they are. now is the clock (time.Now when nil).
func NewMetrics(w io.Writer, function string, now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	return &Metrics{w: emf.NewWriter(w), function: function, now: now}
}

func (m *Metrics) record(metrics []emf.Metric, props map[string]any) emf.Record {
	return emf.Record{
		Namespace:       MetricsNamespace,
		Time:            m.now(),
		Dimensions:      [][]string{{DimensionFunction}},
		DimensionValues: map[string]string{DimensionFunction: m.function},
		Metrics:         metrics,
		Properties:      props,
	}
}

// Invocation writes the record of one Lambda invocation: ColdStart,
// InitDuration on a cold start, and PaymentDuration when payments ran,
// with the invocation's request_id (from ctx) as a property. More than
// emf.MaxValues payments take more than one record; only the first carries
// ColdStart and InitDuration.
func (m *Metrics) Invocation(ctx context.Context, inv Invocation, payments []time.Duration) error {
	if m == nil {
		return nil
	}
	props := map[string]any{}
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		props[FieldRequestID] = lc.AwsRequestID
	}
	cold := 0.0
	if inv.Cold {
		cold = 1
	}
	metrics := []emf.Metric{{Name: MetricColdStart, Unit: emf.Count, Values: []float64{cold}}}
	if inv.Cold {
		metrics = append(metrics, emf.Metric{Name: MetricInitDuration, Unit: emf.Milliseconds, Values: []float64{ms(inv.Init)}})
	}
	for first := true; first || len(payments) > 0; first = false {
		n := min(len(payments), emf.MaxValues)
		if n > 0 {
			values := make([]float64, n)
			for i, d := range payments[:n] {
				values[i] = ms(d)
			}
			metrics = append(metrics, emf.Metric{Name: MetricPaymentDuration, Unit: emf.Milliseconds, Values: values})
			payments = payments[n:]
		}
		if err := m.w.Write(m.record(metrics, props)); err != nil {
			return fmt.Errorf("cold-start metrics: %w", err)
		}
		metrics = nil
	}
	return nil
}

// ServiceStart writes the start-up record of a long-running service:
// ColdStart 1 and InitDuration (process start to ready), with instance, the
// process's name in its claims, as a property.
func (m *Metrics) ServiceStart(init time.Duration, instance string) error {
	if m == nil {
		return nil
	}
	props := map[string]any{}
	if instance != "" {
		props[FieldInstance] = instance
	}
	r := m.record([]emf.Metric{
		{Name: MetricColdStart, Unit: emf.Count, Values: []float64{1}},
		{Name: MetricInitDuration, Unit: emf.Milliseconds, Values: []float64{ms(init)}},
	}, props)
	if err := m.w.Write(r); err != nil {
		return fmt.Errorf("start-up metrics: %w", err)
	}
	return nil
}
