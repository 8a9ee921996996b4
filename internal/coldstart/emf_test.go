package coldstart_test

import (
	"context"
	"strings"
	"testing"

	"flashsale/internal/coldstart"
)

// EMF records as the functions and the worker write them.
const (
	emfColdProcessor = `{"ColdStart":1,"InitDuration":61.25,"PaymentDuration":3001.5,"_aws":{"Timestamp":1767225603100,"CloudWatchMetrics":[{"Namespace":"flashsale","Dimensions":[["function"]],"Metrics":[{"Name":"ColdStart","Unit":"Count"},{"Name":"InitDuration","Unit":"Milliseconds"},{"Name":"PaymentDuration","Unit":"Milliseconds"}]}]},"function":"processor","request_id":"req-1"}`
	emfWarmProcessor = `{"ColdStart":0,"PaymentDuration":3000.2,"_aws":{"Timestamp":1767225606200,"CloudWatchMetrics":[{"Namespace":"flashsale","Dimensions":[["function"]],"Metrics":[{"Name":"ColdStart","Unit":"Count"},{"Name":"PaymentDuration","Unit":"Milliseconds"}]}]},"function":"processor","request_id":"req-2"}`
	reportCold       = "REPORT RequestId: req-1\tInit Duration: 65.10 ms\tDuration: 3003.00 ms\tBilled Duration: 3069 ms\tMemory Size: 512 MB\tMax Memory Used: 30 MB"
	reportWarm       = "REPORT RequestId: req-2\tDuration: 3001.00 ms\tBilled Duration: 3002 ms\tMemory Size: 512 MB\tMax Memory Used: 30 MB"
	slogCold         = `{"time":"2026-01-01T00:00:03.090Z","level":"INFO","msg":"order paid","function":"processor","cold_start":true,"init_ms":61.25,"request_id":"req-1"}`
	emfWorker        = `{"ColdStart":1,"InitDuration":412.5,"_aws":{"Timestamp":1767225600500,"CloudWatchMetrics":[{"Namespace":"flashsale","Dimensions":[["function"]],"Metrics":[{"Name":"ColdStart","Unit":"Count"},{"Name":"InitDuration","Unit":"Milliseconds"}]}]},"function":"flashsale-worker","instance":"host-7"}`
	slogWorker       = `{"time":"2026-01-01T00:00:00.499Z","level":"INFO","msg":"worker service ready","function":"flashsale-worker","instance":"host-7","cold_start":true,"init_ms":412.5}`
	emfOther         = `{"Orders":3,"_aws":{"Timestamp":1767225600500,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[[]],"Metrics":[{"Name":"Orders"}]}]}}`
	emfBroken        = `{"ColdStart":"yes","_aws":{"Timestamp":1767225600500,"CloudWatchMetrics":[{"Namespace":"flashsale","Dimensions":[[]],"Metrics":[{"Name":"ColdStart"}]}]}}`
)

// TestParseEMF reads EMF records alone and mixed with the REPORT lines and
// log records of the same cold starts: each cold start counts once.
func TestParseEMF(t *testing.T) {
	tests := []struct {
		name                       string
		lines                      []string
		wantInvocations, wantCold  int
		wantServiceStarts, wantEMF int
		wantOther, wantMalformed   int
		wantInitP50                float64
		wantAppInit                bool
	}{
		{"EMF only", []string{emfColdProcessor, emfWarmProcessor}, 2, 1, 0, 2, 0, 0, 61.25, true},
		{"REPORT and EMF", []string{emfColdProcessor, reportCold, emfWarmProcessor, reportWarm}, 2, 1, 0, 2, 0, 0, 65.10, true},
		{"REPORT, log record and EMF", []string{slogCold, emfColdProcessor, reportCold, reportWarm, emfWarmProcessor}, 2, 1, 0, 2, 0, 0, 65.10, true},
		{"EMF before its REPORT, twice", []string{emfColdProcessor, emfColdProcessor, reportCold}, 1, 1, 0, 2, 0, 0, 65.10, true},
		{"worker: log record and EMF", []string{slogWorker, emfWorker}, 0, 0, 1, 1, 0, 0, 412.5, false},
		{"worker: EMF only", []string{emfWorker}, 0, 0, 1, 1, 0, 0, 412.5, false},
		{"two worker processes", []string{emfWorker, strings.Replace(emfWorker, "host-7", "host-8", 1), slogWorker}, 0, 0, 2, 2, 0, 0, 412.5, false},
		{"another EMF record", []string{emfOther, reportWarm}, 1, 0, 0, 0, 1, 0, 0, false},
		{"a broken EMF record", []string{emfBroken}, 0, 0, 0, 0, 0, 1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p coldstart.Parser
			if err := p.Read(context.Background(), strings.NewReader(strings.Join(tt.lines, "\n"))); err != nil {
				t.Fatal(err)
			}
			d := p.Finish()
			c := d.Counts
			if len(d.Invocations) != tt.wantInvocations || len(d.ServiceStarts) != tt.wantServiceStarts ||
				c.EMF != tt.wantEMF || c.Other != tt.wantOther || c.Malformed != tt.wantMalformed {
				t.Fatalf("%d invocations, %d service starts, counts %+v; want %d, %d, %d EMF, %d other, %d malformed",
					len(d.Invocations), len(d.ServiceStarts), c, tt.wantInvocations, tt.wantServiceStarts, tt.wantEMF, tt.wantOther, tt.wantMalformed)
			}
			a := coldstart.Analyze(d)
			cold := 0
			var init coldstart.Dist
			for _, s := range a.Summaries {
				if s.Kind == coldstart.KindLambda {
					cold += s.ColdStarts
					if s.ColdStarts > 0 {
						init = s.Init
						if (s.AppInit.Count > 0) != tt.wantAppInit {
							t.Errorf("%s: app init %+v", s.Name, s.AppInit)
						}
						if s.Name != "processor" {
							t.Errorf("function %q, want processor (the EMF record's dimension)", s.Name)
						}
					}
				} else {
					init = s.Init
				}
			}
			if cold != tt.wantCold || init.P50 != tt.wantInitP50 {
				t.Errorf("%d cold starts, init p50 %v; want %d and %v", cold, init.P50, tt.wantCold, tt.wantInitP50)
			}
		})
	}
}

// TestSnapshot: a Snapshot leaves the Parser reading, and what it returns
// is what Finish would.
func TestSnapshot(t *testing.T) {
	var p coldstart.Parser
	p.Line(reportCold)
	if d := p.Snapshot(); len(d.Invocations) != 1 {
		t.Fatalf("snapshot: %d invocations", len(d.Invocations))
	}
	p.Line(reportWarm)
	p.Line(emfWarmProcessor)
	s := p.Snapshot()
	f := p.Finish()
	if len(s.Invocations) != 2 || len(f.Invocations) != 2 || s.Counts.Lines != f.Counts.Lines {
		t.Errorf("snapshot %+v, finish %+v", s.Counts, f.Counts)
	}
}
