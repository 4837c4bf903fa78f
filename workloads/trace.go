package workloads

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Trace replays recorded requests from a CSV or JSONL file (see
// docs/WORKLOADS.md for the formats). Request IDs number the requests from
// 0 in arrival order; arrival times are used as recorded.
//
// OpenTrace reads the whole file once to validate it, so that Next never
// meets a malformed record. A file in arrival order is then replayed
// lazily from disk, in constant memory; a file out of order is loaded and
// sorted stably by arrival (ties keep file order), and Reordered reports it.
type Trace struct {
	path      string
	file      *os.File
	records   recordReader // lazy replay; nil when loaded
	loaded    []Request    // the sorted requests when the file was out of order
	reordered bool
	closed    bool
	count     int64 // requests in the file
	nextID    int64
	limit     int64 // 0: all
	err       error
}

// OpenTrace opens and validates a trace. The format follows the extension:
// .csv, or .jsonl (also .ndjson).
func OpenTrace(path string) (*Trace, error) {
	format, err := traceFormat(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	t := &Trace{path: path, file: f}
	sorted, err := t.check(format)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err == nil {
		t.records = newRecordReader(format, f, path)
		if !sorted {
			err = t.load()
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

// check validates every record and reports whether arrivals never decrease.
func (t *Trace) check(format string) (sorted bool, err error) {
	records := newRecordReader(format, t.file, t.path)
	sorted = true
	var last int64
	for {
		r, err := records.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, err
		}
		if t.count > 0 && r.ArrivalNanos < last {
			sorted = false
		}
		last = r.ArrivalNanos
		t.count++
	}
	if t.count == 0 {
		return false, fmt.Errorf("%s: trace has no requests", t.path)
	}
	return sorted, nil
}

// load reads every record into memory, sorts them stably by arrival and
// closes the file.
func (t *Trace) load() error {
	t.loaded = make([]Request, 0, t.count)
	for {
		r, err := t.records.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		t.loaded = append(t.loaded, r)
	}
	slices.SortStableFunc(t.loaded, func(a, b Request) int { return cmp.Compare(a.ArrivalNanos, b.ArrivalNanos) })
	err := t.file.Close()
	t.reordered, t.records, t.file = true, nil, nil
	return err
}

// Next returns the next request in arrival order.
func (t *Trace) Next() (Request, bool) {
	if t.closed || t.err != nil || t.nextID >= t.Len() {
		t.Close()
		return Request{}, false
	}
	var r Request
	if t.loaded != nil {
		r = t.loaded[t.nextID]
	} else {
		var err error
		if r, err = t.records.read(); err != nil {
			// Only a file changed since OpenTrace validated it gets here.
			if err == io.EOF {
				err = errors.New("file shrank since it was opened")
			}
			t.err = fmt.Errorf("trace %s: %w", t.path, err)
			t.Close()
			return Request{}, false
		}
	}
	r.ID = t.nextID
	t.nextID++
	return r, true
}

// Len returns the number of requests the trace will yield.
func (t *Trace) Len() int64 {
	if t.limit > 0 && t.limit < t.count {
		return t.limit
	}
	return t.count
}

// Reordered reports whether the file was out of arrival order and was
// sorted in memory.
func (t *Trace) Reordered() bool { return t.reordered }

// Err returns the error that ended a replay early: possible only when the
// file changed after OpenTrace validated it.
func (t *Trace) Err() error { return t.err }

// Close ends the replay and releases the file; Next closes it itself at
// the end of the trace.
func (t *Trace) Close() error {
	t.closed = true
	if t.file == nil {
		return nil
	}
	err := t.file.Close()
	t.file, t.records = nil, nil
	return err
}

// Trace formats.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

func traceFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("trace %s: unknown format (want a .csv or .jsonl file)", path)
}
