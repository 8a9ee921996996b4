package coldstart

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"flashsale/internal/emf"
)

// DefaultFunction names the Lambda invocations of a log that names no
// function (the emulator calls its one function "function" too).
const DefaultFunction = "function"

// DefaultService names the service starts whose records name no service
// (neither a service nor a function field).
const DefaultService = "worker"

// Limits on what one line or one multi-line JSON value may hold.
const (
	maxLineBytes    = 1 << 20
	maxPendingBytes = 8 << 20
	maxExamples     = 5
)

// Invocation is one invocation of a Lambda function, assembled from its
// REPORT line (or platform.report record) and the structured records that
// carry its request id. Optional measurements are nil when unknown.
type Invocation struct {
	Function  string `json:"function"`             // the function's name
	RequestID string `json:"request_id,omitempty"` // Lambda's request id
	// Stream is the log stream, one per execution environment on AWS.
	Stream string `json:"stream,omitempty"`
	// Start is when the request arrived (its end less its duration and, on
	// a cold start, its initialisation); End is when it ended. Zero when
	// the log carries no time.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"` // see Start
	// Cold is true when the invocation started a new execution environment.
	Cold bool `json:"cold"`
	// InitMs is the platform's Init Duration (or SnapStart Restore Duration).
	InitMs *float64 `json:"init_ms,omitempty"`
	// AppInitMs is the init_ms the function logged itself: process start to
	// first invocation.
	AppInitMs       *float64 `json:"app_init_ms,omitempty"`
	DurationMs      *float64 `json:"duration_ms,omitempty"`        // REPORT's Duration
	BilledMs        *float64 `json:"billed_ms,omitempty"`          // REPORT's Billed Duration
	MemoryMB        *float64 `json:"memory_mb,omitempty"`          // REPORT's Memory Size
	MaxMemoryUsedMB *float64 `json:"max_memory_used_mb,omitempty"` // REPORT's Max Memory Used
	// Status is the REPORT status ("success", "timeout", ...), empty when
	// known only from structured records.
	Status string `json:"status,omitempty"`
}

// Init returns the initialisation of a cold start: the platform's Init
// Duration when known, else what the function logged.
func (i Invocation) Init() (float64, bool) {
	switch {
	case i.InitMs != nil:
		return *i.InitMs, true
	case i.AppInitMs != nil:
		return *i.AppInitMs, true
	}
	return 0, false
}

// ServiceStart is one start of a long-running service (the worker): one per
// deployment or scale-out, where Lambda has one per execution environment.
type ServiceStart struct {
	Service string    `json:"service"`          // the service's name
	Time    time.Time `json:"time,omitzero"`    // when it logged its startup record
	Stream  string    `json:"stream,omitempty"` // the log stream, when known
	// InitMs is the startup time the service logged (process start to ready).
	InitMs float64 `json:"init_ms"`
}

// Counts says what a Parser read and what it skipped.
type Counts struct {
	// Lines are the text lines read; Events the CloudWatch Logs events.
	Lines  int `json:"lines"`
	Events int `json:"events"` // see Lines
	// Reports are the REPORT lines and platform.report records used.
	Reports int `json:"reports"`
	// Records are the structured cold_start/init_ms records of Lambda
	// invocations used; ServiceStarts the services' startup records.
	Records       int `json:"records"`
	ServiceStarts int `json:"service_starts"` // see Records
	// Other counts the lines and records in no known format, skipped.
	Other int `json:"other"`
	// Malformed counts what looked like a known format but could not be
	// read, skipped; Examples holds the first few, with where and why.
	Malformed int      `json:"malformed"`
	Examples  []string `json:"malformed_examples,omitempty"` // see Malformed
	// Duplicates counts reports of a request id already seen, skipped.
	Duplicates int `json:"duplicates"`
	// EmulatorInits counts the emulator's INIT REPORT lines used.
	EmulatorInits int `json:"emulator_inits"`
	// EMF counts the Embedded Metric Format records used (those with a
	// ColdStart metric); other EMF records count as Other.
	EMF int `json:"emf_records"`
}

func (c *Counts) add(o Counts) {
	c.Lines += o.Lines
	c.Events += o.Events
	c.Reports += o.Reports
	c.Records += o.Records
	c.ServiceStarts += o.ServiceStarts
	c.Other += o.Other
	c.Malformed += o.Malformed
	c.Duplicates += o.Duplicates
	c.EmulatorInits += o.EmulatorInits
	c.EMF += o.EMF
	for _, e := range o.Examples {
		if len(c.Examples) < maxExamples {
			c.Examples = append(c.Examples, e)
		}
	}
}

// Dataset is what one or more Parsers read: invocations, service starts and
// the counts of what was read and skipped.
type Dataset struct {
	Invocations   []Invocation   `json:"invocations"`    // in order of start
	ServiceStarts []ServiceStart `json:"service_starts"` // in order of reading
	Counts        Counts         `json:"counts"`         // what was read and skipped
}

// Merge adds what o holds to d.
func (d *Dataset) Merge(o *Dataset) {
	d.Invocations = append(d.Invocations, o.Invocations...)
	d.ServiceStarts = append(d.ServiceStarts, o.ServiceStarts...)
	d.Counts.add(o.Counts)
}

// LogEvent is one CloudWatch Logs event.
type LogEvent struct {
	Time    time.Time // the event's timestamp
	Stream  string    // its log stream
	Message string    // its message, one or more lines
}

// Parser reads one log (a file, standard input or a log group) line by
// line or event by event. Call Finish when done. A Parser is not safe for
// concurrent use.
type Parser struct {
	// Function, when set, names every Lambda invocation read (a Lambda log
	// group holds one function). When empty, invocations take the function
	// named by their structured records; those without take the one
	// function the records name, or DefaultFunction.
	Function string
	// Service names the service starts whose records name none (in a
	// service or function field); DefaultService when empty.
	Service string

	counts   Counts
	where    string // "line 12" or "event 3", for malformed examples
	lines    int
	lastTime time.Time
	pending  *pendingJSON

	reports   []reported
	byRequest map[string]int // request id -> index in reports
	records   map[string]*record
	recOrder  []string
	loose     []record // Lambda records without a request id
	starts    []ServiceStart
	startKeys map[string]bool // keys of the service starts read; see startKey
	emuInits  []float64       // the emulator's INIT REPORT durations, in order
}

type reported struct {
	Report
	time   time.Time
	stream string
}

// record is one structured record, or those of one request id combined.
type record struct {
	requestID, function, service, stream string
	instance                             string // a service's process
	time                                 time.Time
	cold                                 *bool
	initMs                               *float64
}

// at is where a line or event came from: its time and stream, when the
// tool that printed it or the API said so.
type at struct {
	time   time.Time
	stream string
}

// Read reads r line by line until EOF. Lines longer than 1 MiB are counted
// as malformed and skipped. It returns the first read error, or ctx's.
func (p *Parser) Read(ctx context.Context, r io.Reader) error {
	n := 0
	return scanLines(r, func(line string, tooLong bool) error {
		if n++; n%4096 == 1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		p.scanned(line, tooLong)
		return nil
	})
}

// scanned parses a line read by scanLines.
func (p *Parser) scanned(line string, tooLong bool) {
	if !tooLong {
		p.Line(line)
		return
	}
	p.counts.Lines++
	p.lines++
	p.where = "line " + strconv.Itoa(p.lines)
	p.malformed(fmt.Errorf("longer than %d bytes", maxLineBytes))
}

// scanLines reads r line by line until EOF and calls emit with each line,
// or with tooLong for a line longer than maxLineBytes (its text dropped). It
// returns emit's first error, or the first read error.
func scanLines(r io.Reader, emit func(line string, tooLong bool) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	tooLong := false
	for {
		frag, isPrefix, err := br.ReadLine()
		if len(frag) > 0 || isPrefix || err == nil {
			if !tooLong {
				if len(buf)+len(frag) > maxLineBytes {
					tooLong, buf = true, buf[:0]
				} else {
					buf = append(buf, frag...)
				}
			}
			if isPrefix {
				continue
			}
			if eerr := emit(string(buf), tooLong); eerr != nil {
				return eerr
			}
			buf, tooLong = buf[:0], false
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
	}
}

// Line parses one line of text.
func (p *Parser) Line(s string) {
	p.counts.Lines++
	p.lines++
	p.where = "line " + strconv.Itoa(p.lines)
	s = stripANSI(strings.TrimRight(s, "\r\n"))
	if p.pending != nil {
		if p.continueJSON(s) {
			return
		}
	}
	p.line(s, at{}, true)
}

// Event parses one CloudWatch Logs event: a message that may hold several
// lines (a REPORT line and its XRAY line) or one JSON value.
func (p *Parser) Event(ev LogEvent) {
	p.counts.Events++
	p.where = "event " + strconv.Itoa(p.counts.Events)
	if p.pending != nil {
		p.abortJSON()
	}
	ev.Time = ev.Time.UTC()
	if !plausible(ev.Time) {
		ev.Time = time.Time{}
	}
	if !ev.Time.IsZero() {
		p.lastTime = ev.Time
	}
	a := at{time: ev.Time, stream: ev.Stream}
	msg := stripANSI(strings.TrimSpace(ev.Message))
	if strings.HasPrefix(msg, "{") && json.Valid([]byte(msg)) {
		p.jsonText(msg, a, 0)
		return
	}
	for line := range strings.SplitSeq(msg, "\n") {
		p.line(line, a, false)
	}
}

// line parses one line whose time and stream may come from a.
func (p *Parser) line(s string, a at, multi bool) {
	t := strings.TrimSpace(s)
	if t == "" {
		return
	}
	pre, rest := splitPrefix(t)
	a = a.with(pre)
	if !pre.time.IsZero() {
		p.lastTime = pre.time
	}
	switch {
	case strings.HasPrefix(rest, "{"):
		if rest == "{" && multi {
			p.startJSON(a)
			return
		}
		p.jsonText(rest, a, 0)
	case strings.Contains(t, ReportMarker):
		i := strings.Index(t, ReportMarker)
		a = a.with(scanPrefix(t[:i]))
		r, err := ParseReport(t[i:])
		if err != nil {
			p.malformed(err)
			return
		}
		p.addReport(r, a)
	case strings.Contains(rest, "INIT REPORT") && emulatorInit.MatchString(rest):
		m := emulatorInit.FindStringSubmatch(rest)
		v, err := strconv.ParseFloat(m[1]+m[2], 64)
		if err != nil {
			p.malformed(fmt.Errorf("emulator INIT REPORT: %w", err))
			return
		}
		p.emuInits = append(p.emuInits, v)
	case isLogfmtRecord(rest):
		fields, err := parseLogfmt(rest)
		if err != nil {
			p.malformed(err)
			return
		}
		p.structured(func(k string) (any, bool) { v, ok := fields[k]; return v, ok }, a)
	default:
		p.counts.Other++
	}
}

// with fills a's missing time and stream from pre.
func (a at) with(pre linePrefix) at {
	if a.time.IsZero() {
		a.time = pre.time
	}
	if a.stream == "" {
		a.stream = pre.stream
	}
	return a
}

func (p *Parser) malformed(err error) {
	p.counts.Malformed++
	if len(p.counts.Examples) < maxExamples {
		p.counts.Examples = append(p.counts.Examples, p.where+": "+err.Error())
	}
}

// jsonText parses one JSON value. nesting counts the CloudWatch event
// envelopes already opened around it.
func (p *Parser) jsonText(text string, a at, nesting int) {
	var obj map[string]any
	if err := json.Unmarshal([]byte(text), &obj); err != nil {
		p.malformed(fmt.Errorf("JSON: %w", err))
		return
	}
	p.object(obj, a, nesting)
}

func (p *Parser) object(obj map[string]any, a at, nesting int) {
	get := func(k string) (any, bool) { v, ok := obj[k]; return v, ok }
	typ, _ := obj["type"].(string)
	_, hasCold := obj["cold_start"]
	_, hasInit := obj["init_ms"]
	msg, hasMsg := obj["message"].(string)
	events, hasEvents := obj["events"].([]any)
	switch {
	case emf.IsRecord(obj):
		p.emfRecord(obj, a)
	case typ == "platform.report":
		if t, ok := timeField(get, "time"); ok {
			a.time = t
			p.lastTime = t
		}
		r, err := platformReport(obj)
		if err != nil {
			p.malformed(err)
			return
		}
		p.addReport(r, a)
	case strings.HasPrefix(typ, "platform."):
		p.counts.Other++
	case hasCold || hasInit:
		p.structured(get, a)
	case hasMsg && nesting < 2 && (has(obj, "logStreamName") || has(obj, "eventId") || has(obj, "ingestionTime")):
		// A CloudWatch Logs event, as FilterLogEvents returns it.
		ev := at{stream: a.stream}
		if s, ok := obj["logStreamName"].(string); ok {
			ev.stream = s
		}
		if t, ok := timeField(get, "timestamp"); ok {
			ev.time = t
			p.lastTime = t
		} else {
			ev.time = a.time
		}
		msg = strings.TrimSpace(msg)
		if strings.HasPrefix(msg, "{") && json.Valid([]byte(msg)) {
			p.jsonText(msg, ev, nesting+1)
			return
		}
		for line := range strings.SplitSeq(msg, "\n") {
			p.line(line, ev, false)
		}
	case hasEvents && nesting == 0:
		// The output of `aws logs filter-log-events`.
		for _, e := range events {
			if m, ok := e.(map[string]any); ok {
				p.object(m, a, nesting+1)
			} else {
				p.malformed(errors.New("events: an entry is not an object"))
			}
		}
	default:
		p.counts.Other++
	}
}

func has(obj map[string]any, k string) bool { _, ok := obj[k]; return ok }

// platformReport reads a CloudWatch JSON-format platform.report record.
func platformReport(obj map[string]any) (Report, error) {
	rec, ok := obj["record"].(map[string]any)
	if !ok {
		return Report{}, errors.New("platform.report without a record")
	}
	var r Report
	if r.RequestID, _ = rec["requestId"].(string); r.RequestID == "" {
		return Report{}, errors.New("platform.report without a requestId")
	}
	metrics, ok := rec["metrics"].(map[string]any)
	if !ok {
		return Report{}, errors.New("platform.report without metrics")
	}
	num := func(k string) (*float64, error) {
		v, ok := metrics[k]
		if !ok || v == nil {
			return nil, nil
		}
		f, ok := v.(float64)
		if !ok || !validMeasure(f) {
			return nil, fmt.Errorf("platform.report: metrics.%s %v is not a number", k, v)
		}
		return &f, nil
	}
	d, err := num("durationMs")
	if err != nil {
		return Report{}, err
	}
	if d == nil {
		return Report{}, errors.New("platform.report without metrics.durationMs")
	}
	r.DurationMs = *d
	for k, dst := range map[string]**float64{
		"billedDurationMs": &r.BilledMs, "memorySizeMB": &r.MemoryMB, "maxMemoryUsedMB": &r.MaxMemoryUsedMB,
		"initDurationMs": &r.InitMs, "restoreDurationMs": &r.RestoreMs,
	} {
		if *dst, err = num(k); err != nil {
			return Report{}, err
		}
	}
	if r.Status, _ = rec["status"].(string); r.Status == "" {
		r.Status = "success"
	}
	return r, nil
}

func (p *Parser) addReport(r Report, a at) {
	if a.time.IsZero() {
		a.time = p.lastTime
	}
	if p.byRequest == nil {
		p.byRequest = map[string]int{}
	}
	if _, dup := p.byRequest[r.RequestID]; dup {
		p.counts.Duplicates++
		return
	}
	p.counts.Reports++
	p.byRequest[r.RequestID] = len(p.reports)
	p.reports = append(p.reports, reported{Report: r, time: a.time, stream: a.stream})
}

// emulatorInit matches the runtime interface emulator's own init report,
// "(rapid) INIT REPORT(durationMs: 3.567000)", and the line `make invoke`
// prints from it, "emulator INIT REPORT: 3.57 ms".
var emulatorInit = regexp.MustCompile(`INIT REPORT(?:\((?:[^)]*\s)?durationMs: ([0-9.]+)|: ([0-9.]+) ms)`)

// Field names accepted in structured records, first match wins.
var (
	requestIDKeys = []string{"request_id", "requestId", "aws_request_id", "AWSRequestId"}
	functionKeys  = []string{"function", "function_name", "functionName"}
	serviceKeys   = []string{"service", "component"}
	timeKeys      = []string{"time", "timestamp"}
	instanceKeys  = []string{"instance"}
)

// structured reads one cold_start / init_ms record, JSON or key=value.
func (p *Parser) structured(get func(string) (any, bool), a at) {
	var rec record
	if v, ok := get("cold_start"); ok {
		b, e := boolValue(v)
		if e != nil {
			p.malformed(fmt.Errorf("cold_start: %w", e))
			return
		}
		rec.cold = &b
	}
	if v, ok := get("init_ms"); ok {
		f, e := floatValue(v)
		if e != nil || !validMeasure(f) {
			if e == nil {
				e = fmt.Errorf("%v is out of range", f)
			}
			p.malformed(fmt.Errorf("init_ms: %w", e))
			return
		}
		rec.initMs = &f
	}
	rec.requestID = stringField(get, requestIDKeys)
	rec.function = stringField(get, functionKeys)
	if rec.function == "" {
		if arn := stringField(get, []string{"functionArn"}); arn != "" {
			rec.function = functionFromARN(arn)
		}
	}
	rec.service = stringField(get, serviceKeys)
	rec.instance = stringField(get, instanceKeys)
	rec.stream = a.stream
	rec.time = a.time
	for _, k := range timeKeys {
		if t, ok := timeField(get, k); ok {
			rec.time = t
			p.lastTime = t
			break
		}
	}
	if rec.time.IsZero() {
		rec.time = p.lastTime
	}
	p.addRecord(rec, false)
}

// addRecord adds a structured or EMF record: a service start when it
// carries an init but no request id, else a Lambda invocation's record,
// merged with the other records and the REPORT of its request id.
func (p *Parser) addRecord(rec record, fromEMF bool) {
	if rec.initMs != nil && rec.requestID == "" {
		// init_ms outside any invocation: a service's startup record. (The
		// worker's carries cold_start and its name in function too; every
		// record of a Lambda invocation carries its request id.)
		name := cmp.Or(rec.service, rec.function, p.Service, DefaultService)
		key := startKey(name, rec)
		if p.startKeys[key] {
			// The same start, told by its log record and its EMF record.
			return
		}
		if p.startKeys == nil {
			p.startKeys = map[string]bool{}
		}
		p.startKeys[key] = true
		if !fromEMF {
			p.counts.ServiceStarts++
		}
		p.starts = append(p.starts, ServiceStart{Service: name, Time: rec.time, Stream: rec.stream, InitMs: *rec.initMs})
		return
	}
	if rec.cold == nil {
		// init_ms with a request id: the first invocation of an environment.
		rec.cold = new(true)
	}
	if !fromEMF {
		p.counts.Records++
	}
	if rec.requestID == "" {
		p.loose = append(p.loose, rec)
		return
	}
	if p.records == nil {
		p.records = map[string]*record{}
	}
	old, ok := p.records[rec.requestID]
	if !ok {
		p.records[rec.requestID] = &rec
		p.recOrder = append(p.recOrder, rec.requestID)
		return
	}
	// Several records of one invocation: cold if any says so.
	if *rec.cold {
		old.cold = rec.cold
	}
	if old.initMs == nil {
		old.initMs = rec.initMs
	}
	if old.function == "" {
		old.function = rec.function
	}
	if old.stream == "" {
		old.stream = rec.stream
	}
	if old.time.IsZero() || (!rec.time.IsZero() && rec.time.Before(old.time)) {
		old.time = rec.time
	}
}

// startKey identifies a service start across the records that tell it (the
// worker's startup log record and its EMF record): its process (instance)
// and init when the records name the process, else its service, log stream
// and init. Init is the same number in both records, to the microsecond.
func startKey(name string, rec record) string {
	init := strconv.FormatFloat(*rec.initMs, 'f', -1, 64)
	if rec.instance != "" {
		return "instance\x00" + rec.instance + "\x00" + init
	}
	return "service\x00" + name + "\x00" + rec.stream + "\x00" + init
}

// EMF metric names the analysis reads: those the functions and the worker
// write (see package serverless), which AWS's Powertools use too.
const (
	emfColdStart    = "ColdStart"
	emfInitDuration = "InitDuration"
)

// emfRecord reads a CloudWatch Embedded Metric Format record. One with a
// ColdStart metric describes an invocation (with its request id) or a
// service start (with an InitDuration and no request id); it is merged with
// the other records of the same invocation or start (see addRecord and
// startKey). Other EMF records are counted as other.
func (p *Parser) emfRecord(obj map[string]any, a at) {
	doc, err := emf.Parse(obj)
	if err != nil {
		p.malformed(err)
		return
	}
	cs, ok := doc.Metric(emfColdStart)
	if !ok || len(cs.Values) == 0 {
		p.counts.Other++
		return
	}
	get := func(k string) (any, bool) { v, ok := doc.Root[k]; return v, ok }
	rec := record{
		requestID: stringField(get, requestIDKeys),
		function:  stringField(get, functionKeys),
		service:   stringField(get, serviceKeys),
		instance:  stringField(get, instanceKeys),
		stream:    a.stream,
		time:      doc.Time,
		cold:      new(slices.ContainsFunc(cs.Values, func(v float64) bool { return v > 0 })),
	}
	if init, ok := doc.Metric(emfInitDuration); ok && len(init.Values) > 0 {
		v := init.Values[0]
		if !validMeasure(v) {
			p.malformed(fmt.Errorf("EMF %s %v is out of range", emfInitDuration, v))
			return
		}
		rec.initMs = &v
	}
	if !plausible(rec.time) {
		rec.time = a.time
	}
	if !rec.time.IsZero() {
		p.lastTime = rec.time
	} else {
		rec.time = p.lastTime
	}
	p.counts.EMF++
	p.addRecord(rec, true)
}

func stringField(get func(string) (any, bool), keys []string) string {
	for _, k := range keys {
		if v, ok := get(k); ok {
			if s, ok := v.(string); ok && s != "" {
				return s
			}
		}
	}
	return ""
}

// timeField reads an RFC 3339 string or milliseconds since the epoch.
func timeField(get func(string) (any, bool), key string) (time.Time, bool) {
	v, ok := get(key)
	if !ok {
		return time.Time{}, false
	}
	var t time.Time
	switch v := v.(type) {
	case string:
		if p, err := time.Parse(time.RFC3339Nano, v); err == nil {
			t = p
		} else if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			t = time.UnixMilli(ms)
		}
	case float64:
		if v > 0 && v < 1e15 {
			t = time.UnixMilli(int64(v))
		}
	}
	if !plausible(t) {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func boolValue(v any) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%q is not a boolean", v)
		}
		return b, nil
	}
	return false, fmt.Errorf("%v is not a boolean", v)
}

func floatValue(v any) (float64, error) {
	switch v := v.(type) {
	case float64:
		return v, nil
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", v)
		}
		return f, nil
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

// functionFromARN returns the function name of a Lambda function ARN.
func functionFromARN(arn string) string {
	_, after, ok := strings.Cut(arn, ":function:")
	if !ok {
		return arn
	}
	name, _, _ := strings.Cut(after, ":")
	return name
}

// FunctionFromLogGroup returns the function whose log group is group
// ("/aws/lambda/NAME"), or "" for another log group.
func FunctionFromLogGroup(group string) string {
	name, ok := strings.CutPrefix(group, "/aws/lambda/")
	if !ok {
		return ""
	}
	return name
}

// pairEmulatorInits returns copies of the reports and counts in which the
// cold starts have the emulator's INIT REPORT durations. The emulator's REPORT lines carry an Init Duration that times
// only its own init call (hundredths of a millisecond); its INIT REPORT line
// times the bootstrap from start to its first request for work, as Lambda's
// Init Duration does. Each emulator run prints one of each, the INIT REPORT
// before or (through `make invoke`) after the REPORT line, so the i-th goes
// with the i-th cold REPORT; when the counts differ, nothing is paired.
func (p *Parser) pairEmulatorInits() ([]reported, Counts) {
	reports, counts := slices.Clone(p.reports), p.counts
	counts.Examples = slices.Clone(p.counts.Examples)
	var cold []int
	for i, r := range reports {
		if r.InitMs != nil {
			cold = append(cold, i)
		}
	}
	if len(p.emuInits) == 0 || len(p.emuInits) != len(cold) {
		counts.Other += len(p.emuInits)
		return reports, counts
	}
	for k, i := range cold {
		reports[i].InitMs = &p.emuInits[k]
	}
	counts.EmulatorInits = len(p.emuInits)
	return reports, counts
}

// Finish ends the log and returns what was read. The Parser must not be
// used afterwards.
func (p *Parser) Finish() *Dataset {
	if p.pending != nil {
		p.abortJSON()
	}
	return p.Snapshot()
}

// Snapshot returns what was read so far, as Finish would, and leaves the
// Parser reading: `coldstarts --follow` analyses a growing log with it. A
// JSON value still open over several lines is left out until it closes.
func (p *Parser) Snapshot() *Dataset {
	reports, counts := p.pairEmulatorInits()
	d := &Dataset{Counts: counts, ServiceStarts: slices.Clone(p.starts)}

	name := p.Function
	if name == "" {
		named := map[string]bool{}
		for _, r := range p.records {
			if r.function != "" {
				named[r.function] = true
			}
		}
		for _, r := range p.loose {
			if r.function != "" {
				named[r.function] = true
			}
		}
		name = DefaultFunction
		if len(named) == 1 {
			for n := range named {
				name = n
			}
		}
	}
	fn := func(r *record) string {
		if p.Function == "" && r != nil && r.function != "" {
			return r.function
		}
		return name
	}

	for _, r := range reports {
		inv := Invocation{
			RequestID: r.RequestID, Stream: r.stream, End: r.time, Cold: r.Cold(),
			DurationMs: new(r.DurationMs), BilledMs: r.BilledMs, MemoryMB: r.MemoryMB,
			MaxMemoryUsedMB: r.MaxMemoryUsedMB, Status: r.Status, InitMs: r.InitMs,
		}
		if inv.InitMs == nil {
			inv.InitMs = r.RestoreMs
		}
		rec := p.records[r.RequestID]
		if rec != nil {
			inv.Cold = inv.Cold || *rec.cold
			inv.AppInitMs = rec.initMs
			if inv.Stream == "" {
				inv.Stream = rec.stream
			}
			if inv.End.IsZero() {
				inv.End = rec.time
			}
		}
		inv.Function = fn(rec)
		if !inv.End.IsZero() {
			span := r.DurationMs
			if inv.InitMs != nil {
				span += *inv.InitMs
			}
			inv.Start = inv.End.Add(-time.Duration(math.Round(span * float64(time.Millisecond))))
		}
		d.Invocations = append(d.Invocations, inv)
	}
	fromRecord := func(r *record) Invocation {
		return Invocation{
			Function: fn(r), RequestID: r.requestID, Stream: r.stream,
			Start: r.time, End: r.time, Cold: *r.cold, AppInitMs: r.initMs,
		}
	}
	for _, id := range p.recOrder {
		if _, ok := p.byRequest[id]; !ok {
			d.Invocations = append(d.Invocations, fromRecord(p.records[id]))
		}
	}
	for i := range p.loose {
		d.Invocations = append(d.Invocations, fromRecord(&p.loose[i]))
	}
	slices.SortStableFunc(d.Invocations, func(a, b Invocation) int { return a.Start.Compare(b.Start) })
	return d
}
