package models_test

import (
	"fmt"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

// Sizes and one decode step of Llama-3-8B: 32 sequences with 1000 cached
// tokens each.
func Example() {
	m, err := models.Load("llama3-8b")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %.2fe9 parameters, %.0f KV bytes per token\n", m.Name, m.Params()/1e9, m.KVBytesPerToken(dtype.BF16))

	seqs := make([]models.Seq, 32)
	for i := range seqs {
		seqs[i] = models.Seq{Cached: 1000, New: 1}
	}
	p := models.Precision{Weights: dtype.BF16, Activations: dtype.BF16, KV: dtype.BF16}
	g := m.Graph(seqs, p, models.Options{})
	for _, op := range g.Ops[2:5] {
		fmt.Printf("%-4s ×%d layers: %.2f GFLOP, %.1f MB\n", op.Name, op.Repeat, op.FLOPs/1e9, op.Bytes()/1e6)
	}
	flops, bytes := g.Totals()
	fmt.Printf("step: %.0f GFLOP, %.1f GB\n", flops/1e9, bytes/1e9)
	// Output:
	// llama3-8b: 8.03e9 parameters, 131072 KV bytes per token
	// qkv  ×32 layers: 1.61 GFLOP, 51.0 MB
	// rope ×32 layers: 0.00 GFLOP, 0.7 MB
	// attn ×32 layers: 0.53 GFLOP, 132.0 MB
	// step: 497 GFLOP, 19.6 GB
}
