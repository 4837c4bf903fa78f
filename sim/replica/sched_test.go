package replica

import (
	"testing"
)

// prefill-first: an iteration that admits prompts runs nothing else.
func TestPrefillFirstStallsDecodes(t *testing.T) {
	c := config(t, "h100-sxm", "llama3-8b", "device", nil)
	_, rec := drive(t, &c, []*Request{req(0, 0, 100, 50), req(1, 100e6, 200, 5)})
	sawMixed := false
	for _, it := range rec.iterations {
		if it.PrefillTokens > 0 && it.DecodeSeqs > 0 {
			sawMixed = true
		}
	}
	if sawMixed || rec.iterations[0].PrefillTokens != 100 {
		t.Fatalf("prefill-first mixed phases: %+v", rec.iterations[:3])
	}
	if rec.tokens != 55 || len(rec.finished) != 2 {
		t.Fatalf("%d tokens, %d finished", rec.tokens, len(rec.finished))
	}
}

// Chunked prefill (Sarathi): decodes go first and a long prompt is cut so
// that no iteration exceeds the chunk.
func TestChunkedPrefillRespectsBudget(t *testing.T) {
	c := config(t, "h100-sxm", "llama3-8b", "vllm-like", func(c *Config) {
		c.Scheduler.ChunkTokens = 256
		c.Profile.AdmitSeconds, c.Profile.AdmitPerTokenSeconds = 0, 0
	})
	_, rec := drive(t, &c, []*Request{req(0, 0, 100, 40), req(1, 0, 90, 40), req(2, 50e6, 1000, 3)})
	chunks := 0
	for _, it := range rec.iterations {
		if it.PrefillTokens+it.DecodeSeqs > 256 {
			t.Fatalf("iteration over the chunk: %+v", it)
		}
		if it.PrefillTokens > 0 && it.DecodeSeqs > 0 {
			chunks++
		}
	}
	// The 1000-token prompt needs ⌈1000 / (256 − 2 decodes)⌉ = 4 mixed
	// iterations.
	if chunks != 4 {
		t.Fatalf("%d mixed iterations, want 4", chunks)
	}
	if rec.iterations[0].PrefillTokens != 190 {
		t.Fatalf("both short prompts start together: %+v", rec.iterations[0])
	}
}

// When blocks run out, the most recently admitted request is preempted and
// later recomputes its prompt and the tokens it had generated.
func TestRecomputePreemptionIsLIFO(t *testing.T) {
	c := config(t, "h100-sxm", "llama3-8b", "device", nil)
	a, b := req(0, 0, 60, 60), req(1, 0, 60, 60)
	// Shrink the cache to 10 blocks (160 tokens) for a hand-checkable run.
	_, rec := driveWith(t, &c, []*Request{a, b}, func(r *Replica) { r.kv = newTestBlocks(10, 16) })
	// Both prompts (4 blocks each) start; when the decodes need a ninth
	// and tenth block, then an eleventh, b (admitted last) is evicted.
	if a.Preemptions != 0 || b.Preemptions == 0 {
		t.Fatalf("preemptions a %d, b %d", a.Preemptions, b.Preemptions)
	}
	if len(rec.finished) != 2 || rec.finished[0] != a || rec.tokens != 120 {
		t.Fatalf("finished %d, tokens %d", len(rec.finished), rec.tokens)
	}
	// b's recompute prefill covers its prompt and what it had generated.
	found := false
	for _, it := range rec.iterations {
		if it.PrefillTokens > 60 {
			found = true
		}
	}
	if !found {
		t.Fatal("no recompute prefill of prompt + generated tokens")
	}
}

// Static batching: the batch prefills padded prompts, decodes until the
// longest output, and every member finishes when the batch does.
func TestStaticBatchFinishesTogether(t *testing.T) {
	c := config(t, "h100-sxm", "llama3-8b", "hf-eager-like", func(c *Config) { c.Profile.AdmitSeconds = 0 })
	_, rec := drive(t, &c, []*Request{req(0, 0, 100, 5), req(1, 0, 300, 20), req(2, 1, 50, 3)})
	// The third arrives while the first batch runs: two batches.
	if rec.iterations[0].Seqs != 2 || rec.iterations[0].PrefillTokens != 600 {
		t.Fatalf("first batch: %+v (prompts padded to 300)", rec.iterations[0])
	}
	if len(rec.iterations) != 20+3 {
		t.Fatalf("%d iterations, want 20 + 3", len(rec.iterations))
	}
	f := rec.finished
	if f[0].FinishNanos != f[1].FinishNanos || f[0].LastTokenNanos >= f[0].FinishNanos {
		t.Fatal("batch members return together, after the short one's last token")
	}
	if rec.tokens != 28 {
		t.Fatalf("%d tokens, want 28", rec.tokens)
	}
}

// Swap preemption moves KV over the host link, and the iteration that
// swaps waits for the copy.
func TestSwapWaitsForTheHostLink(t *testing.T) {
	c := config(t, "h100-node", "llama3-8b", "device", func(c *Config) { c.KV.Preemption = PreemptSwap })
	a, b := req(0, 0, 60, 60), req(1, 0, 60, 60)
	r, rec := driveWith(t, &c, []*Request{a, b}, func(r *Replica) { r.kv = newTestBlocks(10, 16) })
	st := r.Stats()
	if st.SwapOuts == 0 || b.Preemptions == 0 || rec.tokens != 120 {
		t.Fatalf("swap-outs %d, tokens %d", st.SwapOuts, rec.tokens)
	}
	// Each swap moves whole blocks: 2 MiB per block over 64 GB/s × 0.86.
	if st.SwappedBytes == 0 || r.hostLink.BusyNanos() == 0 {
		t.Fatal("no host-link traffic")
	}
	if r.host.Used() != 0 {
		t.Fatal("host blocks leaked")
	}
}

// Pipeline parallelism keeps up to PP micro-batches in flight: a new batch
// enters stage 0 while the previous one is in stage 1.
func TestPipelineOverlapsMicroBatches(t *testing.T) {
	c := config(t, "dgx-h100", "llama3-8b", "device", func(c *Config) { c.PP = 2 })
	var reqs []*Request
	for i := 0; i < 8; i++ {
		reqs = append(reqs, req(int64(i), int64(i)*1000, 200, 30))
	}
	r, rec := drive(t, &c, reqs)
	overlaps := 0
	for i := 1; i < len(rec.starts); i++ {
		if rec.starts[i] < rec.ends[i-1] {
			overlaps++
		}
	}
	if overlaps == 0 || rec.tokens != 240 {
		t.Fatalf("%d overlapping iterations, %d tokens", overlaps, rec.tokens)
	}
	if st := r.Stats(); st.GPUNanos > st.BusyNanos {
		t.Fatalf("mean stage busy %d ns exceeds the replica's busy time %d ns", st.GPUNanos, st.BusyNanos)
	}
}
