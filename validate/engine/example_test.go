package engine_test

import (
	"fmt"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/validate/engine"
)

// A tiny Llama-style model with random bf16 weights: prefill two prompts of
// different lengths, then decode greedily. Every op is timed under its
// canonical name.
func Example() {
	arch := models.Arch{Name: "tiny", Layers: 2, Hidden: 64, Heads: 4, KVHeads: 2, Intermediate: 128,
		Vocab: 100, Norm: "rmsnorm", Activation: "swiglu", Position: "rope"}
	e, err := engine.New(engine.Config{Arch: arch, Weights: dtype.BF16, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	next, prefill, _ := e.Prefill([][]int{{1, 2, 3}, {4, 5, 6, 7, 8}})
	fmt.Println("prefill:", prefill.Seqs, "sequences,", prefill.Tokens, "tokens")
	for i := 0; i < 3; i++ {
		next, _, _ = e.Decode(next)
	}
	fmt.Println("cached:", e.SeqLen(0), e.SeqLen(1))
	for _, op := range prefill.List()[:4] {
		fmt.Println(op.Name)
	}
	// Output:
	// prefill: 2 sequences, 8 tokens
	// cached: 6 8
	// embed
	// attn_norm
	// qkv
	// rope
}
