// Package trace writes a simulated timeline as a Chrome trace (the JSON
// Trace Event Format that chrome://tracing and ui.perfetto.dev open):
// iterations as complete slices on one track per replica, requests as
// async slices. Events stream to the writer as they happen; nothing is
// kept in memory.
package trace

import (
	"bufio"
	"io"
	"strconv"
)

// Writer streams trace events. The zero value is unusable; call New. A nil
// *Writer ignores every call, so callers need no checks.
type Writer struct {
	w     *bufio.Writer
	buf   []byte
	first bool
	err   error
}

// New starts a trace on w. Call Close to finish the JSON document.
func New(w io.Writer) *Writer {
	t := &Writer{w: bufio.NewWriterSize(w, 1<<16), first: true}
	t.raw(`{"displayTimeUnit":"ms","traceEvents":[` + "\n")
	return t
}

func (t *Writer) raw(s string) {
	if t.err == nil {
		_, t.err = t.w.WriteString(s)
	}
}

// micros appends nanoseconds as microseconds with three decimals.
func micros(b []byte, nanos int64) []byte {
	b = strconv.AppendInt(b, nanos/1000, 10)
	frac := nanos % 1000
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}

func (t *Writer) begin(ph byte, name string, pid, tid int64, atNanos int64) {
	t.buf = t.buf[:0]
	if !t.first {
		t.buf = append(t.buf, ",\n"...)
	}
	t.first = false
	t.buf = append(t.buf, `{"ph":"`...)
	t.buf = append(t.buf, ph)
	t.buf = append(t.buf, `","name":`...)
	t.buf = strconv.AppendQuote(t.buf, name)
	t.buf = append(t.buf, `,"pid":`...)
	t.buf = strconv.AppendInt(t.buf, pid, 10)
	t.buf = append(t.buf, `,"tid":`...)
	t.buf = strconv.AppendInt(t.buf, tid, 10)
	t.buf = append(t.buf, `,"ts":`...)
	t.buf = micros(t.buf, atNanos)
}

func (t *Writer) arg(key string, v int64) {
	t.buf = append(t.buf, `"`...)
	t.buf = append(t.buf, key...)
	t.buf = append(t.buf, `":`...)
	t.buf = strconv.AppendInt(t.buf, v, 10)
}

// args3 writes `,"args":{...}` with three integer arguments.
func (t *Writer) args3(k1 string, v1 int64, k2 string, v2 int64, k3 string, v3 int64) {
	t.buf = append(t.buf, `,"args":{`...)
	t.arg(k1, v1)
	t.buf = append(t.buf, ',')
	t.arg(k2, v2)
	t.buf = append(t.buf, ',')
	t.arg(k3, v3)
	t.buf = append(t.buf, '}')
}

func (t *Writer) end() {
	t.buf = append(t.buf, '}')
	if t.err == nil {
		_, t.err = t.w.Write(t.buf)
	}
}

// Iteration writes one iteration of replica as a complete slice with its
// batch composition.
func (t *Writer) Iteration(replica int32, startNanos, endNanos int64, seqs, prefillTokens, decodeSeqs int) {
	if t == nil {
		return
	}
	t.begin('X', "iteration", int64(replica), 0, startNanos)
	t.buf = append(t.buf, `,"cat":"iteration","dur":`...)
	t.buf = micros(t.buf, endNanos-startNanos)
	t.args3("seqs", int64(seqs), "prefill_tokens", int64(prefillTokens), "decode_seqs", int64(decodeSeqs))
	t.end()
}

// Span writes an async slice [startNanos, endNanos] named name for
// request id on replica's process (nested slices of one id stack up).
func (t *Writer) Span(name string, replica int32, id, startNanos, endNanos int64) {
	if t == nil {
		return
	}
	for _, ph := range []byte{'b', 'e'} {
		at := startNanos
		if ph == 'e' {
			at = endNanos
		}
		t.begin(ph, name, int64(replica), 1, at)
		t.buf = append(t.buf, `,"cat":"request","id":`...)
		t.buf = strconv.AppendInt(t.buf, id, 10)
		t.end()
	}
}

// KVBlocks writes a counter of replica's KV blocks at atNanos: used (held
// by requests), cached (prefix chunks no request holds) and free; the
// three stack up to the capacity.
func (t *Writer) KVBlocks(replica int32, atNanos int64, used, cached, free int) {
	if t == nil {
		return
	}
	t.begin('C', "kv blocks", int64(replica), 0, atNanos)
	t.args3("used", int64(used), "cached", int64(cached), "free", int64(free))
	t.end()
}

// Instant writes a process-wide instant event (e.g. a rejection).
func (t *Writer) Instant(name string, replica int32, atNanos int64) {
	if t == nil {
		return
	}
	t.begin('i', name, int64(replica), 0, atNanos)
	t.buf = append(t.buf, `,"s":"p"`...)
	t.end()
}

// ProcessName labels replica's track in the viewer.
func (t *Writer) ProcessName(replica int32, name string) {
	if t == nil {
		return
	}
	t.begin('M', "process_name", int64(replica), 0, 0)
	t.buf = append(t.buf, `,"args":{"name":`...)
	t.buf = strconv.AppendQuote(t.buf, name)
	t.buf = append(t.buf, '}')
	t.end()
}

// Close ends the JSON document and flushes; it returns the first write
// error.
func (t *Writer) Close() error {
	if t == nil {
		return nil
	}
	t.raw("\n]}\n")
	if t.err == nil {
		t.err = t.w.Flush()
	}
	return t.err
}
