package hw

import (
	"strconv"
	"strings"
)

// lineIndex maps key paths of a TOML text to the 1-based line that defines
// them. Paths are dotted with array-of-table indices, the form validation
// errors use: "memory[1].bytes_per_second", "efficiency.compute.gemm".
//
// BurntSushi/toml has no key-position API (and its own error lines point at
// the last element of an array of tables), so the text is scanned here. The
// scanner only needs to be right for valid TOML; on anything else it must
// merely not panic.
type lineIndex struct {
	lines  map[string]int
	counts map[string]int // resolved array-of-table path -> elements so far
}

// indexLines scans text once.
func indexLines(text string) *lineIndex {
	ix := &lineIndex{lines: map[string]int{}, counts: map[string]int{}}
	s := scanner{src: text, line: 1}
	table := ""
	for !s.eof() {
		s.skipSpace()
		switch c := s.peek(); {
		case c == '\n':
			s.next()
		case c == '#':
			s.skipComment()
		case c == '[':
			line := s.line
			s.next()
			array := s.peek() == '['
			if array {
				s.next()
			}
			keys, ok := s.keys()
			if ok {
				table = ix.header(keys, array, line)
			}
			s.skipLine()
		default:
			line := s.line
			keys, ok := s.keys()
			if !ok || s.peek() != '=' {
				s.skipLine()
				continue
			}
			s.next()
			ix.assign(table, keys, line)
			s.skipValue()
		}
	}
	return ix
}

// header records a [table] or [[array]] header and returns its resolved path.
func (ix *lineIndex) header(keys []string, array bool, line int) string {
	p := ""
	for i, k := range keys {
		p = joinKey(p, k)
		if i == len(keys)-1 && array {
			ix.record(p, line) // the array itself starts at its first element
			ix.counts[p]++
			p += "[" + strconv.Itoa(ix.counts[p]-1) + "]"
			break
		}
		if c, ok := ix.counts[p]; ok {
			p += "[" + strconv.Itoa(c-1) + "]"
		}
	}
	ix.record(p, line)
	return p
}

// assign records key = value inside table, and every prefix of a dotted key.
func (ix *lineIndex) assign(table string, keys []string, line int) {
	p := table
	for _, k := range keys {
		p = joinKey(p, k)
		ix.record(p, line)
	}
}

func (ix *lineIndex) record(path string, line int) {
	if _, ok := ix.lines[path]; !ok {
		ix.lines[path] = line
	}
}

// line returns the line defining path, or of its nearest defined ancestor
// (a missing key is reported where its table starts), or 0.
func (ix *lineIndex) line(path string) int {
	for path != "" {
		if l, ok := ix.lines[path]; ok {
			return l
		}
		path = parentKey(path)
	}
	return 0
}

// firstMatch returns the first recorded path (by line) that equals plain
// once its indices are removed; it maps toml.MetaData keys, which carry no
// indices, back to an element of an array of tables.
func (ix *lineIndex) firstMatch(plain string) (string, int) {
	best, bestLine := "", 0
	for p, l := range ix.lines {
		if stripIndices(p) == plain && (bestLine == 0 || l < bestLine || (l == bestLine && p < best)) {
			best, bestLine = p, l
		}
	}
	return best, bestLine
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// parentKey strips the last component: "a.b[2]" -> "a.b", "a.b" -> "a".
func parentKey(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

func stripIndices(p string) string {
	var b strings.Builder
	depth := 0
	for _, r := range p {
		switch {
		case r == '[':
			depth++
		case r == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// scanner walks TOML text byte by byte, counting lines.
type scanner struct {
	src  string
	pos  int
	line int
}

func (s *scanner) eof() bool { return s.pos >= len(s.src) }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.pos]
}

func (s *scanner) next() {
	if s.eof() {
		return
	}
	if s.src[s.pos] == '\n' {
		s.line++
	}
	s.pos++
}

func (s *scanner) skipSpace() {
	for c := s.peek(); c == ' ' || c == '\t' || c == '\r'; c = s.peek() {
		s.next()
	}
}

func (s *scanner) skipComment() {
	for !s.eof() && s.peek() != '\n' {
		s.next()
	}
}

func (s *scanner) skipLine() {
	for !s.eof() && s.peek() != '\n' {
		s.next()
	}
	s.next()
}

// keys reads a dotted key (bare or quoted parts) and the spaces after it.
func (s *scanner) keys() ([]string, bool) {
	var out []string
	for {
		s.skipSpace()
		k, ok := s.key()
		if !ok {
			return out, false
		}
		out = append(out, k)
		s.skipSpace()
		if s.peek() != '.' {
			return out, true
		}
		s.next()
	}
}

func (s *scanner) key() (string, bool) {
	switch c := s.peek(); {
	case c == '"' || c == '\'':
		return s.quoted(c)
	case isBare(c):
		start := s.pos
		for isBare(s.peek()) {
			s.next()
		}
		return s.src[start:s.pos], true
	}
	return "", false
}

func isBare(c byte) bool {
	return c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// quoted reads a one-line string starting at its quote q.
func (s *scanner) quoted(q byte) (string, bool) {
	s.next()
	var b strings.Builder
	for !s.eof() {
		c := s.peek()
		switch {
		case c == '\n':
			return b.String(), false
		case c == q:
			s.next()
			return b.String(), true
		case c == '\\' && q == '"':
			s.next()
			if !s.eof() && s.peek() != '\n' {
				b.WriteByte(s.peek())
				s.next()
			}
			continue
		}
		b.WriteByte(c)
		s.next()
	}
	return b.String(), false
}

// skipValue skips a value up to the end of its last line, following strings
// (including multi-line ones), arrays and inline tables across lines.
func (s *scanner) skipValue() {
	depth := 0
	for !s.eof() {
		c := s.peek()
		switch {
		case c == '"' || c == '\'':
			if strings.HasPrefix(s.src[s.pos:], strings.Repeat(string(c), 3)) {
				s.skipMultiline(c)
			} else {
				s.quoted(c)
			}
			continue
		case c == '#':
			s.skipComment()
			continue
		case c == '[' || c == '{':
			depth++
		case (c == ']' || c == '}') && depth > 0:
			depth--
		case c == '\n' && depth == 0:
			s.next()
			return
		}
		s.next()
	}
}

func (s *scanner) skipMultiline(q byte) {
	delim := strings.Repeat(string(q), 3)
	for range 3 {
		s.next()
	}
	for !s.eof() {
		if q == '"' && s.peek() == '\\' {
			s.next()
			s.next()
			continue
		}
		if strings.HasPrefix(s.src[s.pos:], delim) {
			for range 3 {
				s.next()
			}
			// Up to two more quotes may belong to the content ("""a"""").
			for s.peek() == q {
				s.next()
			}
			return
		}
		s.next()
	}
}
