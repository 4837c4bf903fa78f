package sweep

import "strconv"

// Value is one metric of an evaluated point.
type Value struct {
	Kind Kind // Float, String or Bool
	Num  float64
	Str  string
}

// Number is a numeric Value.
func Number(x float64) Value { return Value{Kind: Float, Num: x} }

// Text is a string Value.
func Text(s string) Value { return Value{Kind: String, Str: s} }

// Flag is a boolean Value.
func Flag(b bool) Value {
	v := Value{Kind: Bool}
	if b {
		v.Num = 1
	}
	return v
}

// Evaluator computes the metrics of one point at a time. Each worker owns
// one, so it may keep buffers between calls.
type Evaluator interface {
	// Eval fills out (one Value per metric of the mode) for the point whose
	// axis value indices are idx. An error is recorded with the point.
	Eval(s *Space, idx []int, out []Value) error
}

// Mode is a kind of sweep: its parameters, its metrics and how to evaluate
// a point.
type Mode struct {
	Name    string
	Params  []Param
	Metrics []string
	// Prepare checks the values of a space once (so bad input fails before
	// any work, naming the flag) and returns a maker of per-worker
	// evaluators.
	Prepare func(s *Space) (func() Evaluator, error)
}

// Header is the output column list: index, key, the space's parameter
// columns, the metrics, error.
func (m *Mode) Header(s *Space) []string {
	h := append([]string{"index", "key"}, s.Columns()...)
	h = append(h, m.Metrics...)
	return append(h, "error")
}

// Format is an output format.
type Format int

// Output formats.
const (
	CSV Format = iota
	JSONL
)

// ParseFormat reads "csv" or "jsonl" (also "ndjson").
func ParseFormat(name string) (Format, bool) {
	switch name {
	case "csv":
		return CSV, true
	case "jsonl", "ndjson":
		return JSONL, true
	}
	return 0, false
}

// rowWriter appends one output line per point.
type rowWriter struct {
	format  Format
	header  []string
	space   *Space
	metrics int
	quoted  [][]byte // JSON: `"name":` per column
}

func newRowWriter(f Format, m *Mode, s *Space) *rowWriter {
	w := &rowWriter{format: f, header: m.Header(s), space: s, metrics: len(m.Metrics)}
	for _, h := range w.header {
		q := appendJSONString(nil, h)
		w.quoted = append(w.quoted, append(q, ':'))
	}
	return w
}

// headerLine is the CSV header line (nil for JSON Lines).
func (w *rowWriter) headerLine() []byte {
	if w.format != CSV {
		return nil
	}
	var b []byte
	for i, h := range w.header {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSV(b, h)
	}
	return append(b, '\n')
}

// append writes point i; metrics are ignored when err is non-nil.
func (w *rowWriter) append(b []byte, i int, idx []int, out []Value, err error) []byte {
	col := 0
	b = w.sep(b, &col)
	b = strconv.AppendInt(b, int64(i), 10)
	b = w.sep(b, &col)
	if w.format == CSV {
		start := len(b)
		b = w.space.AppendKey(b, idx)
		if needsQuote(b[start:]) {
			key := string(b[start:])
			b = appendCSV(b[:start], key)
		}
	} else {
		b = w.jsonKey(b, idx)
	}
	for _, c := range w.space.columns {
		a := &w.space.Axes[c]
		b = w.sep(b, &col)
		v := a.Values[idx[c]]
		if a.Kind == String || w.format == CSV {
			b = w.str(b, v)
		} else {
			b = append(b, v...)
		}
	}
	for k := 0; k < w.metrics; k++ {
		b = w.sep(b, &col)
		if err != nil {
			if w.format == JSONL {
				b = append(b, "null"...)
			}
			continue
		}
		b = w.value(b, out[k])
	}
	b = w.sep(b, &col)
	if err != nil {
		b = w.str(b, oneLine(err.Error()))
	} else if w.format == JSONL {
		b = append(b, `""`...)
	}
	if w.format == JSONL {
		b = append(b, '}')
	}
	return append(b, '\n')
}

// sep starts column *col: a comma (CSV) or the JSON member name.
func (w *rowWriter) sep(b []byte, col *int) []byte {
	c := *col
	*col++
	if w.format == CSV {
		if c > 0 {
			b = append(b, ',')
		}
		return b
	}
	if c == 0 {
		b = append(b, '{')
	} else {
		b = append(b, ',')
	}
	return append(b, w.quoted[c]...)
}

func (w *rowWriter) jsonKey(b []byte, idx []int) []byte {
	b = append(b, '"')
	for k, c := range w.space.columns {
		if k > 0 {
			b = append(b, ';')
		}
		a := &w.space.Axes[c]
		b = appendJSONBody(b, a.Name)
		b = append(b, '=')
		b = appendJSONBody(b, a.Values[idx[c]])
	}
	return append(b, '"')
}

func (w *rowWriter) str(b []byte, s string) []byte {
	if w.format == CSV {
		return appendCSV(b, s)
	}
	return appendJSONString(b, s)
}

func (w *rowWriter) value(b []byte, v Value) []byte {
	switch v.Kind {
	case String:
		return w.str(b, v.Str)
	case Bool:
		return strconv.AppendBool(b, v.Num != 0)
	}
	if w.format == JSONL && (v.Num != v.Num || v.Num > maxFloat || v.Num < -maxFloat) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v.Num, 'g', -1, 64)
}

const maxFloat = 1.7976931348623157e308

// oneLine keeps a message on one line so every record is one line.
func oneLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			out := []byte(s)
			for j := range out {
				if out[j] == '\n' || out[j] == '\r' {
					out[j] = ' '
				}
			}
			return string(out)
		}
	}
	return s
}

func needsQuote(s []byte) bool {
	for _, c := range s {
		if c == ',' || c == '"' || c == '\n' || c == '\r' {
			return true
		}
	}
	return len(s) > 0 && (s[0] == ' ' || s[0] == '\t')
}

func appendCSV(b []byte, s string) []byte {
	if !needsQuote([]byte(s)) {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONBody(b, s)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

func appendJSONBody(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return b
}
