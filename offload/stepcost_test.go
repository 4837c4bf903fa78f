package offload

import (
	"strings"
	"testing"

	"github.com/llmsim/llmsim/models"
)

// A ZeRO decode step on the toy system fetches every weight over the
// 10 GB/s PCIe link at fetch = 0.5 of its rate before computing with it
// (no overlap): the step lasts weight bytes / 5 GB/s plus ~0.1 ms of GPU
// work (105 MB at 1 TB/s).
func TestStepSecondsByHand(t *testing.T) {
	tg := NewTarget(toySystem(), toyModel(t), models.Precision{})
	s, err := Parse("zero:tier=cpu,fetch=0.5")
	if err != nil {
		t.Fatal(err)
	}
	sec, flops, bytes, err := tg.StepSeconds(s, []models.Seq{{Cached: 100, New: 1}})
	if err != nil {
		t.Fatal(err)
	}
	weights := tg.Model.WeightBytes(tg.Prec.Weights)
	if want := weights / 5e9; !near(sec, want, 0.02) {
		t.Errorf("decode step %.4g s, want weights %.4g B / 5 GB/s = %.4g s", sec, weights, want)
	}
	// One token through ~52M parameters: ~2 FLOPs per parameter (the
	// embedding is a lookup, 2% of them).
	if p := tg.Model.Params(); flops < 1.95*p || flops > 2.05*p {
		t.Errorf("flops %.4g, want about 2 × %.4g params", flops, p)
	}
	// The weights cross the link once and are read once by the GPU (one
	// row of the embedding).
	if bytes < 1.95*weights || bytes > 2.05*weights {
		t.Errorf("bytes moved %.4g, want about 2 × weights %.4g", bytes, weights)
	}
}

// The step pricer executes exactly the graphs Run executes: a run of two
// tokens is one prefill step and one decode step.
func TestStepSecondsMatchesRun(t *testing.T) {
	tg := NewTarget(toySystem(), toyModel(t), models.Precision{})
	for _, spec := range []string{"flexgen:w=50/50/0,c=0/100/0,a=100/0/0,gbs=2,ngb=2", "accelerate:tier=disk", "kvswap", "gpu"} {
		s, err := Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Run(tg, Workload{Batch: 4, Prompt: 256, Output: 2})
		if err != nil {
			t.Fatal(spec, err)
		}
		pre, _, _, err := tg.StepSeconds(s, []models.Seq{{New: 256}, {New: 256}, {New: 256}, {New: 256}})
		if err != nil {
			t.Fatal(spec, err)
		}
		// The decode step of the run is at context 256; mean of 200 and 312.
		dec, _, _, err := tg.StepSeconds(s, []models.Seq{{Cached: 200, New: 1}, {Cached: 312, New: 1}, {Cached: 256, New: 1}, {Cached: 256, New: 1}})
		if err != nil {
			t.Fatal(spec, err)
		}
		if pre != r.PrefillSeconds || dec != r.DecodeSeconds {
			t.Errorf("%s: StepSeconds prefill %.6g decode %.6g, Run %.6g and %.6g", spec, pre, dec, r.PrefillSeconds, r.DecodeSeconds)
		}
	}
}

// A mixed batch is its decode step plus one step per prompt shape.
func TestStepSecondsMixed(t *testing.T) {
	tg := NewTarget(toySystem(), toyModel(t), models.Precision{})
	s, _ := Parse("accelerate:tier=cpu")
	step := func(seqs ...models.Seq) float64 {
		sec, _, _, err := tg.StepSeconds(s, seqs)
		if err != nil {
			t.Fatal(err)
		}
		return sec
	}
	mixed := step(models.Seq{New: 128}, models.Seq{Cached: 300, New: 1}, models.Seq{Cached: 500, New: 1})
	parts := step(models.Seq{New: 128}) + step(models.Seq{Cached: 400, New: 1}, models.Seq{Cached: 400, New: 1})
	if mixed != parts {
		t.Errorf("mixed step %.6g s, want prefill + decode %.6g s", mixed, parts)
	}
}

func TestStepSecondsErrors(t *testing.T) {
	tg := NewTarget(toySystem(), toyModel(t), models.Precision{})
	for _, c := range []struct {
		spec string
		seqs []models.Seq
		want string
	}{
		{"flexgen:search=1", []models.Seq{{Cached: 10, New: 1}}, "resolve flexgen:search=1"},
		{"gpu", nil, "empty batch"},
		{"gpu", []models.Seq{{Cached: 10, New: 0}}, "0 new tokens"},
	} {
		s, err := Parse(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := tg.StepSeconds(s, c.seqs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want %q", c.spec, c.seqs, err, c.want)
		}
	}
}
