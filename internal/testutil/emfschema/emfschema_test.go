package emfschema_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"flashsale/internal/testutil/emfschema"
)

// doc is an EMF record as decoded JSON, built fresh for each case.
func doc() map[string]any {
	return map[string]any{
		"_aws": map[string]any{
			"Timestamp": 1767225600123,
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "flashsale",
				"Dimensions": []any{[]any{"function"}},
				"Metrics": []any{
					map[string]any{"Name": "ColdStart", "Unit": "Count"},
					map[string]any{"Name": "InitDuration", "Unit": "Milliseconds", "StorageResolution": 1},
				},
			}},
		},
		"function":     "processor",
		"ColdStart":    1,
		"InitDuration": 68.9,
	}
}

func aws(d map[string]any) map[string]any { return d["_aws"].(map[string]any) }

func directive(d map[string]any) map[string]any {
	return aws(d)["CloudWatchMetrics"].([]any)[0].(map[string]any)
}

func metric(d map[string]any, i int) map[string]any {
	return directive(d)["Metrics"].([]any)[i].(map[string]any)
}

// TestSchemaAlone checks the schema by itself, without emf.Validate: it
// takes records at the specification's limits and rejects each shape the
// specification forbids, so that CheckSchema in the other tests means
// something of its own.
func TestSchemaAlone(t *testing.T) {
	valid := []struct {
		name   string
		change func(d map[string]any)
	}{
		{"as built", func(map[string]any) {}},
		{"no unit, no storage resolution", func(d map[string]any) {
			delete(metric(d, 0), "Unit")
			delete(metric(d, 1), "StorageResolution")
		}},
		{"every unit", func(d map[string]any) {
			var ms []any
			for i, u := range []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
				"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
				"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
				"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"} {
				ms = append(ms, map[string]any{"Name": fmt.Sprint("m", i), "Unit": u})
			}
			directive(d)["Metrics"] = ms
		}},
		{"an empty dimension set", func(d map[string]any) { directive(d)["Dimensions"] = []any{[]any{}} }},
		{"30 dimension keys", func(d map[string]any) { directive(d)["Dimensions"] = []any{keys(30)} }},
		{"100 metrics", func(d map[string]any) { directive(d)["Metrics"] = metrics(100) }},
		{"names of 1,024 and keys of 250 characters", func(d map[string]any) {
			directive(d)["Namespace"] = strings.Repeat("n", 1024)
			metric(d, 0)["Name"] = strings.Repeat("m", 1024)
			directive(d)["Dimensions"] = []any{[]any{strings.Repeat("k", 250)}}
		}},
		{"other members in _aws and at the root", func(d map[string]any) {
			aws(d)["LogGroupName"] = "flashsale-metrics"
			d["request_id"] = "r1"
		}},
	}
	invalid := []struct {
		name   string
		change func(d map[string]any)
	}{
		{"no _aws", func(d map[string]any) { delete(d, "_aws") }},
		{"_aws not an object", func(d map[string]any) { d["_aws"] = []any{} }},
		{"no Timestamp", func(d map[string]any) { delete(aws(d), "Timestamp") }},
		{"Timestamp a string", func(d map[string]any) { aws(d)["Timestamp"] = "2026-01-01T00:00:00Z" }},
		{"Timestamp fractional", func(d map[string]any) { aws(d)["Timestamp"] = 1767225600123.5 }},
		{"Timestamp negative", func(d map[string]any) { aws(d)["Timestamp"] = -1 }},
		{"no CloudWatchMetrics", func(d map[string]any) { delete(aws(d), "CloudWatchMetrics") }},
		{"CloudWatchMetrics an object", func(d map[string]any) { aws(d)["CloudWatchMetrics"] = directive(d) }},
		{"no Namespace", func(d map[string]any) { delete(directive(d), "Namespace") }},
		{"empty Namespace", func(d map[string]any) { directive(d)["Namespace"] = "" }},
		{"Namespace of 1,025 characters", func(d map[string]any) { directive(d)["Namespace"] = strings.Repeat("n", 1025) }},
		{"no Dimensions", func(d map[string]any) { delete(directive(d), "Dimensions") }},
		{"no dimension set", func(d map[string]any) { directive(d)["Dimensions"] = []any{} }},
		{"a dimension set a string", func(d map[string]any) { directive(d)["Dimensions"] = []any{"function"} }},
		{"31 dimension keys", func(d map[string]any) { directive(d)["Dimensions"] = []any{keys(31)} }},
		{"a dimension key a number", func(d map[string]any) { directive(d)["Dimensions"] = []any{[]any{1}} }},
		{"an empty dimension key", func(d map[string]any) { directive(d)["Dimensions"] = []any{[]any{""}} }},
		{"a dimension key of 251 characters", func(d map[string]any) {
			directive(d)["Dimensions"] = []any{[]any{strings.Repeat("k", 251)}}
		}},
		{"no Metrics", func(d map[string]any) { delete(directive(d), "Metrics") }},
		{"101 metrics", func(d map[string]any) { directive(d)["Metrics"] = metrics(101) }},
		{"a directive member of its own", func(d map[string]any) { directive(d)["Region"] = "eu-west-1" }},
		{"a metric without Name", func(d map[string]any) { delete(metric(d, 0), "Name") }},
		{"an empty metric name", func(d map[string]any) { metric(d, 0)["Name"] = "" }},
		{"a metric name of 1,025 characters", func(d map[string]any) { metric(d, 0)["Name"] = strings.Repeat("m", 1025) }},
		{"a unit not CloudWatch's", func(d map[string]any) { metric(d, 0)["Unit"] = "Millis" }},
		{"a unit in lower case", func(d map[string]any) { metric(d, 0)["Unit"] = "count" }},
		{"StorageResolution 30", func(d map[string]any) { metric(d, 1)["StorageResolution"] = 30 }},
		{"StorageResolution a string", func(d map[string]any) { metric(d, 1)["StorageResolution"] = "60" }},
		{"a metric member of its own", func(d map[string]any) { metric(d, 0)["Value"] = 1 }},
	}
	check := func(t *testing.T, change func(map[string]any)) error {
		t.Helper()
		d := doc()
		change(d)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return emfschema.CheckSchema(b)
	}
	for _, tt := range valid {
		t.Run("valid/"+tt.name, func(t *testing.T) {
			if err := check(t, tt.change); err != nil {
				t.Errorf("rejected: %v", err)
			}
		})
	}
	for _, tt := range invalid {
		t.Run("invalid/"+tt.name, func(t *testing.T) {
			if err := check(t, tt.change); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// keys returns a dimension set of n keys.
func keys(n int) []any {
	var ks []any
	for i := range n {
		ks = append(ks, fmt.Sprint("d", i))
	}
	return ks
}

// metrics returns n metric definitions.
func metrics(n int) []any {
	var ms []any
	for i := range n {
		ms = append(ms, map[string]any{"Name": fmt.Sprint("m", i), "Unit": "Count"})
	}
	return ms
}
