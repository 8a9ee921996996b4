package rie

import (
	"strings"
	"testing"
)

func TestParseReport(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    Report
		wantErr bool
	}{
		{"cold", "REPORT RequestId: a\tInit Duration: 12.50 ms\tDuration: 3001.20 ms\tBilled Duration: 3002 ms\tMemory Size: 512 MB\tMax Memory Used: 512 MB\t",
			Report{DurationMS: 3001.2, BilledMS: 3002, InitMS: 12.5, HasInit: true}, false},
		{"warm", "REPORT RequestId: b\tDuration: 1.56 ms\tBilled Duration: 2 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t",
			Report{DurationMS: 1.56, BilledMS: 2}, false},
		{"not a report", "END RequestId: b", Report{}, true},
		{"no duration", "REPORT RequestId: c\tMemory Size: 1 MB", Report{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReport(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			got.Line = ""
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestInitReportsAndLines(t *testing.T) {
	e := &Emulator{stdout: &lineBuffer{}, stderr: &lineBuffer{}}
	_, _ = e.stderr.Write([]byte("x [INFO] (rapid) INIT REPORT(durationMs: 10.828000)\nx [INFO] (rapid) INVOKE START\ny INIT REPORT(initType: on-demand, durationMs: 7.25, status: ok)\npartial INIT REPORT(durationMs: 99"))
	got := e.InitReports()
	if len(got) != 2 || got[0] != 10.828 || got[1] != 7.25 {
		t.Fatalf("InitReports = %v, want [10.828 7.25] (the unfinished line ignored)", got)
	}
	_, _ = e.stdout.Write([]byte("START RequestId: r1 Version: $LATEST\n{\"a\":1}\nEND RequestId: r1\nREPORT RequestId: r1\tDuration: 1 ms\t\nSTART RequestId: r2 Version: $LATEST\n{\"b\":2}\nEND RequestId: r2\n"))
	lines := e.stdout.Lines()
	if got := between(lines, "START RequestId: r2 ", "END RequestId: r2"); strings.Join(got, "|") != `{"b":2}` {
		t.Fatalf("lines of r2 = %q", got)
	}
	if indexPrefix(lines, "REPORT RequestId: r2\t") != -1 || indexPrefix(lines, "REPORT RequestId: r1\t") != 3 {
		t.Fatal("indexPrefix found the wrong REPORT line")
	}
}
