package validate

import (
	"fmt"
	"math"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// Hydragen's shared-prefix decode attention, timed for one layer of
// CodeLlama-13B's shape on an H200 (validate/gpu/hydragen.py, the faster
// of flash and cuDNN per part; data in gpu/data/h200-kernels-offload/
// hydragen.csv), against llmsim's price of the same ops on the calibrated
// h200: the prefix attention of all B queries against the shared prefix
// (attn_prefix), each sequence's attention over its 64-token suffix, and
// the log-sum-exp combine. Nothing here is fitted: the attention ceilings
// come from measure.py's kernels. The scheme's own mechanism, the batched
// prefix attention, is priced within 17% at batch 1024 (short kernels of
// batch 256 with small prefixes run 2× the price); the suffix attention
// over 64-token per-sequence caches runs at half the bandwidth the decode
// curve (calibrated on caches of 512 tokens and more) gives it, so the
// whole layer's attention is 28-57% above the price (docs/KVCACHE.md).
func TestHydragenOpsOnH200(t *testing.T) {
	tab, err := readTable("gpu/data/h200-kernels-offload/hydragen.csv")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := hw.LoadDevice("h200")
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.Load("llama2-13b") // CodeLlama-13B's layers: 40 × 128 heads, MHA
	if err != nil {
		t.Fatal(err)
	}
	prec := m.Resolve(models.Precision{Weights: dtype.FP16})
	var rel, relPrefix []float64
	for i := range tab.rows {
		b, _ := tab.int(i, "batch")
		p, _ := tab.int(i, "prefix")
		s, _ := tab.int(i, "suffix")
		measured, _ := tab.num(i, "total_seconds")
		measuredPrefix, _ := tab.num(i, "prefix_seconds")
		scheme, err := kvcache.Parse(fmt.Sprintf("hydragen:prefix=%d,share=%d", p, b))
		if err != nil {
			t.Fatal(err)
		}
		seqs := make([]models.Seq, b)
		for j := range seqs {
			seqs[j] = models.Seq{Cached: p + s - 1, New: 1}
		}
		var g models.Graph
		m.GraphInto(&g, seqs, prec, models.Options{})
		scheme.Rewrite(&g, m, seqs, prec)
		var predicted, predictedPrefix float64
		for k := range g.Ops {
			op := &g.Ops[k]
			if op.Kind != models.KindAttention && op.Name != kvcache.OpCombine {
				continue
			}
			perLayer := roofline.Cost(op, dev).Seconds / float64(op.Repeat)
			predicted += perLayer
			if op.Name == "attn_prefix" {
				predictedPrefix += perLayer
			}
		}
		e, ep := predicted/measured-1, predictedPrefix/measuredPrefix-1
		t.Logf("batch %4d prefix %5d: attention %.3f ms measured, %.3f predicted (%+.1f%%); prefix part %.3f vs %.3f (%+.1f%%)",
			b, p, 1e3*measured, 1e3*predicted, 100*e, 1e3*measuredPrefix, 1e3*predictedPrefix, 100*ep)
		rel = append(rel, e)
		relPrefix = append(relPrefix, ep)
	}
	mape, worst := Errors(rel)
	mp, wp := Errors(relPrefix)
	t.Logf("layer attention: MAPE %.1f%%, worst %+.1f%%; prefix attention: MAPE %.1f%%, worst %+.1f%%", mape, worst, mp, wp)
	if len(rel) != 10 {
		t.Fatalf("%d rows, want 10", len(rel))
	}
	// Rows 5-9 are batch 1024: the prefix attention within 20%.
	for i, e := range relPrefix[5:] {
		if math.Abs(e) > 0.20 {
			t.Errorf("batch 1024 row %d: prefix attention off by %+.1f%%, want within 20%%", i+5, 100*e)
		}
	}
	// The known under-price of short per-sequence decode attention: the
	// whole layer is predicted faster than measured, by 20-60%. A change
	// that fixes it (or makes it worse) should update this bound and
	// docs/KVCACHE.md.
	for i, e := range rel {
		if e > -0.2 || e < -0.6 {
			t.Errorf("row %d: layer attention %+.1f%%, outside the documented −20%% to −60%%", i, 100*e)
		}
	}
}
