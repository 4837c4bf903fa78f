package workloads

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Trace fields, in the positional order of a CSV trace without a header.
const (
	fieldArrival = iota
	fieldPrompt
	fieldOutput
	fieldPrefixGroup
	fieldPrefixTokens
	fieldSession
	numFields
)

var fieldNames = [numFields]string{
	"arrival_seconds", "prompt_tokens", "output_tokens", "prefix_group", "prefix_tokens", "session",
}

// recordReader yields a trace's requests (without IDs) in file order, and
// io.EOF at the end. Errors carry file:line: field.
type recordReader interface {
	read() (Request, error)
}

func newRecordReader(format string, r io.Reader, name string) recordReader {
	if format == FormatJSONL {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		return &jsonlReader{name: name, lines: sc}
	}
	return &csvReader{name: name, records: newCSVReader(r)}
}

// csvReader reads a CSV trace: a header naming the columns in any order, or
// no header and the columns in fieldNames order (3, 5 or 6 of them).
type csvReader struct {
	name    string
	records *csv.Reader
	columns []int // columns[i] is the field in column i
	fields  [numFields]string
}

func (c *csvReader) read() (Request, error) {
	rec, err := c.records.Read()
	if err == io.EOF {
		return Request{}, io.EOF
	}
	if err != nil {
		return Request{}, csvError(c.name, err)
	}
	line, _ := c.records.FieldPos(0)
	if c.columns == nil {
		if isHeader(rec) {
			if c.columns, err = traceHeader(rec); err != nil {
				return Request{}, fmt.Errorf("%s:%d: %w", c.name, line, err)
			}
			return c.read()
		}
		if n := len(rec); n != 3 && n != 5 && n != 6 {
			return Request{}, fmt.Errorf("%s:%d: want 3, 5 or 6 fields (%s) or a header, got %d",
				c.name, line, strings.Join(fieldNames[:], ","), n)
		}
		c.columns = []int{0, 1, 2, 3, 4, 5}[:len(rec)]
	}
	if len(rec) != len(c.columns) {
		return Request{}, fmt.Errorf("%s:%d: want %d fields, got %d", c.name, line, len(c.columns), len(rec))
	}
	c.fields = [numFields]string{}
	for i, field := range c.columns {
		c.fields[field] = strings.TrimSpace(rec[i])
	}
	r, err := parseRecord(&c.fields)
	if err != nil {
		return Request{}, fmt.Errorf("%s:%d: %w", c.name, line, err)
	}
	return r, nil
}

func traceHeader(rec []string) ([]int, error) {
	columns := make([]int, len(rec))
	seen := [numFields]bool{}
	for i, name := range rec {
		name = strings.ToLower(strings.TrimSpace(name))
		f := slices.Index(fieldNames[:], name)
		if f < 0 {
			return nil, fmt.Errorf("header: unknown column %q (want %s)", name, strings.Join(fieldNames[:], ", "))
		}
		if seen[f] {
			return nil, fmt.Errorf("header: column %q given twice", name)
		}
		seen[f], columns[i] = true, f
	}
	for f := range fieldPrefixGroup {
		if !seen[f] {
			return nil, fmt.Errorf("header: missing column %q", fieldNames[f])
		}
	}
	return columns, nil
}

// jsonlReader reads a JSONL trace: one object per line with the fieldNames
// as keys; blank lines are skipped.
type jsonlReader struct {
	name   string
	lines  *bufio.Scanner
	line   int
	fields [numFields]string
}

func (j *jsonlReader) read() (Request, error) {
	for j.lines.Scan() {
		j.line++
		text := bytes.TrimSpace(j.lines.Bytes())
		if len(text) == 0 {
			continue
		}
		r, err := j.parse(text)
		if err != nil {
			return Request{}, fmt.Errorf("%s:%d: %w", j.name, j.line, err)
		}
		return r, nil
	}
	if err := j.lines.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = errors.New("line longer than 1 MiB")
		}
		return Request{}, fmt.Errorf("%s:%d: %w", j.name, j.line+1, err)
	}
	return Request{}, io.EOF
}

func (j *jsonlReader) parse(text []byte) (Request, error) {
	var object map[string]json.RawMessage
	if err := json.Unmarshal(text, &object); err != nil {
		return Request{}, fmt.Errorf("not a JSON object: %w", err)
	}
	for key := range object {
		if !slices.Contains(fieldNames[:], key) {
			return Request{}, fmt.Errorf("%s: unknown field (want %s)", key, strings.Join(fieldNames[:], ", "))
		}
	}
	j.fields = [numFields]string{}
	for f, name := range fieldNames {
		raw, ok := object[name]
		if !ok || string(raw) == "null" {
			continue
		}
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return Request{}, fmt.Errorf("%s: want a number, got %s", name, raw)
		}
		j.fields[f] = string(raw)
	}
	return parseRecord(&j.fields)
}

// parseRecord checks one record's field texts ("" for absent) and returns
// its request.
func parseRecord(fields *[numFields]string) (Request, error) {
	var r Request
	var err error
	for f := range fieldPrefixGroup {
		if fields[f] == "" {
			return Request{}, fmt.Errorf("%s: missing", fieldNames[f])
		}
	}
	if r.ArrivalNanos, err = parseSeconds(fields[fieldArrival]); err != nil {
		return Request{}, fmt.Errorf("%s: %w", fieldNames[fieldArrival], err)
	}
	if r.PromptTokens, err = parseTokens(fields[fieldPrompt]); err != nil {
		return Request{}, fmt.Errorf("%s: %w", fieldNames[fieldPrompt], err)
	}
	if r.OutputTokens, err = parseTokens(fields[fieldOutput]); err != nil {
		return Request{}, fmt.Errorf("%s: %w", fieldNames[fieldOutput], err)
	}
	group, err := parseID(fields[fieldPrefixGroup], math.MaxInt32)
	if err != nil {
		return Request{}, fmt.Errorf("%s: %w", fieldNames[fieldPrefixGroup], err)
	}
	r.PrefixGroup = int(group)
	prefix, err := parseID(fields[fieldPrefixTokens], int64(r.PromptTokens))
	if err != nil {
		return Request{}, fmt.Errorf("%s: %w (prompt_tokens is %d)", fieldNames[fieldPrefixTokens], err, r.PromptTokens)
	}
	r.PrefixTokens = int(prefix)
	switch {
	case r.PrefixGroup != 0 && r.PrefixTokens == 0:
		return Request{}, fmt.Errorf("%s: must be ≥ 1 when prefix_group is set", fieldNames[fieldPrefixTokens])
	case r.PrefixGroup == 0 && r.PrefixTokens != 0:
		return Request{}, fmt.Errorf("%s: must be ≥ 1 when prefix_tokens is set", fieldNames[fieldPrefixGroup])
	}
	if r.Session, err = parseID(fields[fieldSession], math.MaxInt64); err != nil {
		return Request{}, fmt.Errorf("%s: %w", fieldNames[fieldSession], err)
	}
	return r, nil
}

// parseID reads an optional whole number in [0, max]; "" is 0.
func parseID(field string, max int64) (int64, error) {
	if field == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(field, 10, 64)
	if err != nil || v < 0 || v > max {
		return 0, fmt.Errorf("want a whole number in [0, %d], got %q", max, field)
	}
	return v, nil
}

// maxTraceSeconds bounds arrival times (31.7 years) well inside int64 ns.
const maxTraceSeconds = 1e9

// parseSeconds reads a time in seconds into nanoseconds. Plain decimals
// convert exactly (digits past the ninth decimal round half up); other
// forms (1.5e3) go through float64.
func parseSeconds(field string) (int64, error) {
	bad := fmt.Errorf("want seconds in [0, %g], got %q", float64(maxTraceSeconds), field)
	whole, frac, _ := strings.Cut(field, ".")
	if isDigits(whole) && (frac == "" || isDigits(frac)) && whole+frac != "" && len(whole) <= 10 {
		seconds, _ := strconv.ParseInt("0"+whole, 10, 64)
		digits := (frac + "0000000000")[:10]
		nanos, _ := strconv.ParseInt(digits[:9], 10, 64)
		if digits[9] >= '5' {
			nanos++
		}
		if seconds > maxTraceSeconds || (seconds == maxTraceSeconds && nanos > 0) {
			return 0, bad
		}
		return seconds*1e9 + nanos, nil
	}
	s, err := strconv.ParseFloat(field, 64)
	if err != nil || !(s >= 0 && s <= maxTraceSeconds) {
		return 0, bad
	}
	return int64(math.Round(s * 1e9)), nil
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// formatSeconds writes nanoseconds as exact decimal seconds.
func formatSeconds(nanos int64) string {
	s := strconv.FormatInt(nanos/1e9, 10)
	if frac := nanos % 1e9; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%09d", frac), "0")
	}
	return s
}

// WriteTrace writes the requests of src, at most limit of them (0: until
// src is exhausted), as a trace in FormatCSV or FormatJSONL that OpenTrace
// reads back, and returns how many it wrote. Only open-loop sources and
// traces make sense here: a closed loop stops after its clients' first
// requests, since nothing completes.
func WriteTrace(w io.Writer, format string, src Source, limit int64) (int64, error) {
	if format != FormatCSV && format != FormatJSONL {
		return 0, fmt.Errorf("trace format %q: want %s or %s", format, FormatCSV, FormatJSONL)
	}
	bw := bufio.NewWriter(w)
	if format == FormatCSV {
		bw.WriteString(strings.Join(fieldNames[:], ",") + "\n")
	}
	var n int64
	var line []byte
	for ; limit == 0 || n < limit; n++ {
		r, ok := src.Next()
		if !ok {
			break
		}
		if format == FormatCSV {
			line = appendCSV(line[:0], r)
		} else {
			line = appendJSON(line[:0], r)
		}
		if _, err := bw.Write(line); err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}

func appendCSV(b []byte, r Request) []byte {
	b = append(b, formatSeconds(r.ArrivalNanos)...)
	for _, v := range [...]int64{int64(r.PromptTokens), int64(r.OutputTokens),
		int64(r.PrefixGroup), int64(r.PrefixTokens), r.Session} {
		b = strconv.AppendInt(append(b, ','), v, 10)
	}
	return append(b, '\n')
}

func appendJSON(b []byte, r Request) []byte {
	b = append(b, `{"arrival_seconds":`...)
	b = append(b, formatSeconds(r.ArrivalNanos)...)
	b = strconv.AppendInt(append(b, `,"prompt_tokens":`...), int64(r.PromptTokens), 10)
	b = strconv.AppendInt(append(b, `,"output_tokens":`...), int64(r.OutputTokens), 10)
	if r.PrefixGroup != 0 {
		b = strconv.AppendInt(append(b, `,"prefix_group":`...), int64(r.PrefixGroup), 10)
		b = strconv.AppendInt(append(b, `,"prefix_tokens":`...), int64(r.PrefixTokens), 10)
	}
	if r.Session != 0 {
		b = strconv.AppendInt(append(b, `,"session":`...), r.Session, 10)
	}
	return append(b, "}\n"...)
}
