package coldstart_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"flashsale/internal/coldstart"
	"flashsale/internal/textout"
)

func scenarioAnalysis(t *testing.T) *coldstart.Analysis {
	t.Helper()
	d := parseFile(t, "aws-logs-tail.txt")
	d.Merge(parseFile(t, "worker.jsonl"))
	return coldstart.Analyze(d)
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := coldstart.WriteText(&b, scenarioAnalysis(t)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, re := range []string{
		// name, kind, invocations, cold starts, cold %, init, app init, durations, overhead, after idle, scale-out
		`(?m)^flashsale-ProcessorFunction-AbC123 +lambda +6 +3 +50\.0% +65\.30/68\.91/72\.40/72\.40/72\.40 +12\.30 ms +3003\.30/3001\.50 +2\.29% +1 +1$`,
		`(?m)^flashsale-worker +service +- +2 +- +38\.20/38\.20/41\.70/41\.70/41\.70 +38\.20 ms +- +- +- +-$`,
		`(?m)^flashsale-ProcessorFunction-AbC123 +lambda +2026-11-20T10:00:00\.514Z +3f1e5b7a-0001-4c1d-9a2b-111111111111 +68\.91 +3003\.12 +- +first$`,
		`(?m)^flashsale-ProcessorFunction-AbC123 +lambda +2026-11-20T10:00:08\.923Z +\S+ +72\.40 +3004\.60 +0s +scale-out$`,
		`(?m)^flashsale-ProcessorFunction-AbC123 +lambda +2026-11-20T10:20:01\.931Z +\S+ +65\.30 +3003\.30 +19m46s +idle$`,
		`(?m)^flashsale-worker +service +2026-11-20T09:00:00\.120Z +- +41\.70 +- +- +start$`,
		`(?m)^Read 38 lines: 6 reports, 6 cold-start records, 2 service starts; skipped 24 other, 0 malformed\.$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
}

func TestWriteTextEmptyAndMalformed(t *testing.T) {
	var p coldstart.Parser
	p.Line("REPORT RequestId: r1\tDuration: x ms")
	p.Line("hello")
	var b bytes.Buffer
	if err := coldstart.WriteText(&b, coldstart.Analyze(p.Finish())); err != nil {
		t.Fatal(err)
	}
	want := "No invocations or service starts found.\n" +
		"Read 2 lines: 0 reports, 0 cold-start records, 0 service starts; skipped 1 other, 1 malformed.\n" +
		"  malformed: line 1: REPORT line: Duration \"x\" is not a number\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	a := scenarioAnalysis(t)
	var b bytes.Buffer
	if err := textout.WriteJSON(&b, a); err != nil {
		t.Fatal(err)
	}
	var back coldstart.Analysis
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, a) {
		t.Errorf("JSON round trip changed the analysis:\n%s", b.String())
	}
	// Field names machines rely on.
	for _, key := range []string{`"cold_starts": 3`, `"overhead_pct": 2.29461`, `"idle_gap_ms": 1185931.4`, `"cause": "scale-out"`, `"kind": "service"`, `"malformed": 0`} {
		if !strings.Contains(b.String(), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	a := scenarioAnalysis(t)
	tests := []struct {
		starts bool
		rows   [][]string
	}{{
		starts: false,
		rows: [][]string{
			{"name", "kind", "invocations", "cold_starts", "cold_share", "init_count", "init_min_ms", "init_p50_ms", "init_p90_ms", "init_p99_ms", "init_max_ms",
				"app_init_p50_ms", "cold_duration_p50_ms", "warm_duration_p50_ms", "overhead_pct", "amortized_pct", "after_idle", "scale_out", "first", "unknown", "idle_gap_p50_ms", "idle_gap_max_ms"},
			{"flashsale-ProcessorFunction-AbC123", "lambda", "6", "3", "0.5", "3", "65.3", "68.91", "72.4", "72.4", "72.4",
				"12.3", "3003.3", "3001.5", "2.2946136018540715", "1.1468508644261417", "1", "1", "1", "0", "1185931.4", "1185931.4"},
			{"flashsale-worker", "service", "0", "2", "0", "2", "38.2", "38.2", "41.7", "41.7", "41.7", "38.2", "", "", "", "", "0", "0", "0", "0", "", ""},
		},
	}, {
		starts: true,
		rows: [][]string{
			{"name", "kind", "start", "request_id", "stream", "init_ms", "duration_ms", "idle_gap_ms", "cause"},
			{"flashsale-ProcessorFunction-AbC123", "lambda", "2026-11-20T10:00:00.51497Z", "3f1e5b7a-0001-4c1d-9a2b-111111111111", "2026/11/20/[$LATEST]5f1c0d8a9b2e4c3d8e7f6a5b4c3d2e1f", "68.91", "3003.12", "", "first"},
			{"flashsale-ProcessorFunction-AbC123", "lambda", "2026-11-20T10:00:08.923Z", "3f1e5b7a-0004-4c1d-9a2b-444444444444", "2026/11/20/[$LATEST]9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b", "72.4", "3004.6", "0", "scale-out"},
			{"flashsale-ProcessorFunction-AbC123", "lambda", "2026-11-20T10:20:01.9314Z", "3f1e5b7a-0006-4c1d-9a2b-666666666666", "2026/11/20/[$LATEST]0123456789abcdef0123456789abcdef", "65.3", "3003.3", "1185931.4", "idle"},
			{"flashsale-worker", "service", "2026-11-20T09:00:00.12Z", "", "", "41.7", "", "", "start"},
			{"flashsale-worker", "service", "2026-11-20T11:30:00.08Z", "", "", "38.2", "", "", "start"},
		},
	}}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := coldstart.WriteCSV(&b, a, tt.starts); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rows, tt.rows) {
			t.Errorf("starts=%v:\n got  %q\n want %q", tt.starts, rows, tt.rows)
		}
	}
}

type failingWriter struct{}

var errDiskFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteErrors(t *testing.T) {
	a := scenarioAnalysis(t)
	for name, write := range map[string]func() error{
		"text": func() error { return coldstart.WriteText(failingWriter{}, a) },
		"json": func() error { return textout.WriteJSON(failingWriter{}, a) },
		"csv":  func() error { return coldstart.WriteCSV(failingWriter{}, a, false) },
	} {
		if err := write(); !errors.Is(err, errDiskFull) {
			t.Errorf("%s: error %v, want the writer's", name, err)
		}
	}
}
