package replica

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// hf-eager-like prices Hugging Face's eager attention and its cache grown
// by torch.cat; the other engines neither. A decode step of 4 sequences
// at 2000 cached tokens on Llama-3-8B then carries kv_concat in its 32
// layers, each moving 4 × 2000 × 4096 bytes each way.
func TestHFEagerConcatenatesItsCache(t *testing.T) {
	for _, name := range []string{"device", "vllm-like", "trtllm-like"} {
		if c := config(t, "h100-sxm", "llama3-8b", name, nil); c.Options.ConcatKVCache || c.Options.MaterialisedAttention {
			t.Errorf("%s: options %+v", name, c.Options)
		}
	}
	c := config(t, "h100-sxm", "llama3-8b", "hf-eager-like", nil)
	if !c.Options.ConcatKVCache || !c.Options.MaterialisedAttention {
		t.Fatalf("hf-eager-like options %+v", c.Options)
	}
	seqs := []models.Seq{{Cached: 2000, New: 1}, {Cached: 2000, New: 1}, {Cached: 2000, New: 1}, {Cached: 2000, New: 1}}
	g := c.Model.Graph(seqs, c.Precision, c.Options)
	var moved float64
	for _, o := range g.Ops {
		if o.Name == models.OpKVConcat {
			moved += float64(o.Repeat) * o.Bytes()
		}
	}
	if want := 32 * 2 * 4 * 2000 * 4096.0; moved != want {
		t.Errorf("kv_concat moves %v bytes per step, want %v", moved, want)
	}
	// The executor prices those copies: switching them off saves exactly
	// their roofline time.
	var copySeconds float64
	for i := range g.Ops {
		if g.Ops[i].Name == models.OpKVConcat {
			copySeconds += roofline.Cost(&g.Ops[i], c.Device).Seconds
		}
	}
	plain := config(t, "h100-sxm", "llama3-8b", "hf-eager-like", func(c *Config) { c.Profile.ConcatKVCache = false })
	got := NewExecutor(&c).Price(seqs).Seconds() - NewExecutor(&plain).Price(seqs).Seconds()
	if copySeconds <= 0 || math.Abs(got-copySeconds) > 1e-12 {
		t.Errorf("concatenation adds %g s to the step, its ops cost %g s", got, copySeconds)
	}
}
