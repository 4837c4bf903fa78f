package sweep

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Record is one output line with the identity Resume and Merge read from
// it.
type Record struct {
	Index int
	Key   string
	Err   bool   // the point failed
	Line  []byte // the whole line, without its newline
}

// Output is a sweep's output file opened for appending.
type Output struct {
	File *os.File
	// Done holds the keys of the points already in the file.
	Done map[string]bool
	// NeedHeader is true when the file is new (a CSV header must be
	// written).
	NeedHeader bool
}

// OpenOutput opens path for the results of a sweep with the given header.
// When the file exists and fresh is false, the run resumes: the CSV header
// must match, a trailing partial line (an interrupted write) is cut off,
// and the points already there are reported in Done. Otherwise the file is
// created empty.
func OpenOutput(path string, f Format, header []string, fresh bool) (*Output, error) {
	if !fresh {
		data, err := os.ReadFile(path)
		if err == nil && len(data) > 0 {
			return resume(path, data, f, header)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	file, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &Output{File: file, Done: map[string]bool{}, NeedHeader: true}, nil
}

func resume(path string, data []byte, f Format, header []string) (*Output, error) {
	complete := bytes.LastIndexByte(data, '\n') + 1
	hdr, recs, err := parseRecords(data[:complete], f, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (use --fresh to overwrite it)", path, err)
	}
	if f == JSONL {
		hdr = jsonNames(data)
	}
	if len(hdr) > 0 && strings.Join(hdr, ",") != strings.Join(header, ",") {
		return nil, fmt.Errorf("%s: its columns differ from this sweep's (%s); write to another file or use --fresh", path, describeDiff(hdr, header))
	}
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if err := file.Truncate(int64(complete)); err != nil {
		file.Close()
		return nil, err
	}
	if _, err := file.Seek(int64(complete), io.SeekStart); err != nil {
		file.Close()
		return nil, err
	}
	out := &Output{File: file, Done: make(map[string]bool, len(recs)), NeedHeader: f == CSV && len(hdr) == 0}
	for _, r := range recs {
		out.Done[r.Key] = true
	}
	return out, nil
}

// jsonNames lists the member names of the first JSON line, in order.
func jsonNames(data []byte) []string {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var names []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		name, _ := t.(string)
		names = append(names, name)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return names
}

func describeDiff(have, want []string) string {
	for i := 0; i < len(have) && i < len(want); i++ {
		if have[i] != want[i] {
			return fmt.Sprintf("column %d is %q in the file, %q here", i+1, have[i], want[i])
		}
	}
	return fmt.Sprintf("%d columns in the file, %d here", len(have), len(want))
}

// parseRecords reads complete lines: the CSV header and every record,
// with its line when keepLines.
func parseRecords(data []byte, f Format, keepLines bool) (header []string, recs []Record, err error) {
	line := 0
	keyCol, errCol := 1, -1
	for len(data) > 0 {
		line++
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			end = len(data)
		}
		text := bytes.TrimSuffix(data[:end], []byte("\r"))
		data = data[min(end+1, len(data)):]
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		if f == CSV && header == nil {
			header, err = csvFields(text)
			if err != nil || len(header) < 2 || header[0] != "index" || header[1] != "key" {
				return nil, nil, fmt.Errorf("line %d: not a sweep CSV header (want index,key,...)", line)
			}
			errCol = len(header) - 1
			continue
		}
		r, err := parseRecord(text, f, keyCol, errCol)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", line, err)
		}
		if keepLines {
			r.Line = text // aliases data, which the caller keeps
		}
		recs = append(recs, r)
	}
	return header, recs, nil
}

func parseRecord(text []byte, f Format, keyCol, errCol int) (Record, error) {
	var r Record
	if f == JSONL {
		var v struct {
			Index *int   `json:"index"`
			Key   string `json:"key"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(text, &v); err != nil || v.Index == nil {
			return r, fmt.Errorf("not a sweep JSON line")
		}
		return Record{Index: *v.Index, Key: v.Key, Err: v.Error != ""}, nil
	}
	// Fast path: an unquoted index and key, as Run writes them unless a
	// value needs quoting; the error column is last and empty when the
	// line ends with a comma.
	if i := bytes.IndexByte(text, ','); i > 0 && i+1 < len(text) && text[i+1] != '"' {
		if j := bytes.IndexByte(text[i+1:], ','); j >= 0 {
			idx, err := strconv.Atoi(string(text[:i]))
			if err == nil {
				return Record{Index: idx, Key: string(text[i+1 : i+1+j]), Err: text[len(text)-1] != ','}, nil
			}
		}
	}
	fields, err := csvFields(text)
	if err != nil || len(fields) <= keyCol {
		return r, fmt.Errorf("not a sweep CSV record")
	}
	if r.Index, err = strconv.Atoi(fields[0]); err != nil {
		return r, fmt.Errorf("index %q is not a number", fields[0])
	}
	r.Key = fields[keyCol]
	r.Err = errCol >= 0 && errCol < len(fields) && fields[errCol] != ""
	return r, nil
}

func csvFields(line []byte) ([]string, error) {
	cr := csv.NewReader(bytes.NewReader(line))
	cr.FieldsPerRecord = -1
	return cr.Read()
}

// FormatOf picks the format of a file by its extension.
func FormatOf(path string) (Format, bool) {
	switch {
	case strings.HasSuffix(path, ".csv"):
		return CSV, true
	case strings.HasSuffix(path, ".jsonl"), strings.HasSuffix(path, ".ndjson"):
		return JSONL, true
	}
	return 0, false
}
