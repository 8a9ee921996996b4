// Package emf writes and checks CloudWatch Embedded Metric Format (EMF)
// records: JSON log lines from which CloudWatch Logs extracts metrics, so
// that a Lambda function or a service publishes metrics without an API call,
// a client or a permission beyond writing its logs.
//
// It follows the published specification ("Specification: Embedded metric
// format", Amazon CloudWatch User Guide,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
// a root object whose "_aws" member holds the Timestamp (milliseconds since
// the epoch) and the CloudWatchMetrics directives (Namespace, Dimensions,
// Metrics), and whose other members are the metric values, the dimension
// values and any other properties. [Record.Encode] and [Validate] enforce the
// specification's rules, including those a JSON schema cannot express
// (every referenced member present at the root, metric values numbers or
// arrays of at most 100 numbers, dimension values strings of at most 1,024
// characters).
//
// The package imports only the standard library: the Lambda functions link
// it, and their bootstrap size is a cold-start cost.
package emf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// Limits of the specification.
const (
	// MaxMetrics is the most metric definitions one directive may hold.
	MaxMetrics = 100
	// MaxDimensions is the most dimension keys one dimension set may hold.
	MaxDimensions = 30
	// MaxValues is the most values an array metric value may hold.
	MaxValues = 100
	// MaxNameLength bounds namespaces and metric names (characters).
	MaxNameLength = 1024
	// MaxDimensionKeyLength bounds dimension keys (characters).
	MaxDimensionKeyLength = 250
	// MaxDimensionValueLength bounds dimension values (characters).
	MaxDimensionValueLength = 1024
	// MaxRecordBytes is the size limit of a CloudWatch Logs event, which an
	// EMF record must fit in.
	MaxRecordBytes = 256 * 1024
)

// AWSKey is the root member that makes a JSON log event an EMF record.
const AWSKey = "_aws"

// Unit is a CloudWatch metric unit.
type Unit string

// The units the specification allows.
const (
	Seconds            Unit = "Seconds"
	Microseconds       Unit = "Microseconds"
	Milliseconds       Unit = "Milliseconds"
	Bytes              Unit = "Bytes"
	Kilobytes          Unit = "Kilobytes"
	Megabytes          Unit = "Megabytes"
	Gigabytes          Unit = "Gigabytes"
	Terabytes          Unit = "Terabytes"
	Bits               Unit = "Bits"
	Kilobits           Unit = "Kilobits"
	Megabits           Unit = "Megabits"
	Gigabits           Unit = "Gigabits"
	Terabits           Unit = "Terabits"
	Percent            Unit = "Percent"
	Count              Unit = "Count"
	BytesPerSecond     Unit = "Bytes/Second"
	KilobytesPerSecond Unit = "Kilobytes/Second"
	MegabytesPerSecond Unit = "Megabytes/Second"
	GigabytesPerSecond Unit = "Gigabytes/Second"
	TerabytesPerSecond Unit = "Terabytes/Second"
	BitsPerSecond      Unit = "Bits/Second"
	KilobitsPerSecond  Unit = "Kilobits/Second"
	MegabitsPerSecond  Unit = "Megabits/Second"
	GigabitsPerSecond  Unit = "Gigabits/Second"
	TerabitsPerSecond  Unit = "Terabits/Second"
	CountPerSecond     Unit = "Count/Second"
	None               Unit = "None"
)

var units = []Unit{
	Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes,
	Bits, Kilobits, Megabits, Gigabits, Terabits, Percent, Count,
	BytesPerSecond, KilobytesPerSecond, MegabytesPerSecond, GigabytesPerSecond, TerabytesPerSecond,
	BitsPerSecond, KilobitsPerSecond, MegabitsPerSecond, GigabitsPerSecond, TerabitsPerSecond,
	CountPerSecond, None,
}

// Valid reports whether u is one of the specification's units.
func (u Unit) Valid() bool { return slices.Contains(units, u) }

// Metric is one metric of a record: its name, unit and one or more values
// (several values of one record are published as one array value).
type Metric struct {
	Name   string
	Unit   Unit // None when empty
	Values []float64
}

// Record is one EMF record: metrics in one namespace, published under each
// of its dimension sets, with their dimension values and other properties.
type Record struct {
	// Namespace is the CloudWatch namespace of the metrics; required.
	Namespace string
	// Time is the metrics' timestamp; required.
	Time time.Time
	// Dimensions holds the dimension sets: each set is a list of keys of
	// DimensionValues, and each set publishes every metric once. No set
	// publishes the metrics without dimensions; an empty set does.
	Dimensions [][]string
	// DimensionValues are the dimensions' values, root members.
	DimensionValues map[string]string
	// Metrics are the metrics; at least one, at most MaxMetrics.
	Metrics []Metric
	// Properties are other root members: searchable in CloudWatch Logs
	// Insights, not metrics. They must not use a metric's or a dimension's
	// name, nor AWSKey.
	Properties map[string]any
}

// The JSON shape of the "_aws" member.
type (
	metadata struct {
		Timestamp         int64       `json:"Timestamp"`
		CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
	}
	directive struct {
		Namespace  string       `json:"Namespace"`
		Dimensions [][]string   `json:"Dimensions"`
		Metrics    []definition `json:"Metrics"`
	}
	definition struct {
		Name string `json:"Name"`
		Unit Unit   `json:"Unit,omitempty"`
	}
)

// Encode returns the record as one line of JSON, ending in a newline, or an
// error when it breaks a rule of the specification.
func (r Record) Encode() ([]byte, error) {
	if r.Time.IsZero() {
		return nil, errors.New("emf: record without a time")
	}
	root := make(map[string]any, 1+len(r.Metrics)+len(r.DimensionValues)+len(r.Properties))
	for k, v := range r.Properties {
		root[k] = v
	}
	for k, v := range r.DimensionValues {
		if _, dup := r.Properties[k]; dup {
			return nil, fmt.Errorf("emf: %q is both a dimension and a property", k)
		}
		root[k] = v
	}
	d := directive{Namespace: r.Namespace, Dimensions: r.Dimensions, Metrics: make([]definition, 0, len(r.Metrics))}
	if d.Dimensions == nil {
		d.Dimensions = [][]string{{}}
	}
	for _, m := range r.Metrics {
		if _, dup := root[m.Name]; dup {
			return nil, fmt.Errorf("emf: metric %q: the name is taken by a dimension, a property or another metric", m.Name)
		}
		switch len(m.Values) {
		case 0:
			return nil, fmt.Errorf("emf: metric %q without a value", m.Name)
		case 1:
			root[m.Name] = m.Values[0]
		default:
			root[m.Name] = m.Values
		}
		d.Metrics = append(d.Metrics, definition{Name: m.Name, Unit: m.Unit})
	}
	if _, dup := root[AWSKey]; dup {
		return nil, fmt.Errorf("emf: %q is reserved", AWSKey)
	}
	root[AWSKey] = metadata{Timestamp: r.Time.UnixMilli(), CloudWatchMetrics: []directive{d}}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("emf: %w", err)
	}
	if err := Validate(b); err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Writer writes EMF records to an io.Writer, each as one line written with
// one call, so that records from several goroutines never interleave. It
// is safe for concurrent use.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter returns a Writer writing to w (in Lambda: os.Stdout, whose
// lines CloudWatch Logs reads as they are).
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write encodes r and writes it as one line.
func (w *Writer) Write(r Record) error {
	b, err := r.Encode()
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("emf: write: %w", err)
	}
	return nil
}

// Document is an EMF record read back: its timestamp, its directives and
// its root members.
type Document struct {
	// Time is the metrics' timestamp.
	Time time.Time
	// Directives are the metric directives of "_aws".CloudWatchMetrics.
	Directives []Directive
	// Root holds every root member but "_aws", as encoding/json decodes
	// them (numbers as float64).
	Root map[string]any
}

// Directive is one metric directive of a Document.
type Directive struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []Metric // Values filled from the root members
}

// Metric returns the values and unit of the metric called name in any
// directive of d, and whether it is there.
func (d *Document) Metric(name string) (Metric, bool) {
	for _, dir := range d.Directives {
		for _, m := range dir.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return Metric{}, false
}

// IsRecord reports whether obj, a decoded JSON object, claims to be an EMF
// record: it has an "_aws" member holding CloudWatchMetrics. Whether the
// record is valid is Parse's to say.
func IsRecord(obj map[string]any) bool {
	aws, ok := obj[AWSKey].(map[string]any)
	if !ok {
		return false
	}
	_, ok = aws["CloudWatchMetrics"]
	return ok
}

// Validate checks that b, one log event's message, is an EMF record
// following every rule of the specification.
func Validate(b []byte) error {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("emf: not a JSON object: %w", err)
	}
	if dec.More() || dec.InputOffset() != int64(len(bytes.TrimRight(b, " \t\r\n"))) {
		return errors.New("emf: data after the JSON object")
	}
	if len(b) > MaxRecordBytes {
		return fmt.Errorf("emf: %d bytes, more than the %d of a log event", len(b), MaxRecordBytes)
	}
	_, err := Parse(obj)
	return err
}

// Parse reads a decoded JSON object as an EMF record and checks it against
// the specification.
func Parse(obj map[string]any) (*Document, error) {
	raw, ok := obj[AWSKey]
	if !ok {
		return nil, fmt.Errorf("emf: no %q member", AWSKey)
	}
	aws, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("emf: %q is not an object", AWSKey)
	}
	ts, ok := aws["Timestamp"].(float64)
	if !ok || ts != math.Trunc(ts) || ts < 0 || ts > 1e15 {
		return nil, fmt.Errorf("emf: _aws.Timestamp %v is not an integer count of milliseconds", aws["Timestamp"])
	}
	dirs, ok := aws["CloudWatchMetrics"].([]any)
	if !ok {
		return nil, errors.New("emf: _aws.CloudWatchMetrics is not an array")
	}
	doc := &Document{Time: time.UnixMilli(int64(ts)).UTC(), Root: maps.Clone(obj)}
	delete(doc.Root, AWSKey)
	for i, raw := range dirs {
		dir, err := parseDirective(raw, doc.Root)
		if err != nil {
			return nil, fmt.Errorf("emf: CloudWatchMetrics[%d]: %w", i, err)
		}
		doc.Directives = append(doc.Directives, dir)
	}
	return doc, nil
}

func parseDirective(raw any, root map[string]any) (Directive, error) {
	obj, ok := raw.(map[string]any)
	if !ok {
		return Directive{}, errors.New("not an object")
	}
	var d Directive
	if d.Namespace, ok = obj["Namespace"].(string); !ok {
		return d, errors.New("no Namespace string")
	}
	if err := checkName("Namespace", d.Namespace, MaxNameLength); err != nil {
		return d, err
	}
	sets, ok := obj["Dimensions"].([]any)
	if !ok || len(sets) == 0 {
		return d, errors.New("Dimensions is not an array of at least one dimension set")
	}
	for j, rs := range sets {
		keys, ok := rs.([]any)
		if !ok {
			return d, fmt.Errorf("Dimensions[%d] is not an array", j)
		}
		if len(keys) > MaxDimensions {
			return d, fmt.Errorf("Dimensions[%d]: %d keys, more than %d", j, len(keys), MaxDimensions)
		}
		set := make([]string, 0, len(keys))
		for _, rk := range keys {
			k, ok := rk.(string)
			if !ok {
				return d, fmt.Errorf("Dimensions[%d]: a key is not a string", j)
			}
			if err := checkName("dimension key", k, MaxDimensionKeyLength); err != nil {
				return d, err
			}
			v, ok := root[k].(string)
			if !ok {
				return d, fmt.Errorf("dimension %q: no string member of that name at the root", k)
			}
			if n := len([]rune(v)); n > MaxDimensionValueLength {
				return d, fmt.Errorf("dimension %q: value of %d characters, more than %d", k, n, MaxDimensionValueLength)
			}
			set = append(set, k)
		}
		d.Dimensions = append(d.Dimensions, set)
	}
	defs, ok := obj["Metrics"].([]any)
	if !ok {
		return d, errors.New("Metrics is not an array")
	}
	if len(defs) > MaxMetrics {
		return d, fmt.Errorf("%d metrics, more than %d", len(defs), MaxMetrics)
	}
	for j, rd := range defs {
		def, ok := rd.(map[string]any)
		if !ok {
			return d, fmt.Errorf("Metrics[%d] is not an object", j)
		}
		var m Metric
		if m.Name, ok = def["Name"].(string); !ok {
			return d, fmt.Errorf("Metrics[%d]: no Name string", j)
		}
		if err := checkName("metric name", m.Name, MaxNameLength); err != nil {
			return d, err
		}
		if u, present := def["Unit"]; present {
			s, ok := u.(string)
			if !ok || !Unit(s).Valid() {
				return d, fmt.Errorf("metric %q: unit %v is not a CloudWatch unit", m.Name, u)
			}
			m.Unit = Unit(s)
		}
		if r, present := def["StorageResolution"]; present {
			if f, ok := r.(float64); !ok || f != 1 && f != 60 {
				return d, fmt.Errorf("metric %q: StorageResolution %v is neither 1 nor 60", m.Name, r)
			}
		}
		switch v := root[m.Name].(type) {
		case float64:
			m.Values = []float64{v}
		case []any:
			if len(v) > MaxValues {
				return d, fmt.Errorf("metric %q: %d values, more than %d", m.Name, len(v), MaxValues)
			}
			for _, e := range v {
				f, ok := e.(float64)
				if !ok {
					return d, fmt.Errorf("metric %q: value %v is not a number", m.Name, e)
				}
				m.Values = append(m.Values, f)
			}
		case nil:
			return d, fmt.Errorf("metric %q: no member of that name at the root", m.Name)
		default:
			return d, fmt.Errorf("metric %q: value %v is neither a number nor an array of numbers", m.Name, v)
		}
		d.Metrics = append(d.Metrics, m)
	}
	return d, nil
}

func checkName(what, s string, maxLen int) error {
	n := len([]rune(s))
	if n < 1 || n > maxLen {
		return fmt.Errorf("%s %q: %d characters, want 1 to %d", what, s, n, maxLen)
	}
	for _, c := range s {
		if c == '\n' || c == '\r' {
			// The schema's pattern ^(.*)$: one line.
			return fmt.Errorf("%s %q: a line break", what, s)
		}
	}
	return nil
}
