package kvcache

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

func load(t *testing.T, name string) *models.Model {
	t.Helper()
	m, err := models.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func parse(t *testing.T, spec string) Scheme {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse(%q): %v", spec, err)
	}
	return s
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// Llama-3-8B: 32 layers × 8 K/V heads × 128 = 1024 K and 1024 V elements
// per token and layer; bf16 → 131,072 bytes per token over all layers.
const llama3Token = 131072

func TestStoredBytesByHand(t *testing.T) {
	m := load(t, "llama3-8b")
	for _, c := range []struct {
		spec   string
		tokens int
		want   float64
		why    string
	}{
		{"full", 4096, 4096 * llama3Token, "baseline"},
		// KIVI 2-bit, groups of 32 with an fp16 scale and zero point:
		// 2/8 + 4/32 = 0.375 bytes per element, 2048 elements per token
		// and layer, 32 layers.
		{"kivi:bits=2,group=32,residual=0", 4096, 4096 * 2048 * 0.375 * 32, "KIVI 2-bit, g32"},
		// With the 128 newest tokens in bf16: (3968·0.375 + 128·2)·2048·32.
		{"kivi:bits=2,group=32,residual=128", 4096, (3968*0.375 + 128*2) * 2048 * 32, "KIVI residual"},
		// H2O keeps ⌈0.2·n⌉ tokens.
		{"h2o:heavy=0.1,recent=0.1", 1000, 200 * llama3Token, "H2O 20%"},
		{"scissorhands:budget=0.2", 1001, 201 * llama3Token, "⌈0.2·1001⌉ = 201"},
		// A window keeps sink + recent at most.
		{"window:sink=4,recent=1020", 5000, 1024 * llama3Token, "window cap"},
		{"window:sink=4,recent=1020", 700, 700 * llama3Token, "under the window"},
		// DuoAttention, 50% retrieval heads: half the heads keep n, half
		// keep 384.
		{"duo:retrieval=0.5,sink=128,recent=256", 100000, (0.5*100000 + 0.5*384) * llama3Token, "duo 50%"},
		// LongGen: 11 of 32 layers full, 21 keep 4096.
		{"longgen", 131072, (11*131072 + 21*4096) * llama3Token / 32, "longgen"},
		// ThinK prunes 40% of key channels: (0.6 + 1)/2 of the cache.
		{"think:keys=0.4", 1000, 0.8 * 1000 * llama3Token, "think"},
		// CSKV keeps 20% of the channels of K and of V.
		{"cskv:keep=0.2", 1000, 0.2 * 1000 * llama3Token, "cskv"},
		// Quest adds min and max keys per 16-token page: 2·1024·2/16 bytes
		// per token and layer.
		{"quest:tokens=4096,page=16,dense=2", 1600, 1600*llama3Token + 1600*32*2*1024*2/16, "quest metadata"},
		// Double Sparsity's 4-bit label cache: 1/16 of 1024 key channels.
		{"doublesparsity", 1600, 1600*llama3Token + 1600*32*64*0.5, "label cache"},
		// Paged: 1000 tokens take 63 blocks of 16 = 1008 slots.
		{"paged:block=16", 1000, 1008 * llama3Token, "paged rounding"},
		// Contiguous reserves the model's 8192-token context.
		{"contiguous", 1000, 8192 * llama3Token, "contiguous reservation"},
		{"contiguous:max=2048", 3000, 3000 * llama3Token, "past the reservation"},
		// vAttention: a layer's K (and V) of 1000 tokens is 2,048,000 bytes,
		// one 2 MiB page each.
		{"vattention", 1000, 32 * 2 * 2097152, "vattention pages"},
		// BFP8: sign + 7 mantissa bits, an 8-bit exponent per 16.
		{"bfp", 1000, 1000 * 2048 * 32 * (1 + 1.0/16), "bfp"},
		// Hydragen with 4 sequences sharing a 2048-token prefix.
		{"hydragen:prefix=2048,share=4", 3000, (3000 - 0.75*2048) * llama3Token, "shared prefix"},
	} {
		got := parse(t, c.spec).StoredBytes(m, c.tokens, dtype.BF16)
		if !near(got, c.want) {
			t.Errorf("%s (%s): StoredBytes(%d) = %.0f, want %.0f", c.spec, c.why, c.tokens, got, c.want)
		}
	}
}

func TestComposedBytes(t *testing.T) {
	m := load(t, "llama3-8b")
	full := Full{}.StoredBytes(m, 2048, dtype.FP16)
	// Scissorhands 5× with 4-bit (no group scales): exactly 20×.
	s := parse(t, "scissorhands:budget=0.2+quant:bits=4,group=0")
	n := 2000 // ⌈0.2·2000⌉ = 400 exactly
	want := (Full{}).StoredBytes(m, n, dtype.FP16) / 20
	if got := s.StoredBytes(m, n, dtype.FP16); !near(got, want) {
		t.Errorf("scissorhands+4-bit = %v, want 1/20 of full = %v", got, want)
	}
	// DuoAttention 50% + KIVI 2-bit: half the heads × 0.375/2 of the bytes.
	s = parse(t, "duo:retrieval=0.5,sink=0,recent=1+kivi:bits=2,group=32,residual=0")
	want = 0.5*full*0.375/2 + 0.5*(1*2048*32*0.375)
	if got := s.StoredBytes(m, 2048, dtype.FP16); !near(got, want) {
		t.Errorf("duo+kivi = %v, want %v", got, want)
	}
	// Paged allocation rounds what a window keeps.
	s = parse(t, "window:sink=0,recent=1000+paged:block=16")
	if got := s.StoredBytes(m, 5000, dtype.BF16); !near(got, 1008*llama3Token) {
		t.Errorf("window+paged = %v, want %v", got, 1008*llama3Token)
	}
}

func TestWindowedModelHonoursItsWindow(t *testing.T) {
	m := load(t, "mistral-7b") // 4096-token sliding window on every layer
	full := Full{}.StoredBytes(m, 10000, dtype.BF16)
	if want := 4096.0 * llama3Token; !near(full, want) {
		t.Fatalf("full = %v, want %v", full, want)
	}
	// Budgets above the window change nothing; below it they cut.
	if got := parse(t, "h2o:heavy=0.5,recent=0.5").StoredBytes(m, 10000, dtype.BF16); !near(got, full) {
		t.Errorf("h2o 100%% = %v, want the window's %v", got, full)
	}
	if got := parse(t, "snapkv:tokens=1024").StoredBytes(m, 10000, dtype.BF16); !near(got, 1024*llama3Token) {
		t.Errorf("snapkv 1024 = %v", got)
	}
}

func TestLayerSplit(t *testing.T) {
	g := []group{{layers: 1.0 / 3}, {layers: 2.0 / 3}}
	if got := layerSplit(g, 32); got[0] != 11 || got[1] != 21 {
		t.Errorf("1/3 of 32 = %v, want 11 + 21", got[:2])
	}
	if got := layerSplit(g, 1); got[0]+got[1] != 1 {
		t.Errorf("one layer split into %v", got[:2])
	}
	h := []group{{layers: 1, heads: 0.5}, {layers: 1, heads: 0.5}}
	if got := layerSplit(h, 7); got[0] != 7 || got[1] != 7 {
		t.Errorf("head groups span all layers, got %v", got[:2])
	}
}
