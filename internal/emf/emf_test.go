package emf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"flashsale/internal/emf"
	"flashsale/internal/testutil/emfschema"
)

var at = time.UnixMilli(1767225600123).UTC()

func coldStart() emf.Record {
	return emf.Record{
		Namespace:       "flashsale",
		Time:            at,
		Dimensions:      [][]string{{"function"}},
		DimensionValues: map[string]string{"function": "processor"},
		Metrics: []emf.Metric{
			{Name: "ColdStart", Unit: emf.Count, Values: []float64{1}},
			{Name: "InitDuration", Unit: emf.Milliseconds, Values: []float64{68.912}},
			{Name: "PaymentDuration", Unit: emf.Milliseconds, Values: []float64{3001.5, 2999}},
		},
		Properties: map[string]any{"request_id": "8f5d-1"},
	}
}

// TestEncodeValidAgainstSchema encodes records and validates each against
// our JSON schema of the specification (internal/emf/testdata) and its
// other rules.
func TestEncodeValidAgainstSchema(t *testing.T) {
	many := coldStart()
	many.Metrics = nil
	for i := range emf.MaxMetrics {
		many.Metrics = append(many.Metrics, emf.Metric{Name: fmt.Sprintf("m%d", i), Values: []float64{float64(i)}})
	}
	noDims := coldStart()
	noDims.Dimensions = nil
	tests := map[string]emf.Record{"cold start": coldStart(), "100 metrics": many, "no dimensions": noDims}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := r.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Count(b, []byte("\n")) != 1 || b[len(b)-1] != '\n' {
				t.Fatalf("not one line: %q", b)
			}
			emfschema.Validate(t, b)
		})
	}
}

// TestEncodeShape checks the record member by member.
func TestEncodeShape(t *testing.T) {
	b, err := coldStart().Encode()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"_aws": map[string]any{
			"Timestamp": 1767225600123.0,
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "flashsale",
				"Dimensions": []any{[]any{"function"}},
				"Metrics": []any{
					map[string]any{"Name": "ColdStart", "Unit": "Count"},
					map[string]any{"Name": "InitDuration", "Unit": "Milliseconds"},
					map[string]any{"Name": "PaymentDuration", "Unit": "Milliseconds"},
				},
			}},
		},
		"function": "processor", "ColdStart": 1.0, "InitDuration": 68.912,
		"PaymentDuration": []any{3001.5, 2999.0}, "request_id": "8f5d-1",
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("record\n%s\nwant\n%s", gotJSON, wantJSON)
	}
}

// TestEncodeRejects checks that Encode refuses what the specification forbids.
func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(*emf.Record)
	}{
		{"no time", func(r *emf.Record) { r.Time = time.Time{} }},
		{"no namespace", func(r *emf.Record) { r.Namespace = "" }},
		{"long namespace", func(r *emf.Record) { r.Namespace = strings.Repeat("n", 1025) }},
		{"bad unit", func(r *emf.Record) { r.Metrics[0].Unit = "Parsecs" }},
		{"no value", func(r *emf.Record) { r.Metrics[0].Values = nil }},
		{"NaN", func(r *emf.Record) { r.Metrics[0].Values = []float64{math.NaN()} }},
		{"101 values", func(r *emf.Record) { r.Metrics[0].Values = make([]float64, 101) }},
		{"101 metrics", func(r *emf.Record) {
			for i := range 100 {
				r.Metrics = append(r.Metrics, emf.Metric{Name: fmt.Sprint("m", i), Values: []float64{1}})
			}
		}},
		{"31 dimensions", func(r *emf.Record) {
			r.Dimensions = [][]string{nil}
			for i := range 31 {
				k := fmt.Sprint("d", i)
				r.Dimensions[0] = append(r.Dimensions[0], k)
				r.DimensionValues[k] = "v"
			}
		}},
		{"dimension without value", func(r *emf.Record) { r.Dimensions = [][]string{{"function", "stage"}} }},
		{"long dimension value", func(r *emf.Record) { r.DimensionValues["function"] = strings.Repeat("f", 1025) }},
		{"metric named like a dimension", func(r *emf.Record) { r.Metrics[0].Name = "function" }},
		{"metric named like a property", func(r *emf.Record) { r.Metrics[0].Name = "request_id" }},
		{"two metrics of one name", func(r *emf.Record) { r.Metrics[1].Name = r.Metrics[0].Name }},
		{"property _aws", func(r *emf.Record) { r.Properties["_aws"] = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := coldStart()
			tt.change(&r)
			if b, err := r.Encode(); err == nil {
				t.Errorf("encoded %s", b)
			}
		})
	}
}

// TestValidate checks hand-written documents, valid and invalid, against
// both our JSON schema (internal/emf/testdata) and Validate: each invalid
// one breaks a rule of the specification.
func TestValidate(t *testing.T) {
	const valid = `{"_aws":{"Timestamp":1574109732004,"CloudWatchMetrics":[{"Namespace":"lambda-function-metrics","Dimensions":[["functionVersion"]],"Metrics":[{"Name":"time","Unit":"Milliseconds","StorageResolution":60}]}]},"functionVersion":"$LATEST","time":100,"requestId":"989ffbf8-9ace-4817-a57c-e4dd734019ee"}`
	tests := []struct {
		name, doc     string
		schemaCatches bool // the JSON schema alone rejects it
	}{
		{"no _aws", `{"time":1}`, true},
		{"no Timestamp", `{"_aws":{"CloudWatchMetrics":[]}}`, true},
		{"fractional Timestamp", strings.Replace(valid, "1574109732004", "1574109732004.5", 1), true},
		{"no Namespace", strings.Replace(valid, `"Namespace":"lambda-function-metrics",`, "", 1), true},
		{"empty Dimensions", strings.Replace(valid, `[["functionVersion"]]`, `[]`, 1), true},
		{"bad unit", strings.Replace(valid, `"Milliseconds"`, `"Millis"`, 1), true},
		{"StorageResolution 30", strings.Replace(valid, `"StorageResolution":60`, `"StorageResolution":30`, 1), true},
		{"no metric value", strings.Replace(valid, `"time":100,`, "", 1), false},
		{"string metric value", strings.Replace(valid, `"time":100`, `"time":"100"`, 1), false},
		{"dimension value a number", strings.Replace(valid, `"functionVersion":"$LATEST"`, `"functionVersion":1`, 1), false},
		{"no dimension value", strings.Replace(valid, `"functionVersion":"$LATEST",`, "", 1), false},
		{"text before", "START " + valid, true},
	}
	if err := emfschema.Check([]byte(valid)); err != nil {
		t.Fatalf("the specification's example: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := emf.Validate([]byte(tt.doc)); err == nil {
				t.Errorf("Validate accepted %s", tt.doc)
			}
			if err := emfschema.Check([]byte(tt.doc)); err == nil {
				t.Errorf("schema and Validate accepted %s", tt.doc)
			}
			if err := emfschema.CheckSchema([]byte(tt.doc)); (err != nil) != tt.schemaCatches {
				t.Errorf("the JSON schema alone: %v, want an error: %t", err, tt.schemaCatches)
			}
		})
	}
}

// TestWriterConcurrent writes records from several goroutines: every line
// is one whole record.
func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w := emf.NewWriter(&buf)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if err := w.Write(coldStart()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := len(emfschema.Records(t, buf.Bytes())); n != 400 {
		t.Errorf("%d records, want 400", n)
	}
}

func ExampleRecord_Encode() {
	b, err := emf.Record{
		Namespace:       "flashsale",
		Time:            time.UnixMilli(1767225600123),
		Dimensions:      [][]string{{"function"}},
		DimensionValues: map[string]string{"function": "processor"},
		Metrics: []emf.Metric{
			{Name: "ColdStart", Unit: emf.Count, Values: []float64{1}},
			{Name: "InitDuration", Unit: emf.Milliseconds, Values: []float64{68.9}},
		},
	}.Encode()
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(b)
	// Output:
	// {"ColdStart":1,"InitDuration":68.9,"_aws":{"Timestamp":1767225600123,"CloudWatchMetrics":[{"Namespace":"flashsale","Dimensions":[["function"]],"Metrics":[{"Name":"ColdStart","Unit":"Count"},{"Name":"InitDuration","Unit":"Milliseconds"}]}]},"function":"processor"}
}
