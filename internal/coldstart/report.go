package coldstart

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ReportMarker starts the text REPORT line that Lambda (and its emulator)
// prints at the end of every invocation.
const ReportMarker = "REPORT RequestId:"

// Report is what one REPORT line (or one platform.report record) says about
// an invocation. Optional measurements are nil when the line omits them.
type Report struct {
	// RequestID is the invocation's request id.
	RequestID string
	// DurationMs is the invocation's duration, initialisation excluded.
	DurationMs float64
	// BilledMs is the billed duration.
	BilledMs *float64
	// MemoryMB is the configured memory.
	MemoryMB *float64
	// MaxMemoryUsedMB is the peak memory used.
	MaxMemoryUsedMB *float64
	// InitMs is the Init Duration, present only on a cold start.
	InitMs *float64
	// RestoreMs is the Restore Duration of a SnapStart restore, which stands
	// in for initialisation on functions that use SnapStart.
	RestoreMs *float64
	// Status is "success" when absent from the line, or what Lambda says
	// ("timeout", "error", ...).
	Status string
}

// Cold reports whether the invocation started a new execution environment:
// its report carries an Init Duration (or a SnapStart Restore Duration).
func (r Report) Cold() bool { return r.InitMs != nil || r.RestoreMs != nil }

// reportField matches one "Label: value" pair of a REPORT line. The labels
// are alternatives in an order that makes "Billed Duration" and "Init
// Duration" win over the bare "Duration" at the same position.
var reportField = regexp.MustCompile(`(Billed Restore Duration|Restore Duration|Billed Duration|Init Duration|Max Memory Used|Memory Size|Duration|RequestId|Status|Error Type):\s*([^\s]+)`)

// maxMeasure bounds the milliseconds and megabytes a log may report: far
// above any Lambda limit (15 minutes, 10,240 MB), far below overflow.
const maxMeasure = 1e9

// validMeasure reports whether v is a plausible duration or size.
func validMeasure(v float64) bool { return v >= 0 && v <= maxMeasure }

// ErrNotReport is returned by ParseReport for text that is not a REPORT line.
var ErrNotReport = errors.New("not a REPORT line")

// ParseReport parses a text REPORT line, from "REPORT RequestId:" on; text
// before the marker (a timestamp, a log stream name) is ignored. Fields may
// be separated by tabs, as Lambda prints them, or by spaces, and may come in
// any order. RequestId and Duration are required.
func ParseReport(line string) (Report, error) {
	i := strings.Index(line, ReportMarker)
	if i < 0 {
		return Report{}, ErrNotReport
	}
	var r Report
	seen := map[string]bool{}
	for _, m := range reportField.FindAllStringSubmatch(line[i+len("REPORT "):], -1) {
		label, value := m[1], m[2]
		if seen[label] {
			return Report{}, fmt.Errorf("REPORT line: %s given twice", label)
		}
		seen[label] = true
		switch label {
		case "RequestId":
			r.RequestID = value
		case "Status":
			r.Status = value
		case "Error Type":
			// Reported with Status; nothing to keep.
		default:
			v, err := strconv.ParseFloat(value, 64)
			if err != nil || !validMeasure(v) {
				return Report{}, fmt.Errorf("REPORT line: %s %q is not a number", label, value)
			}
			switch label {
			case "Duration":
				r.DurationMs = v
			case "Billed Duration":
				r.BilledMs = &v
			case "Memory Size":
				r.MemoryMB = &v
			case "Max Memory Used":
				r.MaxMemoryUsedMB = &v
			case "Init Duration":
				r.InitMs = &v
			case "Restore Duration":
				r.RestoreMs = &v
			}
		}
	}
	switch {
	case r.RequestID == "":
		return Report{}, errors.New("REPORT line without a RequestId")
	case !seen["Duration"]:
		return Report{}, errors.New("REPORT line without a Duration")
	}
	if r.Status == "" {
		r.Status = "success"
	}
	return r, nil
}
