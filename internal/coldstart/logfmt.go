package coldstart

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// isLogfmtRecord reports whether s, a line of log/slog's text handler
// (time=... level=INFO msg="..." cold_start=true ...), carries one of our
// cold-start fields.
func isLogfmtRecord(s string) bool {
	for _, k := range []string{"cold_start=", "init_ms="} {
		if strings.HasPrefix(s, k) || strings.Contains(s, " "+k) {
			return true
		}
	}
	return false
}

// parseLogfmt parses key=value pairs separated by spaces; values may be
// quoted Go strings, as log/slog's text handler writes them.
func parseLogfmt(s string) (map[string]any, error) {
	fields := map[string]any{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimLeft(s, " \t") {
		eq := strings.IndexByte(s, '=')
		sp := strings.IndexAny(s, " \t")
		if eq <= 0 || (sp >= 0 && sp < eq) {
			tok, _ := cutToken(s)
			return nil, fmt.Errorf("key=value record: %q is not key=value", tok)
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := closingQuote(s)
			if end < 0 {
				return nil, errors.New("key=value record: unterminated quote")
			}
			v, err := strconv.Unquote(s[:end+1])
			if err != nil {
				return nil, fmt.Errorf("key=value record: %s: %w", key, err)
			}
			val, s = v, s[end+1:]
		} else if s != "" && s[0] != ' ' && s[0] != '\t' {
			val, s = cutToken(s)
		}
		fields[key] = val
	}
	return fields, nil
}

// closingQuote returns the index of the quote that closes the string that
// starts s, or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}
