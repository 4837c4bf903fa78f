package sweep

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/offload"
)

// ZeRO-Inference at fetch = 0.5 streams OPT-6.7B's 13.3 GB of bf16 weights
// over PCIe 3.0 (16 GB/s × 0.865) at half its rate for every decode step:
// 1.92 s, plus the GPU's work on each layer after its fetch.
func TestOffloadEstimateDecodeByHand(t *testing.T) {
	tg, err := (&Loader{}).Resolve(TargetSpec{HW: "t4-flexgen-paper", Model: "opt-6.7b", Weights: "bf16", KVScheme: "full"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := offload.Parse("zero:tier=cpu,fetch=0.5")
	if err != nil {
		t.Fatal(err)
	}
	r, err := OffloadEstimate(tg, s, Work{Phase: "decode", Batch: 4, Prompt: 1, Context: 256, Output: 1})
	if err != nil {
		t.Fatal(err)
	}
	fetch := tg.Model.WeightBytes(tg.Prec.Weights) / (16e9 * 0.865 * 0.5)
	if r.Seconds < fetch || r.Seconds > 1.1*fetch {
		t.Errorf("decode step %.4g s, want the %.4g s fetch plus under 10%%", r.Seconds, fetch)
	}
	if r.Bound != "link" || math.Abs(r.TokensPerSecond*r.Seconds-4) > 1e-9 || !r.Memory.Fits {
		t.Errorf("bound %s, tokens %v, fits %v", r.Bound, r.TokensPerSecond*r.Seconds, r.Memory.Fits)
	}
	if _, err := OffloadEstimate(tg, s, Work{Phase: "train", Batch: 1, Prompt: 1, Output: 1}); err == nil {
		t.Error("unknown phase accepted")
	}
}
