package models

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/dtype"
)

func mustLoad(t testing.TB, name string) *Model {
	t.Helper()
	m, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}

// Published parameter counts (model cards, papers); OPT-6.7B's "6.7B" is a
// rounding of the 6,658,473,984 weights in the checkpoint.
func TestParamsMatchPublished(t *testing.T) {
	for _, c := range []struct {
		name string
		want float64
	}{
		{"llama3-8b", 8.03e9},
		{"llama3.1-8b", 8.03e9},
		{"llama3-70b", 70.55e9},
		{"llama2-7b", 6.74e9},
		{"llama2-13b", 13.0e9},
		{"llama2-70b", 68.98e9},
		{"mixtral-8x7b", 46.7e9},
		{"mistral-7b", 7.24e9},
		{"qwen2.5-0.5b", 0.494e9},
		{"qwen2.5-7b", 7.62e9},
		{"qwen2.5-14b", 14.77e9},
		{"qwen2.5-72b", 72.7e9},
		{"opt-1.3b", 1.316e9},
		{"opt-6.7b", 6.658e9},
		{"opt-13b", 12.85e9},
		{"opt-30b", 29.97e9},
		{"opt-66b", 65.7e9},
		{"opt-175b", 175e9},
		{"phi-3-mini", 3.82e9},
		{"gpt2", 124e6},
		{"gpt-j-6b", 6.05e9},
		{"llama3.2-1b", 1.24e9},
		{"tinyllama-1.1b", 1.1e9},
	} {
		m := mustLoad(t, c.name)
		if got := m.Params(); !within(got, c.want, 0.005) {
			t.Errorf("%s: Params = %.4g, want %.4g ±0.5%%", c.name, got, c.want)
		}
	}
}

// Exact counts of checkpoints whose every tensor the Arch schema describes.
func TestParamsExact(t *testing.T) {
	for name, want := range map[string]float64{
		"llama3-8b":    8_030_261_248,
		"llama2-7b":    6_738_415_616,
		"llama2-70b":   68_976_648_192,
		"mixtral-8x7b": 46_702_792_704,
		"qwen2.5-7b":   7_615_616_512,
		"mistral-7b":   7_241_732_096,
		"phi-3-mini":   3_821_079_552,
		"gpt2":         124_439_808,
		"llama3.2-1b":  1_235_814_400,
	} {
		if got := mustLoad(t, name).Params(); got != want {
			t.Errorf("%s: Params = %.0f, want %.0f", name, got, want)
		}
	}
}

func TestActiveParams(t *testing.T) {
	m := mustLoad(t, "mixtral-8x7b")
	if got := m.ActiveParams(); !within(got, 12.9e9, 0.005) {
		t.Errorf("mixtral active = %.4g, want 12.9e9", got)
	}
	d := mustLoad(t, "llama3-8b")
	if d.ActiveParams() != d.Params() {
		t.Errorf("dense model: active %v != total %v", d.ActiveParams(), d.Params())
	}
}

func TestKVBytes(t *testing.T) {
	for _, c := range []struct {
		name string
		want float64
	}{
		{"llama3-8b", 131072},  // 2 × 32 layers × 8 kv heads × 128 × 2 bytes
		{"llama2-7b", 524288},  // 2 × 32 × 32 × 128 × 2
		{"llama2-70b", 327680}, // 2 × 80 × 8 × 128 × 2
		{"gpt2", 36864},        // 2 × 12 × 12 × 64 × 2
	} {
		m := mustLoad(t, c.name)
		want := c.want
		if got := m.KVBytesPerToken(dtype.BF16); got != want {
			t.Errorf("%s: KVBytesPerToken = %v, want %v", c.name, got, want)
		}
		if got := m.KVBytes(1000, dtype.BF16); got != 1000*want {
			t.Errorf("%s: KVBytes(1000) = %v, want %v", c.name, got, 1000*want)
		}
	}
	// Mistral keeps at most 4096 tokens in every layer.
	m := mustLoad(t, "mistral-7b")
	if got, want := m.KVBytes(10000, dtype.FP8), 32*4096*2*1024*1.0; got != want {
		t.Errorf("mistral KVBytes(10000, fp8) = %v, want %v", got, want)
	}
	if got, want := m.KVBytes(100, dtype.BF16), 100*m.KVBytesPerToken(dtype.BF16); got != want {
		t.Errorf("mistral KVBytes(100) = %v, want %v", got, want)
	}
}

func TestWeightBytes(t *testing.T) {
	m := mustLoad(t, "llama2-7b")
	p := m.Params()
	if got := m.WeightBytes(dtype.FP16); got != 2*p {
		t.Errorf("fp16 = %v, want %v", got, 2*p)
	}
	// int4 with one fp16 scale per 128 weights: 0.5 + 2/128 bytes.
	if got, want := m.WeightBytes(dtype.INT4), p*(0.5+2.0/128); got != want {
		t.Errorf("int4 = %v, want %v", got, want)
	}
	if got := m.WeightBytes(dtype.INT8); got != p {
		t.Errorf("int8 = %v, want %v", got, p)
	}
}

func TestBuiltins(t *testing.T) {
	names := Builtins()
	want := []string{"based-1.3b", "gpt-j-6b", "gpt2", "jamba-v0.1", "llama2-13b", "llama2-70b", "llama2-7b", "llama3-70b",
		"llama3-8b", "llama3.1-8b", "llama3.2-1b", "mamba-2.8b", "mamba2-2.7b", "mistral-7b", "mixtral-8x7b", "opt-1.3b",
		"opt-13b", "opt-175b", "opt-30b", "opt-6.7b", "opt-66b", "phi-3-mini", "qwen2.5-0.5b",
		"qwen2.5-14b", "qwen2.5-72b", "qwen2.5-7b", "rwkv6-7b", "tinyllama-1.1b"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("Builtins = %v\nwant %v", names, want)
	}
	for _, n := range names {
		m := mustLoad(t, n)
		if m.Name != n {
			t.Errorf("%s: name %q", n, m.Name)
		}
		if m.Source == "" || m.Family == "" {
			t.Errorf("%s: missing source or family", n)
		}
		src, _ := BuiltinSource(n)
		if !strings.Contains(string(src), "# Source:") {
			t.Errorf("%s: no source comment", n)
		}
	}
	if _, err := Load("llama9-1t"); err == nil || !strings.Contains(err.Error(), "llama3-8b") {
		t.Errorf("unknown model: err = %v, want a list of built-ins", err)
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	src, _ := BuiltinSource("llama3-8b")
	tomlFile := filepath.Join(dir, "mine.toml")
	if err := os.WriteFile(tomlFile, src, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(tomlFile)
	if err != nil || m.Params() != mustLoad(t, "llama3-8b").Params() {
		t.Fatalf("Load(%s) = %v, %v", tomlFile, m, err)
	}
	hfDir := filepath.Join(dir, "Meta-Llama-3-8B")
	os.Mkdir(hfDir, 0o755)
	data, _ := os.ReadFile("testdata/hf/llama3-8b.json")
	os.WriteFile(filepath.Join(hfDir, "config.json"), data, 0o644)
	m, err = Load(hfDir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "Meta-Llama-3-8B" || m.Params() != 8_030_261_248 {
		t.Errorf("Load(dir) = %q with %v params", m.Name, m.Params())
	}
}

func TestTOMLErrors(t *testing.T) {
	base := "name = \"x\"\nlayers = 2\nhidden = 64\nheads = 4\nkv_heads = 2\nintermediate = 128\n" +
		"vocab = 100\nmax_context = 512\nnorm = \"rmsnorm\"\nactivation = \"swiglu\"\nposition = \"rope\"\n"
	if _, err := FromTOML([]byte(base), "x.toml"); err != nil {
		t.Fatalf("base config: %v", err)
	}
	for _, c := range []struct{ name, text, want string }{
		{"unknown key", base + "layerz = 3\n", "x.toml:12: layerz: unknown key"},
		{"unknown table key", base + "[moe]\nexperts = 4\ntop_k = 1\nexpert_intermediate = 8\nbogus = 1\n", "x.toml:16: moe.bogus: unknown key"},
		{"type", strings.Replace(base, "layers = 2", `layers = "two"`, 1), "x.toml:2: layers:"},
		{"syntax", base + "hidden = = 3\n", "x.toml:12:"},
		{"non-positive", strings.Replace(base, "hidden = 64", "hidden = 0", 1), "x.toml:3: hidden: must be positive"},
		{"negative", strings.Replace(base, "kv_heads = 2", "kv_heads = -2", 1), "x.toml:5: kv_heads: must be positive"},
		{"heads", strings.Replace(base, "heads = 4\n", "heads = 5\n", 1), "x.toml:4: heads: 5 heads do not divide hidden 64"},
		{"kv heads", strings.Replace(base, "kv_heads = 2", "kv_heads = 3", 1), "x.toml:5: kv_heads: 3 kv heads do not divide 4 heads"},
		{"norm", strings.Replace(base, `"rmsnorm"`, `"batchnorm"`, 1), `x.toml:9: norm: unknown value "batchnorm"`},
		{"activation", strings.Replace(base, `"swiglu"`, `"tanh"`, 1), "x.toml:10: activation: unknown value"},
		{"position", strings.Replace(base, `"rope"`, `"xpos"`, 1), "x.toml:11: position: unknown value"},
		{"missing", strings.Replace(base, "vocab = 100\n", "", 1), "x.toml: vocab: must be positive, got 0"},
		{"dtype", base + "dtype = \"fp5\"\n", `x.toml:12: dtype: unknown dtype "fp5"`},
		{"top_k", base + "[moe]\nexperts = 4\ntop_k = 5\nexpert_intermediate = 8\n", "x.toml:14: moe.top_k: 5 exceeds the 4 experts"},
		{"global_every", base + "global_every = 2\n", "x.toml:12: global_every: needs sliding_window"},
	} {
		_, err := FromTOML([]byte(c.text), "x.toml")
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: err = %v\nwant prefix %q", c.name, err, c.want)
		}
	}
}

func TestNew(t *testing.T) {
	m, err := New(Arch{Name: "tiny", Layers: 2, Hidden: 64, Heads: 4, Intermediate: 128, Vocab: 100,
		MaxContext: 128, Norm: "RMSNorm", Activation: "swiglu", Position: "rope"})
	if err != nil {
		t.Fatal(err)
	}
	if m.HeadDim != 16 || m.KVHeads != 4 || m.EmbedDim != 64 || m.DType != "bf16" || m.Norm != "rmsnorm" {
		t.Errorf("defaults not filled: %+v", m.Arch)
	}
	if _, err := New(Arch{Name: "bad"}); err == nil || !strings.Contains(err.Error(), "layers") {
		t.Errorf("New(empty) err = %v", err)
	}
}
