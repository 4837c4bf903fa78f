package offload

import (
	"testing"

	"github.com/llmsim/llmsim/dtype"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/sim"
)

func TestShadowKVFootprintByHand(t *testing.T) {
	// Llama-3.1-8B (32 layers, 8 KV heads × 128), bf16, 122,880 tokens:
	// factor 122,880 × 160 × 2 B, S·V 160 × 1024 × 2 B, landmarks
	// 15,360 × 1024 × 2 B, outliers 0.3% of the tokens' K and V, 32 recent
	// tokens and the 1.56% budget's K and V (1024 × 2 B each), per layer.
	m, _ := models.Load("llama3.1-8b")
	r := &Retrieval{Kind: "shadowkv", Budget: 0.0156, Chunk: 8, Rank: 160, Outliers: 0.003, Local: 32}
	n := 122880.0
	perLayer := n*160*2 + 160*1024*2 + n/8*1024*2 + 0.003*n*2*1024*2 + 32*2*1024*2 + 0.0156*n*2*1024*2
	if got := r.gpuBytesPerSeq(m, 2, 122880); !near(got, 32*perLayer, 1e-12) {
		t.Errorf("GPU bytes per sequence %g, want %g", got, 32*perLayer)
	}
	// Values on the host: 122,880 × 1024 × 2 B × 32 layers.
	if got := r.hostBytesPerSeq(m, 2, 122880); got != n*1024*2*32 {
		t.Errorf("host bytes %g", got)
	}
	// One decode step fetches (1 - hit) of the budget's values per layer.
	st := &retrievalStep{r: &Retrieval{Kind: "shadowkv", Budget: 0.0156, Hit: 0.6}, t: NewTarget(toySystem(), m, models.Precision{}), batch: 4}
	if got, want := st.fetchBytes(122880), 4*0.4*0.0156*n*1024*2; !near(got, want, 1e-12) {
		t.Errorf("fetch per layer %g, want %g", got, want)
	}
}

func TestKVSwapStreamsTheCache(t *testing.T) {
	// With the cache in host memory, a decode step on the toy system moves
	// every layer's KV (batch × context × 2 × 1024 × 2 B) over the 10 GB/s
	// link, and the step cannot be shorter than that transfer.
	s, err := Parse("kvswap")
	if err != nil {
		t.Fatal(err)
	}
	f := s.(*FlexGen)
	f.GPUBatch, f.NumBatches = 8, 1
	tg := toyTarget(t)
	st, g := stepGraph(t, f, tg, 4000, 1)
	r := Execute(g, false)
	kv := 8.0 * 4000 * 2 * 1024 * 2 * 4
	if !near(r.Bytes[st.r.h2d], kv, 1e-9) {
		t.Errorf("h2d moved %g, want %g", r.Bytes[st.r.h2d], kv)
	}
	if got := sim.Seconds(r.MakespanNanos); got < kv/10e9 {
		t.Errorf("step %g s shorter than the transfer %g s", got, kv/10e9)
	}
}

func TestFlashReadsByHand(t *testing.T) {
	// OPT-6.7B on the M1 Max flash: bundled reads are 2 × 4096 × 2 B =
	// 16 KiB at 2.25 GB/s (0.349 of 6 GiB/s); a token reads 0.2/8.6 of the
	// FFN weights.
	sys, err := hw.Load("m1-max-flash")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := models.Load("opt-6.7b")
	s, _ := Parse("flash:mode=bundle")
	r, err := s.Run(NewTarget(sys, m, models.Precision{}), Workload{Batch: 1, Prompt: 128, Output: 4})
	if err != nil {
		t.Fatal(err)
	}
	if r.Extra["flash_read_bytes"] != 16384 || !near(r.Extra["flash_bytes_per_second"], 0.349*6442450944, 1e-9) {
		t.Errorf("read %g B at %g B/s", r.Extra["flash_read_bytes"], r.Extra["flash_bytes_per_second"])
	}
	ffn := 32.0 * 2 * (4096*16384*2 + 16384 + 4096 + 2*4096) // fc1, fc2, biases, LayerNorm
	if !near(r.Extra["flash_bytes_per_token"], ffn*0.2/8.6, 1e-9) {
		t.Errorf("flash bytes per token %g, want %g", r.Extra["flash_bytes_per_token"], ffn*0.2/8.6)
	}
	// Naive reads the whole model per token.
	s, _ = Parse("flash:mode=naive")
	r, _ = s.Run(NewTarget(sys, m, models.Precision{}), Workload{Batch: 1, Prompt: 128, Output: 4})
	if !near(r.Extra["flash_bytes_per_token"], m.WeightBytes(dtype.FP16), 1e-12) {
		t.Errorf("naive reads %g per token", r.Extra["flash_bytes_per_token"])
	}
}
