package bench

import (
	"flag"
	"runtime"
	"testing"
	"time"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/validate/engine"
)

func TestQuick(t *testing.T) {
	start := time.Now()
	res, err := Run(Options{Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		t.Log(r)
		if r.Seconds <= 0 || r.BytesPerSecond <= 0 {
			t.Errorf("%v: no rate", r)
		}
	}
	for _, kind := range []string{"read", "copy", "triad", "gemm", "gemv", "gemm_gonum"} {
		if _, ok := Best(res, kind); !ok {
			t.Errorf("no %s result", kind)
		}
	}
	t.Logf("quick suite: %v", time.Since(start))
}

var llama1B = flag.Bool("llama1b", false, "measure the engine on Llama-3.2-1B shapes (needs ~6 GB of RAM and a few minutes)")

// Llama32_1B has the shapes of meta-llama/Llama-3.2-1B (config.json):
// 16 layers, hidden 2048, 32 heads, 8 KV heads, intermediate 8192, vocab
// 128256, tied embeddings, RoPE θ = 500000.
var Llama32_1B = models.Arch{Name: "llama-3.2-1b", Layers: 16, Hidden: 2048, Heads: 32, KVHeads: 8,
	Intermediate: 8192, Vocab: 128256, Norm: "rmsnorm", Activation: "swiglu", Position: "rope", TiedEmbeddings: true}

// TestLlama1BEfficiency reports the ratios docs/ENGINE.md quotes: decode
// weight-read bandwidth over the measured memory read bandwidth, and prefill
// GEMM throughput over the best GEMM measured on the host.
func TestLlama1BEfficiency(t *testing.T) {
	if !*llama1B {
		t.Skip("run with -llama1b")
	}
	t.Logf("cpu: %s, %d threads", CPUModel(), runtime.NumCPU())
	mem := Memory(Options{})
	read, _ := Best(mem, "read")
	gemm, err := GEMM(Options{})
	if err != nil {
		t.Fatal(err)
	}
	own, _ := Best(gemm, "gemm")
	ref, _ := Best(gemm, "gemm_gonum")
	t.Logf("memory read %.1f GB/s; best engine GEMM %.1f GFLOP/s (%v); gonum Sgemm %.1f GFLOP/s (%v)",
		read.BytesPerSecond/1e9, own.FLOPsPerSecond/1e9, own, ref.FLOPsPerSecond/1e9, ref)
	bestGEMM := max(own.FLOPsPerSecond, ref.FLOPsPerSecond)
	for _, dt := range []dtype.DType{dtype.FP32, dtype.BF16, dtype.INT8} {
		prompt := 0
		if dt == dtype.FP32 {
			prompt = 128
		}
		run, err := MeasureEngine(engine.Config{Arch: Llama32_1B, Weights: dt, Seed: 1, RoPETheta: 500000}, max(prompt, 1), 5)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(run)
		t.Logf("  decode ops: %v", run.Decode.Ops)
		t.Logf("  %s decode weight read / memory read = %.2f", dt, run.DecodeWeightBytesPerSecond/read.BytesPerSecond)
		if prompt > 0 {
			t.Logf("  prefill ops: %v", run.Prefill.Ops)
			t.Logf("  %s prefill GEMM / best GEMM = %.2f", dt, run.PrefillGEMMFLOPsPerSecond/bestGEMM)
		}
	}
}
