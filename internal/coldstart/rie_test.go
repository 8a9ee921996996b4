package coldstart_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"flashsale/internal/coldstart"
	"flashsale/internal/testutil/emfschema"
	"flashsale/internal/testutil/rie"
	"flashsale/internal/testutil/syncbuf"
)

// repoRoot is the module's root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	return root
}

// What the emulator prints, read with plain regexps as a cross-check.
var (
	rieReport = regexp.MustCompile(`(?m)^REPORT RequestId: (\S+)\t(?:Init Duration: ([0-9.]+) ms\t)?Duration: ([0-9.]+) ms\t`)
	rieInit   = regexp.MustCompile(`\(rapid\) INIT REPORT\(durationMs: ([0-9.]+)\)`)
)

// TestParseEmulatorCapture runs the processor Lambda's bootstrap under
// aws-lambda-rie, invokes it once cold and three times warm, restarts the
// emulator after a pause and invokes it again, and parses everything the
// emulators printed (their own log lines, the function's JSON records, the
// START, END and REPORT lines), as `make invoke | flashsale coldstarts`
// would. The function's EMF records (one per invocation) are validated
// against the specification, and count no cold start twice. Set
// COLDSTART_CAPTURE=FILE to keep the capture.
func TestParseEmulatorCapture(t *testing.T) {
	emulator := rie.Require(t, filepath.Join(repoRoot(t), "bin"))
	root := repoRoot(t)
	bootstrap := rie.Build(t, root, "./functions/processor")
	event, err := os.ReadFile(filepath.Join(root, "events", "sns-order.json"))
	if err != nil {
		t.Fatal(err)
	}
	const orderID = "01JGZ8Q4M6V3T9N2K7D5R1XWYA" // the order in events/sns-order.json
	if !bytes.Contains(event, []byte(orderID)) {
		t.Fatalf("events/sns-order.json no longer holds order %s", orderID)
	}

	const perRun, pause = 4, 600 * time.Millisecond
	var runs []string
	var wantIDs [][]string
	for run := range 2 {
		if run > 0 {
			time.Sleep(pause)
		}
		var capture syncbuf.Buffer
		e, err := rie.Start(context.Background(), rie.Config{
			Emulator: emulator, Bootstrap: bootstrap, FunctionName: "processor", MemoryMB: 512, Log: &capture,
			Env: []string{"PAYMENT_DELAY=30ms", "PAYMENT_DECLINE_RATE=0", "AWS_REGION=us-east-1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := range perRun {
			// A new order each time: a redelivered one is skipped, not paid.
			ev := bytes.ReplaceAll(event, []byte(orderID), []byte(orderID[:len(orderID)-1]+string(rune('A'+run*perRun+i))))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			inv, err := e.Invoke(ctx, "", ev)
			cancel()
			if err != nil {
				e.Stop()
				t.Fatalf("run %d invocation %d: %v", run, i, err)
			}
			if inv.Err != nil {
				t.Errorf("run %d invocation %d: function error %v", run, i, inv.Err)
			}
			ids = append(ids, inv.RequestID)
		}
		e.Stop()
		runs = append(runs, capture.String())
		wantIDs = append(wantIDs, ids)
	}
	captured := strings.Join(runs, "")
	if path := os.Getenv("COLDSTART_CAPTURE"); path != "" {
		if err := os.WriteFile(path, []byte(captured), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("captured:\n%s", captured)
		}
	})

	reports := rieReport.FindAllStringSubmatch(captured, -1)
	if len(reports) != 2*perRun {
		t.Fatalf("the emulators printed %d REPORT lines, want %d", len(reports), 2*perRun)
	}
	for i, m := range reports {
		if first := i%perRun == 0; (m[2] != "") != first {
			t.Fatalf("REPORT %d: Init Duration %q, want one only on the first invocation of each emulator", i, m[2])
		}
	}
	// The cold starts' init is what the emulator's INIT REPORT lines say
	// (its REPORT lines' Init Duration times only its own init call).
	var wantInits []float64
	for _, m := range rieInit.FindAllStringSubmatch(captured, -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		wantInits = append(wantInits, v)
	}
	if len(wantInits) != 2 {
		t.Fatalf("%d emulator INIT REPORT lines, want 2", len(wantInits))
	}

	// One EMF record per invocation, valid by the specification: ColdStart
	// 1 with InitDuration on the first of each emulator run, a payment
	// duration each.
	recs := emfschema.Records(t, []byte(captured))
	if len(recs) != 2*perRun {
		t.Fatalf("%d EMF records, want one per invocation (%d)", len(recs), 2*perRun)
	}
	for i, r := range recs {
		first := i%perRun == 0
		_, hasInit := r["InitDuration"]
		if r["ColdStart"] != map[bool]float64{true: 1, false: 0}[first] || hasInit != first ||
			r["function"] != "processor" || r["request_id"] != wantIDs[i/perRun][i%perRun] {
			t.Errorf("EMF record %d: %v", i, r)
		}
		if pd, ok := r["PaymentDuration"].(float64); !ok || pd < 30 {
			t.Errorf("EMF record %d: PaymentDuration %v, want the 30ms payment", i, r["PaymentDuration"])
		}
	}

	var p coldstart.Parser
	if err := p.Read(context.Background(), strings.NewReader(captured)); err != nil {
		t.Fatal(err)
	}
	d := p.Finish()
	if d.Counts.Reports != 2*perRun || d.Counts.EmulatorInits != 2 || d.Counts.Malformed != 0 || d.Counts.EMF != 2*perRun {
		t.Fatalf("counts %+v: want %d reports and EMF records, 2 emulator inits and nothing malformed", d.Counts, 2*perRun)
	}
	if d.Counts.Records < 2*perRun {
		t.Errorf("%d cold_start records, want at least one per invocation (%d)", d.Counts.Records, 2*perRun)
	}
	if d.Counts.Other == 0 {
		t.Error("the emulator's own lines (START, END, rapid INFO) were not counted as other")
	}
	a := coldstart.Analyze(d)
	if len(a.Summaries) != 1 {
		t.Fatalf("summaries %+v: want one, the processor", a.Summaries)
	}
	s := a.Summaries[0]
	if s.Name != "processor" || s.Kind != coldstart.KindLambda {
		t.Errorf("summary of %q (%s), want processor (lambda): the records' function field names it", s.Name, s.Kind)
	}
	if s.Invocations != 2*perRun || s.ColdStarts != 2 {
		t.Fatalf("%d invocations, %d cold starts; want %d and 2", s.Invocations, s.ColdStarts, 2*perRun)
	}
	if got := coldstart.NewDist(wantInits); s.Init != got {
		t.Errorf("init %+v, want the emulator's INIT REPORT durations %+v", s.Init, got)
	}
	if s.AppInit.Count != 2 || s.AppInit.Min <= 0 {
		t.Errorf("app init %+v: want the processor's init_ms of both cold starts", s.AppInit)
	}
	if s.WarmDurationP50 == nil || *s.WarmDurationP50 < 30 {
		t.Errorf("warm duration p50 %v: want at least the 30ms payment", s.WarmDurationP50)
	}
	first, second := s.Starts[0], s.Starts[1]
	if first.RequestID != wantIDs[0][0] || second.RequestID != wantIDs[1][0] {
		t.Errorf("cold starts %s and %s, want the first invocations %s and %s", first.RequestID, second.RequestID, wantIDs[0][0], wantIDs[1][0])
	}
	if first.Cause != coldstart.CauseFirst {
		t.Errorf("first cold start: cause %s, want %s", first.Cause, coldstart.CauseFirst)
	}
	// The second emulator started after the pause: a cold start after idle
	// time, whose gap covers the pause (times come from the emulator's and
	// the function's timestamped lines, to within an invocation).
	if second.Cause != coldstart.CauseIdle || second.IdleGapMs == nil {
		t.Fatalf("second cold start %+v: want cause idle with a gap", second)
	}
	if gap := time.Duration(*second.IdleGapMs * float64(time.Millisecond)); gap < pause-100*time.Millisecond || gap > 30*time.Second {
		t.Errorf("idle gap %v, want about the %v pause (plus the emulator's start)", gap, pause)
	}
}
