package validate

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// table is a CSV file read by header names, with file:line errors.
type table struct {
	file string
	cols map[string]int
	rows [][]string
	line []int // source line of each row
}

func readTable(path string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseTable(f, path)
}

func parseTable(r io.Reader, file string) (*table, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	t := &table{file: file, cols: map[string]int{}}
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading header: %w", file, err)
	}
	for i, h := range header {
		t.cols[strings.TrimSpace(h)] = i
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fmt.Errorf("%s:%d: %d fields, header has %d", file, line, len(rec), len(header))
		}
		t.rows = append(t.rows, rec)
		t.line = append(t.line, line)
	}
	return t, nil
}

// need checks that the named columns exist.
func (t *table) need(cols ...string) error {
	for _, c := range cols {
		if _, ok := t.cols[c]; !ok {
			return fmt.Errorf("%s: missing column %q", t.file, c)
		}
	}
	return nil
}

func (t *table) str(row int, col string) string {
	i, ok := t.cols[col]
	if !ok {
		return ""
	}
	return strings.TrimSpace(t.rows[row][i])
}

// num reads a number; empty cells read as 0.
func (t *table) num(row int, col string) (float64, error) {
	s := t.str(row, col)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s:%d: %s: not a finite number: %q", t.file, t.line[row], col, s)
	}
	return v, nil
}

func (t *table) int(row int, col string) (int, error) {
	v, err := t.num(row, col)
	if err != nil {
		return 0, err
	}
	if v != math.Trunc(v) || v < 0 {
		return 0, fmt.Errorf("%s:%d: %s: want a non-negative integer, got %v", t.file, t.line[row], col, v)
	}
	return int(v), nil
}
