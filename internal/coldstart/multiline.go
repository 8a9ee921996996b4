package coldstart

import (
	"errors"
	"strconv"
	"strings"
)

// pendingJSON collects a JSON value printed over several lines, as `sam
// logs` and `aws logs tail --format json` pretty-print JSON messages: a
// line that ends in a lone "{", indented lines, and a closing "}".
type pendingJSON struct {
	at        at
	where     string
	lines     []string
	size      int
	depth     int
	inString  bool
	escaped   bool
	lineCount int
}

func (p *Parser) startJSON(a at) {
	p.pending = &pendingJSON{at: a, where: p.where, lines: []string{"{"}, size: 1, depth: 1}
}

// continueJSON feeds one more line to the pending value and reports whether
// it took the line. A line that starts in the first column with anything
// but a closing bracket is not part of a pretty-printed value: the pending
// one is given up and the line is left to the caller.
func (p *Parser) continueJSON(s string) bool {
	j := p.pending
	if !j.inString && s != "" && s[0] != ' ' && s[0] != '\t' && s[0] != '}' && s[0] != ']' {
		p.abortJSON()
		return false
	}
	j.lines = append(j.lines, s)
	j.size += len(s) + 1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case j.escaped:
			j.escaped = false
		case j.inString && c == '\\':
			j.escaped = true
		case c == '"':
			j.inString = !j.inString
		case j.inString:
		case c == '{' || c == '[':
			j.depth++
		case c == '}' || c == ']':
			j.depth--
		}
	}
	switch {
	case j.depth == 0:
		p.pending = nil
		p.jsonText(strings.Join(j.lines, "\n"), j.at, 0)
	case j.depth < 0 || j.size > maxPendingBytes:
		p.abortJSON()
	}
	return true
}

// abortJSON gives up a pending value: its first line is malformed, and the
// lines collected after it are parsed again one by one.
func (p *Parser) abortJSON() {
	j := p.pending
	p.pending = nil
	where := p.where
	p.where = j.where
	p.malformed(errors.New("unterminated JSON value (" + strconv.Itoa(len(j.lines)) + " lines)"))
	p.where = where
	for _, l := range j.lines[1:] {
		p.line(l, at{}, false)
	}
}
