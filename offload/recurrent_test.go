package offload

import (
	"strings"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// FlightLLM sizes a hybrid's cache from its attention layers only:
// BASED-1.3B has 7 windowed attention layers (window 128) of 16 × 112 K/V
// features, so a 192-token sequence keeps 7 × 128 × 2 × 1792 × 2 B =
// 6,422,528 B, plus the fp16 state of 7 linear-attention layers (28 heads
// × 273 features × 65) and 22 short convolutions (2·1792 channels × 3):
// 3,714,564 elements, 7,429,128 B.
func TestFlightLLMHybridKV(t *testing.T) {
	m, err := models.Load("based-1.3b")
	if err != nil {
		t.Fatal(err)
	}
	sys, err := hw.Load("alveo-u280")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("flightllm")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(NewTarget(sys, m, models.Precision{Weights: dtype.FP16}), Workload{Batch: 1, Prompt: 128, Output: 64})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Memory[0].KVBytes, 6422528.0+7429128; got != want {
		t.Errorf("KV %g B, want %g", got, want)
	}
}

// ShadowKV on Jamba keeps the values of its 4 attention layers (8 × 128
// K/V features) on the host: n × 1024 × 2 B × 4; it refuses a model with
// no attention layer.
func TestRetrievalHybrid(t *testing.T) {
	m, err := models.Load("jamba-v0.1")
	if err != nil {
		t.Fatal(err)
	}
	r := &Retrieval{Kind: "shadowkv", Budget: 0.0156, Chunk: 8, Rank: 160}
	if got := r.hostBytesPerSeq(m, 2, 1000); got != 1000*1024*2*4 {
		t.Errorf("host bytes %g, want %d", got, 1000*1024*2*4)
	}
	mamba, err := models.Load("mamba-2.8b")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Run(NewTarget(toySystem(), mamba, models.Precision{}), Workload{Batch: 1, Prompt: 16, Output: 4})
	if err == nil || !strings.Contains(err.Error(), "no attention layers") {
		t.Errorf("mamba under shadowkv: %v", err)
	}
}
