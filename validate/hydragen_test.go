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
// prefix attention, is priced within 19% at batch 1024 (short kernels of
// batch 256 with small prefixes run 2× the price); the suffix attention
// over 64-token per-sequence caches, which ran at half the decode curve's
// bandwidth, is within 10-18% with the attention work-item floor, so the
// whole layer's attention is 11-37% above the price (docs/KVCACHE.md).
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
	var rel, relPrefix, relSuffix []float64
	for i := range tab.rows {
		b, _ := tab.int(i, "batch")
		p, _ := tab.int(i, "prefix")
		s, _ := tab.int(i, "suffix")
		measured, _ := tab.num(i, "total_seconds")
		measuredPrefix, _ := tab.num(i, "prefix_seconds")
		measuredSuffix, _ := tab.num(i, "suffix_seconds")
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
		var predicted, predictedPrefix, predictedSuffix float64
		for k := range g.Ops {
			op := &g.Ops[k]
			if op.Kind != models.KindAttention && op.Name != kvcache.OpCombine {
				continue
			}
			perLayer := roofline.Cost(op, dev).Seconds / float64(op.Repeat)
			predicted += perLayer
			switch {
			case op.Name == "attn_prefix":
				predictedPrefix += perLayer
			case op.Kind == models.KindAttention:
				predictedSuffix += perLayer
			}
		}
		e, ep, es := predicted/measured-1, predictedPrefix/measuredPrefix-1, predictedSuffix/measuredSuffix-1
		t.Logf("batch %4d prefix %5d: attention %.3f ms measured, %.3f predicted (%+.1f%%); prefix part %.3f vs %.3f (%+.1f%%); suffix part %.3f vs %.3f (%+.1f%%)",
			b, p, 1e3*measured, 1e3*predicted, 100*e, 1e3*measuredPrefix, 1e3*predictedPrefix, 100*ep, 1e3*measuredSuffix, 1e3*predictedSuffix, 100*es)
		rel = append(rel, e)
		relPrefix = append(relPrefix, ep)
		relSuffix = append(relSuffix, es)
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
	// Each sequence's suffix attention over its 64-token cache is priced
	// with the work-item floor (hw.Overhead.AttentionItemSeconds, fitted
	// to validate/gpu/data/h200-attn-short, not to this file): within 25%
	// (it was half the measured time without the floor).
	for i, e := range relSuffix {
		if math.Abs(e) > 0.25 {
			t.Errorf("row %d: suffix attention off by %+.1f%%, want within 25%%", i, 100*e)
		}
	}
	// What is left: the whole layer is predicted 10-40% faster than
	// measured (batch-256 prefix kernels of 16-80 µs, and the combine).
	// A change that moves it should update this band and docs/KVCACHE.md.
	for i, e := range rel {
		if e > -0.05 || e < -0.45 {
			t.Errorf("row %d: layer attention %+.1f%%, outside the documented −5%% to −45%%", i, 100*e)
		}
	}
}
