package trace

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestTraceIsValidJSON(t *testing.T) {
	var b bytes.Buffer
	w := New(&b)
	w.Iteration(0, 1500, 2_001_234, 3, 512, 2)
	w.Span("request", 0, 7, 0, 3_000_000)
	w.Span("queued", 0, 7, 0, 1500)
	w.Instant("rejected", 1, 42)
	w.ProcessName(0, "replica 0")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TraceEvents []map[string]any `json:"traceEvents"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if len(doc.TraceEvents) != 7 {
		t.Fatalf("%d events", len(doc.TraceEvents))
	}
	it := doc.TraceEvents[0]
	if it["ts"].(float64) != 1.5 || it["dur"].(float64) != 1999.734 {
		t.Fatalf("timestamps in µs: %v", it)
	}
	var nilWriter *Writer
	nilWriter.Iteration(0, 0, 1, 1, 1, 1)
	if nilWriter.Close() != nil {
		t.Fatal("nil writer")
	}
}
