package coldstart

import (
	"regexp"
	"strings"
	"time"
)

// ansiEscape matches the colour codes that `sam logs` adds on a terminal.
var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	return ansiEscape.ReplaceAllString(s, "")
}

// oneTokenLayouts are the timestamps, written as one token, that log tools
// put in front of a message: RFC 3339 with or without zone (`aws logs tail`
// prints "2024-05-01T10:00:03.512000+00:00", its short format
// "2024-05-01T10:00:03", `sam logs` "2024-05-01T10:00:03.512000", in UTC).
var oneTokenLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
}

// plausible reports whether t can be a log time; others are ignored (and
// would not survive JSON output once an invocation's duration is taken off).
func plausible(t time.Time) bool { return t.Year() >= 1970 && t.Year() < 9000 }

// parseTimeToken parses one token as a timestamp; times without a zone are
// UTC, as the AWS tools print them.
func parseTimeToken(tok string) (time.Time, bool) {
	if len(tok) < len("2006-01-02T15:04:05") || tok[4] != '-' || tok[10] != 'T' {
		return time.Time{}, false
	}
	for _, layout := range oneTokenLayouts {
		if t, err := time.Parse(layout, tok); err == nil && plausible(t) {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// leadingTime parses a timestamp at the start of s and returns the rest.
// Besides the one-token forms it knows the runtime interface emulator's
// "25 Nov 2026 19:24:31,262" and Go's log package "2026/11/25 19:24:31",
// both in the local time of the machine that printed them. Times are
// returned in UTC.
func leadingTime(s string) (time.Time, string, bool) {
	tok, rest := cutToken(s)
	if t, ok := parseTimeToken(tok); ok {
		return t, rest, true
	}
	// Emulator: "02 Jan 2006 15:04:05,000" (four tokens).
	if len(s) >= len("02 Jan 2006 15:04:05,000") && s[2] == ' ' && s[6] == ' ' && s[11] == ' ' {
		if t, err := time.ParseInLocation("02 Jan 2006 15:04:05,000", s[:24], time.Local); err == nil && plausible(t) {
			return t.UTC(), strings.TrimLeft(s[24:], " \t"), true
		}
	}
	// Go's log package: "2006/01/02 15:04:05" (two tokens, optional micros).
	if len(s) >= len("2006/01/02 15:04:05") && s[4] == '/' && s[7] == '/' && s[10] == ' ' {
		end := 19
		if len(s) > end && s[end] == '.' {
			end++
			for end < len(s) && s[end] >= '0' && s[end] <= '9' {
				end++
			}
		}
		if t, err := time.ParseInLocation("2006/01/02 15:04:05.999999", s[:end], time.Local); err == nil && plausible(t) {
			return t.UTC(), strings.TrimLeft(s[end:], " \t"), true
		}
	}
	return time.Time{}, s, false
}

// isLambdaStream reports whether tok looks like a Lambda log stream name,
// "2024/05/01/[$LATEST]0f1e2d..." (one per execution environment).
func isLambdaStream(tok string) bool {
	return strings.Contains(tok, "/[") && strings.Contains(tok, "]")
}

// linePrefix is what a log tool put in front of a message.
type linePrefix struct {
	time   time.Time
	stream string
}

// splitPrefix peels the timestamp and log stream name that `aws logs tail`
// ("TIME STREAM message"), `sam logs` ("STREAM TIME message") or the
// emulator ("TIME [INFO] ...") put in front of a message, and returns the
// message. A token containing "/" counts as a stream name only after a
// timestamp, as `aws logs tail` prints any stream name there.
func splitPrefix(s string) (linePrefix, string) {
	var p linePrefix
	for range 2 {
		if t, rest, ok := leadingTime(s); ok && p.time.IsZero() {
			p.time, s = t, rest
			continue
		}
		tok, rest := cutToken(s)
		if p.stream == "" && (isLambdaStream(tok) || (!p.time.IsZero() && strings.Contains(tok, "/") && rest != "")) {
			p.stream, s = tok, rest
			continue
		}
		break
	}
	return p, s
}

// scanPrefix looks, in the text before a REPORT marker, for a timestamp and a
// stream name in any position; other tokens (a resource name) are ignored.
func scanPrefix(s string) linePrefix {
	var p linePrefix
	for s != "" {
		if t, rest, ok := leadingTime(s); ok {
			if p.time.IsZero() {
				p.time = t
			}
			s = rest
			continue
		}
		tok, rest := cutToken(s)
		if p.stream == "" && isLambdaStream(tok) {
			p.stream = tok
		}
		s = rest
	}
	return p
}

// cutToken returns the first space-separated token of s and the rest.
func cutToken(s string) (string, string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}
