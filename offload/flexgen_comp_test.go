package offload

import (
	"strings"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/sim"
)

func TestCompressionRatio(t *testing.T) {
	// 4 bits per value plus an fp16 scale and minimum per 64 values:
	// 0.5 + 4/64 = 0.5625 bytes per value, 0.28125 of fp16.
	if FlexGenCompressedRatio != 0.28125 {
		t.Errorf("ratio %g, want 0.28125", FlexGenCompressedRatio)
	}
}

func TestCompressedMemoryAndTransfers(t *testing.T) {
	// OPT-30B, everything on the CPU, 64 × 8, 512 + 32: a compressed cache
	// takes 0.28125 of the fp16 cache on the CPU; weights are unchanged.
	sys, err := hw.Load("t4-flexgen-paper")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := models.Load("opt-30b")
	tg := NewTarget(sys, m, models.Precision{})
	plain := &FlexGen{W: [3]float64{0, 1, 0}, C: [3]float64{0, 1, 0}, A: [3]float64{0, 1, 0}, GPUBatch: 64, NumBatches: 8}
	comp := *plain
	comp.CompressCache = true
	n, _ := locate(sys)
	w := Workload{Prompt: 512, Output: 32}
	p, c := plain.memory(tg, n, tg.sizes(), 64, 8, w), comp.memory(tg, n, tg.sizes(), 64, 8, w)
	if want := 512.0 * 544 * 48 * 4 * 7168; p[1].KVBytes != want || !near(c[1].KVBytes, 0.28125*want, 1e-12) {
		t.Errorf("CPU cache %g / %g, want %g and 0.28125 of it", p[1].KVBytes, c[1].KVBytes, want)
	}
	if p[1].WeightsBytes != c[1].WeightsBytes {
		t.Errorf("cc changed the weights: %g vs %g", p[1].WeightsBytes, c[1].WeightsBytes)
	}
	// With cw too the weights shrink by the same ratio.
	comp.CompressWeights = true
	cw := comp.memory(tg, n, tg.sizes(), 64, 8, w)
	if !near(cw[1].WeightsBytes, 0.28125*p[1].WeightsBytes, 1e-12) {
		t.Errorf("CPU weights %g, want 0.28125 × %g", cw[1].WeightsBytes, p[1].WeightsBytes)
	}
}

func TestDecompressionIsChargedPerGPUBatch(t *testing.T) {
	// Toy model, weights on the GPU compressed, no cache compression, no
	// overlap: a decode step costs the plain step plus, for every unit and
	// GPU batch, decompressing its weights — 42 bytes of element-wise
	// traffic per value (H200-measured) at the toy GPU's 1 TB/s, plus six
	// kernels per matrix (the toy has no kernel overhead).
	tg := toyTarget(t)
	f := &FlexGen{W: [3]float64{1, 0, 0}, C: [3]float64{1, 0, 0}, A: [3]float64{1, 0, 0}, GPUBatch: 2, NumBatches: 3}
	_, g := stepGraph(t, f, tg, 100, 1)
	plain := sim.Seconds(Execute(g, false).MakespanNanos)
	f.CompressWeights = true
	st, g := stepGraph(t, f, tg, 100, 1)
	comp := sim.Seconds(Execute(g, false).MakespanNanos)
	values := (st.sz.EmbedWeights + st.sz.HeadStream + float64(st.sz.Layers)*(st.sz.AttnWeights+st.sz.MLPWeights)) / 2
	want := 3 * values * 42 / 1e12
	if !near(comp-plain, want, 1e-6) {
		t.Errorf("decompression adds %g s, want %g (3 GPU batches × %g values × 42 B / 1 TB/s)", comp-plain, want, values)
	}
}

func TestCompressionRefusals(t *testing.T) {
	for spec, want := range map[string]string{
		"flexgen:c=0/100/0,cpuattn=1,cc=1": "cpuattn",
		"flexgen:search=1,cw=1":            "search",
	} {
		if _, err := Parse(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one naming %q", spec, err, want)
		}
	}
	w := Workload{Batch: 2, Prompt: 8, Output: 4}
	tg := toyTarget(t)
	tg.Prec.Weights = dtype.INT8
	if _, err := (&FlexGen{W: [3]float64{1, 0, 0}, C: [3]float64{1, 0, 0}, A: [3]float64{1, 0, 0}, CompressWeights: true}).Run(tg, w); err == nil || !strings.Contains(err.Error(), "16-bit") {
		t.Errorf("cw with %s weights: %v", tg.Prec.Weights, err)
	}
	tg = toyTarget(t)
	h2o, _ := kvcache.Parse("h2o:heavy=0.1,recent=0.1")
	tg.UseKVScheme(h2o)
	if _, err := (&FlexGen{W: [3]float64{1, 0, 0}, C: [3]float64{1, 0, 0}, A: [3]float64{1, 0, 0}, CompressCache: true}).Run(tg, w); err == nil || !strings.Contains(err.Error(), "KV-cache scheme") {
		t.Errorf("cc with h2o: %v", err)
	}
	tg = toyTarget(t)
	tg.UseKVScheme(kvcache.Full{})
	if _, err := (&FlexGen{W: [3]float64{1, 0, 0}, C: [3]float64{1, 0, 0}, A: [3]float64{1, 0, 0}, CompressCache: true}).Run(tg, w); err != nil {
		t.Errorf("cc with the full cache: %v", err)
	}
}
