// Package engine is a real CPU inference engine for decoder-only transformers
// described by a models.Arch. It exists to calibrate llmsim against what
// really runs: every op of a prefill or decode step is executed with float32
// arithmetic and timed under the canonical op names of package models, so a
// measured step can be compared with a predicted one op by op.
//
// Weights are random with a fixed seed or loaded from a safetensors file with
// Hugging Face Llama-style tensor names, and stored as fp32, bf16 or int8 (one
// scale per output channel). Low-precision weights are dequantised inside the
// GEMV and GEMM inner loops, never into an fp32 copy of the matrix.
//
// The kernels are pure Go: a cache-blocked, packed GEMM with a 3×3
// register-tiled micro-kernel for prompts and batches, and row-blocked GEMVs
// for single tokens. Both run on a persistent worker pool with one goroutine
// per CPU. docs/ENGINE.md reports their measured efficiency on the
// development host.
package engine
