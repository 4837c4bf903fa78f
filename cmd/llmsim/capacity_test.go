package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/models"
)

func runCapacityJSON(t *testing.T, args ...string) *capacityResult {
	t.Helper()
	var out bytes.Buffer
	if err := runCapacity(append(args, "-o", "json"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var r capacityResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// Llama-3-8B keeps 2 × 32 layers × 8 KV heads × 128 × 2 bytes = 128 KiB per
// token, so 8,192 tokens are exactly 1 GiB; both answers are boundaries
// (they fit, one more does not); a 2-bit KIVI cache fits far more.
func TestCapacityIsTheBoundary(t *testing.T) {
	r := runCapacityJSON(t, "--model", "llama3-8b", "--context", "8192")
	if r.KVBytesPerSequence != 1<<30 {
		t.Errorf("KV per 8K sequence %g, want 1 GiB", r.KVBytesPerSequence)
	}
	tf := &targetFlags{hw: "h100-sxm", model: "llama3-8b", weights: "bf16", kvScheme: "full"}
	tg, err := tf.resolve()
	if err != nil {
		t.Fatal(err)
	}
	var g models.Graph
	if !tg.fitsWork(&g, r.MaxBatch, 8192, 8192) || tg.fitsWork(&g, r.MaxBatch+1, 8192, 8192) {
		t.Errorf("max batch %d is not the boundary", r.MaxBatch)
	}
	if !tg.fitsWork(&g, 1, r.MaxContext, 8192) || tg.fitsWork(&g, 1, r.MaxContext+1, 8192) {
		t.Errorf("max context %d is not the boundary", r.MaxContext)
	}
	if !r.MemoryAtMaxBatch.Fits || r.MemoryAtMaxBatch.TotalBytes > r.MemoryAtMaxBatch.CapacityBytes {
		t.Errorf("memory at the answer does not fit: %+v", r.MemoryAtMaxBatch)
	}
	// Weights (16.06 GB) and 1 GiB per sequence: at most 66 sequences in
	// 80 GiB before activations and the reserve.
	if r.MaxBatch < 55 || r.MaxBatch > 66 {
		t.Errorf("max batch %d, want 55-66", r.MaxBatch)
	}
	q := runCapacityJSON(t, "--model", "llama3-8b", "--context", "8192", "--kv-scheme", "kivi:bits=2")
	if q.MaxBatch < 4*r.MaxBatch {
		t.Errorf("KIVI 2-bit fits %d sequences, want over 4× the full cache's %d", q.MaxBatch, r.MaxBatch)
	}
}

// Under TP 4 each GPU holds 2 of Llama-3-70B's 8 KV heads: a quarter of the
// 320 KiB per token (80 layers × 8 heads × 128 × 2 × 2 bytes).
func TestCapacityPerGPUUnderTP(t *testing.T) {
	r := runCapacityJSON(t, "--hw", "dgx-h100", "--model", "llama3-70b", "--tp", "4", "--context", "32768")
	if want := float64(32768) * 80 * 8 * 128 * 2 * 2 / 4; r.KVBytesPerSequence != want {
		t.Errorf("KV per sequence per GPU %g, want %g", r.KVBytesPerSequence, want)
	}
	if r.TP != 4 || r.MaxBatch < 1 {
		t.Errorf("TP %d, max batch %d", r.TP, r.MaxBatch)
	}
}

// A recurrent model's sequence holds a constant state, whatever its length:
// Mamba-2.8B's is 64 layers × (5120 × 16 SSM + 5120 × 4 conv) × 2 bytes.
func TestCapacityRecurrentState(t *testing.T) {
	a := runCapacityJSON(t, "--model", "mamba-2.8b", "--context", "1000")
	b := runCapacityJSON(t, "--model", "mamba-2.8b", "--context", "100000")
	if a.KVBytesPerSequence != b.KVBytesPerSequence || a.KVBytesPerSequence != 13107200 {
		t.Errorf("state per sequence %g at 1K and %g at 100K, want 13,107,200 both", a.KVBytesPerSequence, b.KVBytesPerSequence)
	}
	if b.MaxContext != capacitySearchLimit {
		t.Errorf("max context %d, want the search limit", b.MaxContext)
	}
}

func TestCapacityErrors(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"--context 0", "--context"},
		{"--batch -1", "--batch"},
		{"--chunk -5", "--chunk"},
		{"--kv-scheme nope", "--kv-scheme"},
		{"--hw h100-sxm --tp 2", "--tp"},
		{"-o csv", "csv"},
	} {
		err := runCapacity(strings.Fields(c.args), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %s", c.args, err, c.want)
		}
	}
}
