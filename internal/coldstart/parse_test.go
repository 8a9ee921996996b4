package coldstart_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"flashsale/internal/coldstart"
)

func f(v float64) *float64 { return &v }

// show prints v with its pointers followed, for failure messages.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseReport(t *testing.T) {
	tests := []struct {
		name string
		line string
		want coldstart.Report
	}{{
		name: "emulator, cold: tabs and a trailing tab",
		line: "REPORT RequestId: 51bad8b4-70f1-4539-8500-0518015ca298\tInit Duration: 0.22 ms\tDuration: 56.38 ms\tBilled Duration: 57 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t",
		want: coldstart.Report{RequestID: "51bad8b4-70f1-4539-8500-0518015ca298", InitMs: f(0.22), DurationMs: 56.38,
			BilledMs: f(57), MemoryMB: f(3008), MaxMemoryUsedMB: f(3008), Status: "success"},
	}, {
		name: "CloudWatch, cold: Init Duration last, behind aws logs tail's prefix",
		line: "2026-11-20T10:00:03.587000+00:00 2026/11/20/[$LATEST]5f1c REPORT RequestId: r1\tDuration: 3003.12 ms\tBilled Duration: 3073 ms\tMemory Size: 512 MB\tMax Memory Used: 21 MB\tInit Duration: 68.91 ms\t",
		want: coldstart.Report{RequestID: "r1", InitMs: f(68.91), DurationMs: 3003.12, BilledMs: f(3073), MemoryMB: f(512), MaxMemoryUsedMB: f(21), Status: "success"},
	}, {
		name: "warm, spaces instead of tabs, X-Ray fields on the same line",
		line: "REPORT RequestId: r2 Duration: 201.67 ms Billed Duration: 202 ms Memory Size: 2048 MB Max Memory Used: 81 MB XRAY TraceId: 1-61c86fa4-59b3c6d9 SegmentId: 107ea78a5750a811 Sampled: true",
		want: coldstart.Report{RequestID: "r2", DurationMs: 201.67, BilledMs: f(202), MemoryMB: f(2048), MaxMemoryUsedMB: f(81), Status: "success"},
	}, {
		name: "timeout with its status and error type",
		line: "REPORT RequestId: r3\tDuration: 10000.00 ms\tBilled Duration: 10000 ms\tMemory Size: 512 MB\tMax Memory Used: 30 MB\tStatus: timeout\tError Type: Runtime.Timeout",
		want: coldstart.Report{RequestID: "r3", DurationMs: 10000, BilledMs: f(10000), MemoryMB: f(512), MaxMemoryUsedMB: f(30), Status: "timeout"},
	}, {
		name: "SnapStart restore",
		line: "REPORT RequestId: r4\tDuration: 120.50 ms\tBilled Duration: 321 ms\tMemory Size: 1024 MB\tMax Memory Used: 90 MB\tRestore Duration: 180.25 ms\tBilled Restore Duration: 200 ms",
		want: coldstart.Report{RequestID: "r4", DurationMs: 120.5, BilledMs: f(321), MemoryMB: f(1024), MaxMemoryUsedMB: f(90), RestoreMs: f(180.25), Status: "success"},
	}, {
		name: "managed-instances emulator: duration only",
		line: "REPORT RequestId: r5\tDuration: 1.50 ms",
		want: coldstart.Report{RequestID: "r5", DurationMs: 1.5, Status: "success"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := coldstart.ParseReport(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", show(got), show(tt.want))
			}
			if got.Cold() != (tt.want.InitMs != nil || tt.want.RestoreMs != nil) {
				t.Errorf("Cold() = %v", got.Cold())
			}
		})
	}
}

func TestParseReportErrors(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"not a report", "START RequestId: r1 Version: $LATEST", "not a REPORT line"},
		{"no request id", "REPORT RequestId:", "without a RequestId"},
		{"no duration", "REPORT RequestId: r1\tBilled Duration: 3 ms", "without a Duration"},
		{"duration not a number", "REPORT RequestId: r1\tDuration: fast ms", `Duration "fast" is not a number`},
		{"negative init", "REPORT RequestId: r1\tInit Duration: -4 ms\tDuration: 3 ms", "Init Duration"},
		{"field twice", "REPORT RequestId: r1\tDuration: 3 ms\tDuration: 4 ms", "Duration given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := coldstart.ParseReport(tt.line)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
			if tt.name == "not a report" && !errors.Is(err, coldstart.ErrNotReport) {
				t.Errorf("error %v is not ErrNotReport", err)
			}
		})
	}
}

// scenario is the log every testdata fixture but the emulator's holds, in
// a different format each: the processor over 20 minutes in three execution
// environments. A (stream 5f1c...) starts cold and runs two warm
// invocations; B (9e8d...) starts cold while A is busy (a scale-out) and
// runs one warm invocation; C (0123...) starts cold twenty minutes later,
// after idle time.
func scenario(t *testing.T, streams bool) []coldstart.Invocation {
	const fn = "flashsale-ProcessorFunction-AbC123"
	a, b, c := "2026/11/20/[$LATEST]5f1c0d8a9b2e4c3d8e7f6a5b4c3d2e1f", "2026/11/20/[$LATEST]9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b", "2026/11/20/[$LATEST]0123456789abcdef0123456789abcdef"
	if !streams {
		a, b, c = "", "", ""
	}
	inv := func(id, stream, start, end string, init *float64, dur, billed, maxMem float64, appInit *float64) coldstart.Invocation {
		return coldstart.Invocation{
			Function: fn, RequestID: "3f1e5b7a-000" + id + "-4c1d-9a2b-" + strings.Repeat(id, 12), Stream: stream,
			// Start is the end less the duration and, cold, the init.
			Start: ts(t, start), End: ts(t, end), Cold: init != nil, InitMs: init, AppInitMs: appInit,
			DurationMs: f(dur), BilledMs: f(billed), MemoryMB: f(512), MaxMemoryUsedMB: f(maxMem), Status: "success",
		}
	}
	return []coldstart.Invocation{
		inv("1", a, "2026-11-20T10:00:00.51497Z", "2026-11-20T10:00:03.587Z", f(68.91), 3003.12, 3073, 21, f(12.3)),
		inv("2", a, "2026-11-20T10:00:03.9985Z", "2026-11-20T10:00:07Z", nil, 3001.50, 3002, 22, nil),
		inv("3", a, "2026-11-20T10:00:07.998Z", "2026-11-20T10:00:11Z", nil, 3002.00, 3002, 22, nil),
		inv("4", b, "2026-11-20T10:00:08.923Z", "2026-11-20T10:00:12Z", f(72.40), 3004.60, 3078, 21, f(13.1)),
		inv("5", b, "2026-11-20T10:00:12.9991Z", "2026-11-20T10:00:16Z", nil, 3000.90, 3001, 22, nil),
		inv("6", c, "2026-11-20T10:20:01.9314Z", "2026-11-20T10:20:05Z", f(65.30), 3003.30, 3069, 21, f(11.8)),
	}
}

func parseFile(t *testing.T, name string) *coldstart.Dataset {
	t.Helper()
	fh, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var p coldstart.Parser
	if err := p.Read(context.Background(), fh); err != nil {
		t.Fatal(err)
	}
	return p.Finish()
}

// TestParseFixtures reads the same scenario printed by each tool and checks
// every field of every invocation, and what was counted and skipped.
func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file    string
		streams bool
		lines   int
		other   int // START, END, INIT_START, XRAY, records without cold-start fields, other platform records
	}{
		{"aws-logs-tail.txt", true, 34, 22},
		{"sam-logs.txt", true, 127, 22},
		{"cloudwatch-json.jsonl", false, 30, 18},
		{"filter-log-events.json", true, 243, 22},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d := parseFile(t, tt.file)
			want := scenario(t, tt.streams)
			if len(d.Invocations) != len(want) {
				t.Fatalf("%d invocations, want %d: %+v", len(d.Invocations), len(want), d.Invocations)
			}
			for i := range want {
				if !reflect.DeepEqual(d.Invocations[i], want[i]) {
					t.Errorf("invocation %d:\n got  %s\n want %s", i, show(d.Invocations[i]), show(want[i]))
				}
			}
			wantCounts := coldstart.Counts{Lines: tt.lines, Reports: 6, Records: 6, Other: tt.other}
			if !reflect.DeepEqual(d.Counts, wantCounts) {
				t.Errorf("counts %+v, want %+v", d.Counts, wantCounts)
			}
		})
	}
}

// TestParseEmulatorFixtures reads output captured from aws-lambda-rie
// running the processor: `make invoke` (one cold invocation) and the raw
// output of two emulator runs of four invocations each.
func TestParseEmulatorFixtures(t *testing.T) {
	t.Run("make invoke", func(t *testing.T) {
		d := parseFile(t, "make-invoke.txt")
		want := []coldstart.Invocation{{
			Function: "processor", RequestID: "rie-32161-711231080-1",
			// The emulator prints no time on REPORT: the function's record
			// logged just before it gives the end.
			End: ts(t, "2026-11-25T19:48:05.778063411Z"), Start: ts(t, "2026-11-25T19:48:02.652353411Z"),
			Cold: true, InitMs: f(59.51), AppInitMs: f(8.21), DurationMs: f(3066.20), BilledMs: f(3067),
			MemoryMB: f(512), MaxMemoryUsedMB: f(512), Status: "success",
		}}
		if !reflect.DeepEqual(d.Invocations, want) {
			t.Errorf("got  %s\nwant %s", show(d.Invocations[0]), show(want[0]))
		}
		if c := d.Counts; c.Reports != 1 || c.Records != 1 || c.EmulatorInits != 1 || c.Malformed != 0 || c.Other != 9 {
			t.Errorf("counts %+v", c)
		}
	})
	t.Run("two emulator runs", func(t *testing.T) {
		d := parseFile(t, "rie-capture.txt")
		var cold []string
		var inits []float64
		for _, inv := range d.Invocations {
			if inv.Function != "processor" || inv.DurationMs == nil || inv.Start.IsZero() {
				t.Errorf("invocation %s", show(inv))
			}
			if inv.Cold {
				cold = append(cold, inv.RequestID)
				inits = append(inits, *inv.InitMs)
			}
		}
		if len(d.Invocations) != 8 || !reflect.DeepEqual(cold, []string{"rie-31253-429775582-1", "rie-31253-214742255-5"}) {
			t.Errorf("%d invocations, cold %q", len(d.Invocations), cold)
		}
		if !reflect.DeepEqual(inits, []float64{3.567, 4.413}) {
			t.Errorf("inits %v, want the emulator's INIT REPORT durations [3.567 4.413]", inits)
		}
		if c := d.Counts; c.Reports != 8 || c.Records != 8 || c.EmulatorInits != 2 || c.Malformed != 0 {
			t.Errorf("counts %+v", c)
		}
	})
}

func TestEmulatorInitPairing(t *testing.T) {
	const cold = "REPORT RequestId: c%d\tInit Duration: 0.03 ms\tDuration: 30.00 ms\tBilled Duration: 30 ms\tMemory Size: 512 MB\tMax Memory Used: 512 MB\t"
	const warm = "REPORT RequestId: w%d\tDuration: 30.00 ms\tBilled Duration: 30 ms\tMemory Size: 512 MB\tMax Memory Used: 512 MB\t"
	raw := "25 Nov 2026 19:47:40,435 [INFO] (rapid) INIT REPORT(durationMs: 3.567000)"
	piped := "emulator INIT REPORT: 59.51 ms (bootstrap start to its first request for work)"
	tests := []struct {
		name  string
		lines []string
		want  []float64
		other int
	}{
		{"raw emulator output: before the REPORT", []string{raw, fmt.Sprintf(cold, 1), fmt.Sprintf(warm, 2)}, []float64{3.567}, 0},
		{"make invoke: after the REPORT", []string{fmt.Sprintf(cold, 1), piped}, []float64{59.51}, 0},
		{"two runs", []string{raw, fmt.Sprintf(cold, 1), fmt.Sprintf(warm, 2), strings.NewReplacer("3.567", "4.413", "40,435", "41,221").Replace(raw), fmt.Sprintf(cold, 3)}, []float64{3.567, 4.413}, 0},
		{"counts differ: REPORT values kept", []string{raw, raw, fmt.Sprintf(cold, 1)}, []float64{0.03}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p coldstart.Parser
			for _, l := range tt.lines {
				p.Line(l)
			}
			d := p.Finish()
			var got []float64
			for _, inv := range d.Invocations {
				if inv.Cold {
					got = append(got, *inv.InitMs)
				}
			}
			if !reflect.DeepEqual(got, tt.want) || d.Counts.Other != tt.other {
				t.Errorf("inits %v (other %d), want %v (other %d)", got, d.Counts.Other, tt.want, tt.other)
			}
		})
	}
}

// TestParseStructured reads our own records: the processor's (JSON as
// slog's handler or Lambda's key names write them, or slog's text) and the
// worker service's startup record.
func TestParseStructured(t *testing.T) {
	at := func(s string) time.Time { return ts(t, s) }
	tests := []struct {
		name    string
		lines   []string
		fn      string // Parser.Function
		want    []coldstart.Invocation
		starts  []coldstart.ServiceStart
		records int
	}{{
		name:    "slog JSON with request_id and function",
		lines:   []string{`{"time":"2026-11-20T10:00:00.5Z","level":"INFO","msg":"order paid","function":"processor","request_id":"r1","cold_start":true,"init_ms":12.5}`},
		want:    []coldstart.Invocation{{Function: "processor", RequestID: "r1", Start: at("2026-11-20T10:00:00.5Z"), End: at("2026-11-20T10:00:00.5Z"), Cold: true, AppInitMs: f(12.5)}},
		records: 1,
	}, {
		name: "Lambda key names, strings for values, a function ARN; two records of one invocation",
		lines: []string{
			`{"timestamp":"2026-11-20T10:00:01Z","message":"start","requestId":"r2","cold_start":"true","init_ms":"7.25","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:proc:live"}`,
			`{"timestamp":"2026-11-20T10:00:02Z","message":"done","requestId":"r2","cold_start":false}`,
		},
		want:    []coldstart.Invocation{{Function: "proc", RequestID: "r2", Start: at("2026-11-20T10:00:01Z"), End: at("2026-11-20T10:00:01Z"), Cold: true, AppInitMs: f(7.25)}},
		records: 2,
	}, {
		name:    "slog text, behind aws logs tail's prefix; the log's function names it",
		fn:      "processor",
		lines:   []string{`2026-11-20T10:00:03.000000+00:00 2026/11/20/[$LATEST]abc time=2026-11-20T10:00:03.000Z level=INFO msg="order paid" cold_start=false request_id=r3 function=other`},
		want:    []coldstart.Invocation{{Function: "processor", RequestID: "r3", Stream: "2026/11/20/[$LATEST]abc", Start: at("2026-11-20T10:00:03Z"), End: at("2026-11-20T10:00:03Z")}},
		records: 1,
	}, {
		name:    "no request id: one invocation per record, named by the only function named",
		lines:   []string{`{"msg":"x","cold_start":true,"function":"p"}`, `{"msg":"y","cold_start":false}`},
		want:    []coldstart.Invocation{{Function: "p", Cold: true}, {Function: "p"}},
		records: 2,
	}, {
		name: "worker service startup records",
		fn:   "processor", // names Lambda invocations only
		lines: []string{
			// As `flashsale worker` logs it: its name in function, cold_start true, no request id.
			`{"time":"2026-11-20T09:00:00.12Z","level":"INFO","msg":"worker service ready","function":"flashsale-worker","addr":"http://127.0.0.1:8081","queue_url":"http://127.0.0.1:5000/123456789012/orders","workers":5,"buffer":5,"visibility_timeout":"30s","cold_start":true,"init_ms":41.7}`,
			`time=2026-11-20T10:00:00Z level=INFO msg="worker service ready" function=flashsale-worker queue_url=http://127.0.0.1:5000/123456789012/orders workers=5 cold_start=true init_ms=39.5`,
			`{"time":"2026-11-20T11:30:00Z","level":"INFO","msg":"ready","init_ms":38.2,"service":"billing","function":"ignored"}`,
			`{"time":"2026-11-20T12:00:00Z","level":"INFO","msg":"ready","init_ms":40}`,
			`{"time":"2026-11-20T09:00:01Z","level":"INFO","msg":"order paid","function":"flashsale-worker","order_id":"o-1"}`,
		},
		starts: []coldstart.ServiceStart{
			{Service: "flashsale-worker", Time: at("2026-11-20T09:00:00.12Z"), InitMs: 41.7},
			{Service: "flashsale-worker", Time: at("2026-11-20T10:00:00Z"), InitMs: 39.5},
			{Service: "billing", Time: at("2026-11-20T11:30:00Z"), InitMs: 38.2},
			{Service: "worker", Time: at("2026-11-20T12:00:00Z"), InitMs: 40},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := coldstart.Parser{Function: tt.fn}
			for _, l := range tt.lines {
				p.Line(l)
			}
			d := p.Finish()
			if !reflect.DeepEqual(d.Invocations, tt.want) {
				t.Errorf("invocations:\n got  %+v\n want %+v", d.Invocations, tt.want)
			}
			if !reflect.DeepEqual(d.ServiceStarts, tt.starts) {
				t.Errorf("service starts:\n got  %+v\n want %+v", d.ServiceStarts, tt.starts)
			}
			if d.Counts.Records != tt.records || d.Counts.ServiceStarts != len(tt.starts) || d.Counts.Malformed != 0 {
				t.Errorf("counts %+v", d.Counts)
			}
		})
	}
}

// TestSkipsMalformedAndForeign feeds lines in no known format and lines
// that look like one but are broken: each is counted and skipped, and the
// good lines around them are read.
func TestSkipsMalformedAndForeign(t *testing.T) {
	good := "REPORT RequestId: ok1\tDuration: 5.00 ms\tInit Duration: 2.00 ms"
	input := strings.Join([]string{
		"",
		"some application output",
		"START RequestId: ok1 Version: $LATEST",
		`{"level":"INFO","msg":"no cold-start fields"}`,
		`{"type":"platform.start","record":{"requestId":"ok1"}}`,
		"null",
		"REPORT RequestId: bad1\tDuration: soon ms",                                             // malformed
		`{"cold_start":"maybe","request_id":"bad2"}`,                                            // malformed
		`{"cold_start":true,"init_ms":-3,"request_id":"bad3"}`,                                  // malformed
		`{"type":"platform.report","record":{"metrics":{"durationMs":1}}}`,                      // malformed: no requestId
		`{"type":"platform.report","record":{"requestId":"bad5","metrics":{"durationMs":"x"}}}`, // malformed
		`{"cold_start": true, "request_id": "bad6"`,                                             // malformed: truncated JSON
		`time=2026-11-20T10:00:00Z msg="unterminated cold_start=true`,                           // malformed
		"{", // pretty JSON never closed
		good,
		good, // duplicate
		"REPORT RequestId: ok2\tDuration: 7.00 ms",
	}, "\n")
	var p coldstart.Parser
	if err := p.Read(context.Background(), strings.NewReader(input)); err != nil {
		t.Fatalf("Read: %v (malformed input must never be fatal)", err)
	}
	d := p.Finish()
	want := coldstart.Counts{Lines: 17, Reports: 2, Other: 5, Malformed: 8, Duplicates: 1}
	got := d.Counts
	examples := got.Examples
	got.Examples = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	if len(examples) != 5 || !strings.HasPrefix(examples[0], "line 7: ") || !strings.Contains(examples[0], "soon") {
		t.Errorf("examples %q: want the first five, with line numbers and reasons", examples)
	}
	if len(d.Invocations) != 2 || d.Invocations[0].RequestID != "ok1" || !d.Invocations[0].Cold || d.Invocations[1].RequestID != "ok2" {
		t.Errorf("invocations %+v", d.Invocations)
	}
}

func TestReadLongLine(t *testing.T) {
	long := "x" + strings.Repeat("y", 2<<20)
	input := long + "\nREPORT RequestId: r1\tDuration: 1.00 ms\n"
	var p coldstart.Parser
	if err := p.Read(context.Background(), strings.NewReader(input)); err != nil {
		t.Fatal(err)
	}
	d := p.Finish()
	if d.Counts.Lines != 2 || d.Counts.Malformed != 1 || d.Counts.Reports != 1 {
		t.Errorf("counts %+v: want the 2 MiB line malformed and the next read", d.Counts)
	}
}

func TestReadCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var p coldstart.Parser
	if err := p.Read(ctx, strings.NewReader("REPORT RequestId: r1\tDuration: 1.00 ms\n")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read on a canceled context: %v", err)
	}
}

// TestMultilineJSON reads pretty-printed JSON as `sam logs` prints it, and
// gives up on a value interrupted by a line in the first column.
func TestMultilineJSON(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		reports int
		records int
		bad     int
	}{
		{"pretty record", "2026/11/20/[$LATEST]abc 2026-11-20T10:00:00.000000 {\n  \"request_id\": \"r1\",\n  \"cold_start\": true,\n  \"note\": \"a } in a string\"\n}\nREPORT RequestId: r1\tDuration: 1.00 ms", 1, 1, 0},
		{"nested", "{\n  \"record\": {\"requestId\": \"r1\", \"metrics\": {\"durationMs\": 3}},\n  \"type\": \"platform.report\"\n}", 1, 0, 0},
		{"interrupted", "{\n  \"request_id\": \"r1\",\nREPORT RequestId: r1\tDuration: 1.00 ms", 1, 0, 1},
		{"at the end", "REPORT RequestId: r1\tDuration: 1.00 ms\n{\n  \"a\": 1,", 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p coldstart.Parser
			if err := p.Read(context.Background(), strings.NewReader(tt.input)); err != nil {
				t.Fatal(err)
			}
			c := p.Finish().Counts
			if c.Reports != tt.reports || c.Records != tt.records || c.Malformed != tt.bad {
				t.Errorf("counts %+v", c)
			}
		})
	}
}

func TestFunctionFromLogGroup(t *testing.T) {
	for group, want := range map[string]string{
		"/aws/lambda/flashsale-processor": "flashsale-processor",
		"/ecs/flashsale-worker":           "",
		"/aws/lambda/":                    "",
	} {
		if got := coldstart.FunctionFromLogGroup(group); got != want {
			t.Errorf("FunctionFromLogGroup(%q) = %q, want %q", group, got, want)
		}
	}
}
