package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Data is a table of results read from CSV or JSON Lines: sweep, DSE and
// plan outputs, per-request CSVs.
type Data struct {
	Columns []string
	Rows    [][]string
	col     map[string]int
}

// ParseCSV reads a CSV table with a header line.
func ParseCSV(data []byte) (*Data, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil && len(recs) == 0 {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("empty CSV")
	}
	d := newData(recs[0])
	for _, r := range recs[1:] {
		if len(r) == len(d.Columns) { // a partial last line is skipped
			d.Rows = append(d.Rows, r)
		}
	}
	return d, nil
}

// ParseJSONL reads one flat JSON object per line; the first line sets the
// columns and their order.
func ParseJSONL(data []byte) (*Data, error) {
	var d *Data
	for n, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		keys, vals, err := flatObject(line)
		if err != nil {
			if n == bytes.Count(data, []byte("\n")) { // a partial last line
				break
			}
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if d == nil {
			d = newData(keys)
		}
		row := make([]string, len(d.Columns))
		for i, k := range keys {
			if c, ok := d.col[k]; ok {
				row[c] = vals[i]
			}
		}
		d.Rows = append(d.Rows, row)
	}
	if d == nil {
		return nil, fmt.Errorf("no JSON lines")
	}
	return d, nil
}

// flatObject reads a JSON object's members in order, values as text.
func flatObject(line []byte) (keys, vals []string, err error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, fmt.Errorf("not a JSON object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := t.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		switch x := v.(type) {
		case nil:
			vals = append(vals, "")
		case string:
			vals = append(vals, x)
		case json.Number:
			vals = append(vals, x.String())
		case bool:
			vals = append(vals, strconv.FormatBool(x))
		default:
			raw, _ := json.Marshal(x)
			vals = append(vals, string(raw))
		}
	}
	if _, err := dec.Token(); err != nil && err != io.EOF {
		return nil, nil, err
	}
	return keys, vals, nil
}

func newData(cols []string) *Data {
	d := &Data{Columns: cols, col: map[string]int{}}
	for i, c := range cols {
		d.col[c] = i
	}
	return d
}

// Has reports whether the table has all the columns.
func (d *Data) Has(names ...string) bool {
	for _, n := range names {
		if _, ok := d.col[n]; !ok {
			return false
		}
	}
	return true
}

// Str is the cell of row r in column name ("" when absent).
func (d *Data) Str(r int, name string) string {
	c, ok := d.col[name]
	if !ok || c >= len(d.Rows[r]) {
		return ""
	}
	return d.Rows[r][c]
}

// Num is the numeric cell of row r in column name.
func (d *Data) Num(r int, name string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(d.Str(r, name)), 64)
	return v, err == nil
}

// Params lists the parameter columns of a sweep table: the names in its
// key column (name=value;...), in order.
func (d *Data) Params() []string {
	if len(d.Rows) == 0 || !d.Has("key") {
		return nil
	}
	var out []string
	for _, kv := range strings.Split(d.Str(0, "key"), ";") {
		if k, _, ok := strings.Cut(kv, "="); ok && d.Has(k) {
			out = append(out, k)
		}
	}
	return out
}

// Varying lists the columns of names whose value differs between rows.
func (d *Data) Varying(names []string) []string {
	var out []string
	for _, n := range names {
		for r := 1; r < len(d.Rows); r++ {
			if d.Str(r, n) != d.Str(0, n) {
				out = append(out, n)
				break
			}
		}
	}
	return out
}
