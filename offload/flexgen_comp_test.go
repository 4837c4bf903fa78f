package offload

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
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
		"flexgen:search=1,cw=1": "search",
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

// Compressed cache with attention on the CPU (FlexGen --cpu-cache-compute
// --compress-cache): the cache stays 4-bit on the host and the CPU
// decompresses the whole buffer (prompt + output − 1 positions) of each
// GPU batch in every layer before attending, at 35 B of the host's memory
// traffic per value (H200 host-measured): on the toy host (100 GB/s, no
// efficiency curve, 6 kernels a tensor at no overhead) one layer of a GPU
// batch of 2 at 100 + 27 positions adds 2 × 2 × 127 × 1,024 values × 35 B
// / 100 GB/s to the CPU's work. The new keys and values are compressed on
// the GPU and sent to the host at 0.28125 of fp16.
func TestCompressedCacheWithCPUAttention(t *testing.T) {
	tg := toyTarget(t)
	f := &FlexGen{W: [3]float64{1, 0, 0}, C: [3]float64{0, 1, 0}, A: [3]float64{1, 0, 0}, GPUBatch: 2, NumBatches: 1, CPUAttention: true}
	plain, gp := stepGraph(t, f, tg, 100, 1)
	fc := *f
	fc.CompressCache = true
	comp, gc := stepGraph(t, &fc, tg, 100, 1)
	comp.alloc = 127
	comp.prices()
	values := 2.0 * 2 * 127 * 1024 // K and V, 2 sequences, 127 positions, kv_heads·head_dim
	if want := values * 35 / 100e9; !near(comp.extra.attnCPU.Seconds, want, 1e-9) {
		t.Errorf("CPU decompression %g s, want %g", comp.extra.attnCPU.Seconds, want)
	}
	if plain.extra.attnCPU.Seconds != 0 {
		t.Errorf("uncompressed cache: CPU decompression %g s", plain.extra.attnCPU.Seconds)
	}
	// The toy GPU decompresses nothing of the cache; it compresses the new token.
	if comp.extra.attn.Seconds <= 0 || comp.extra.attn.Seconds > 1e-6 {
		t.Errorf("GPU extra %g s: want only compressing the new keys and values", comp.extra.attn.Seconds)
	}
	rp, rc := Execute(gp, false), Execute(gc, false)
	newKV := 2.0 * 2 * 1024 * 2 // one token, 2 sequences, K and V, fp16
	if d := rc.Bytes[comp.r.d2h] - rp.Bytes[plain.r.d2h]; !near(d, float64(tg.Model.Layers)*newKV*FlexGenCompressedRatio, 1e-9) {
		t.Errorf("extra host-bound bytes %g, want the compressed new K/V of %d layers", d, tg.Model.Layers)
	}
	if _, err := Parse("flexgen:c=0/100/0,cpuattn=1,cc=1"); err != nil {
		t.Errorf("cc with cpuattn: %v", err)
	}
}

// The per-value costs the model charges come from the committed timings
// (validate/gpu/data/h200-kernels-offload): effective bytes = seconds ×
// the same size's copy rate / values, over the cases of 10^8 values and
// more (smaller ones sit in cache). GPU decompression 41-45 → 42, cache
// compression 90-102 → 100, CPU decompression 32-40 over two runs → 35.
func TestCompressionCostsMatchMeasured(t *testing.T) {
	check := func(column string, charged float64, files ...string) {
		t.Helper()
		var rows [][]string
		for _, file := range files {
			f, err := os.Open(filepath.Join("..", "validate", "gpu", "data", "h200-kernels-offload", file))
			if err != nil {
				t.Fatal(err)
			}
			r, err := csv.NewReader(f).ReadAll()
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if rows == nil {
				rows = r[:1]
			}
			rows = append(rows, r[1:]...)
		}
		file := files[0]
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range rows[1:] {
			num := func(c string) float64 {
				v, err := strconv.ParseFloat(r[col[c]], 64)
				if err != nil {
					t.Fatalf("%s %s: %v", file, c, err)
				}
				return v
			}
			values := num("values")
			if values < 1e8 || (column == "compress_seconds" && !strings.HasPrefix(r[col["case"]], "cache")) {
				continue
			}
			b := num(column) * num("copy_gbps") * 1e9 / values
			lo, hi = min(lo, b), max(hi, b)
		}
		if charged < 0.95*lo || charged > 1.05*hi {
			t.Errorf("%s %s: charged %g B/value, measured %.1f-%.1f", file, column, charged, lo, hi)
		}
	}
	check("decompress_seconds", fgDecompBytes, "flexgen_comp.csv")
	check("compress_seconds", fgCompBytes, "flexgen_comp.csv")
	check("decompress_seconds", fgCPUDecompBytes, "flexgen_comp_cpu.csv", "flexgen_comp_cpu_run2.csv")
}
