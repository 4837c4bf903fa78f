package models

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// hfConfig writes a as the config.json of the given architecture, with the
// key names of its family: the generator behind the round-trip tests and the
// fuzz seeds.
func hfConfig(a Arch, architecture string) map[string]any {
	family := hfArchitectures[architecture].family
	c := map[string]any{
		"architectures": []string{architecture},
		"model_type":    family,
		"torch_dtype":   map[string]string{"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}[a.DType],
		"vocab_size":    a.Vocab,
	}
	plainAct := map[string]string{"gelu": "gelu_new", "relu": "relu"}[a.Activation]
	switch family {
	case "opt":
		c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"] = a.Layers, a.Hidden, a.Heads
		c["ffn_dim"], c["max_position_embeddings"], c["word_embed_proj_dim"] = a.Intermediate, a.MaxContext, a.EmbedDim
		c["activation_function"], c["tie_word_embeddings"], c["enable_bias"] = plainAct, a.TiedEmbeddings, a.LinearBias
	case "gpt2", "gptj":
		c["n_layer"], c["n_embd"], c["n_head"], c["n_inner"] = a.Layers, a.Hidden, a.Heads, a.Intermediate
		c["n_positions"], c["activation_function"] = a.MaxContext, plainAct
		if family == "gptj" {
			c["tie_word_embeddings"], c["rotary_dim"] = a.TiedEmbeddings, 64
		}
	case "phi", "gpt_neox":
		c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"] = a.Layers, a.Hidden, a.Heads
		c["intermediate_size"], c["max_position_embeddings"] = a.Intermediate, a.MaxContext
		c["hidden_act"], c["tie_word_embeddings"] = plainAct, a.TiedEmbeddings
		if family == "phi" {
			c["num_key_value_heads"] = a.KVHeads
		} else {
			c["use_parallel_residual"], c["attention_bias"] = a.ParallelBlock, a.LinearBias
		}
	case "mamba", "mamba2", "rwkv6":
		hfRecurrentConfig(c, a, family)
	case "jamba":
		hfLlamaConfig(c, a, family)
		hfJambaConfig(c, a)
	default:
		hfLlamaConfig(c, a, family)
	}
	return c
}

func hfRecurrentConfig(c map[string]any, a Arch, family string) {
	c["num_hidden_layers"], c["hidden_size"], c["tie_word_embeddings"] = a.Layers, a.Hidden, a.TiedEmbeddings
	if family == "rwkv6" {
		c["attention_hidden_size"], c["head_size"], c["intermediate_size"] = a.Hidden, a.RWKV.HeadSize, a.Intermediate
		return
	}
	e := a.Mamba
	c["state_size"], c["conv_kernel"], c["expand"], c["use_bias"] = e.DState, e.DConv, e.Expand, e.ProjBias
	c["intermediate_size"], c["use_conv_bias"] = e.Expand*a.Hidden, true
	if family == "mamba" {
		c["time_step_rank"] = e.DTRank
		return
	}
	c["head_dim"], c["n_groups"], c["chunk_size"] = e.HeadDim, e.Groups, e.ChunkSize
	c["num_heads"] = e.Expand * a.Hidden / e.HeadDim
}

func hfJambaConfig(c map[string]any, a Arch) {
	c["attn_layer_period"], c["attn_layer_offset"] = len(a.LayerPattern), strings.IndexByte(a.LayerPattern, 'a')
	e := a.Mamba
	c["mamba_d_state"], c["mamba_d_conv"], c["mamba_expand"] = e.DState, e.DConv, e.Expand
	c["mamba_dt_rank"], c["mamba_proj_bias"], c["mamba_conv_bias"] = e.DTRank, e.ProjBias, true
	if m := a.MoE; m != nil {
		c["num_experts"], c["num_experts_per_tok"] = m.Experts, m.TopK
		c["expert_layer_period"], c["expert_layer_offset"] = m.Every, m.Every-1
	} else {
		c["num_experts"] = 1
	}
}

func hfLlamaConfig(c map[string]any, a Arch, family string) {
	c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"] = a.Layers, a.Hidden, a.Heads
	c["num_key_value_heads"], c["head_dim"], c["intermediate_size"] = a.KVHeads, a.HeadDim, a.Intermediate
	c["max_position_embeddings"], c["tie_word_embeddings"] = a.MaxContext, a.TiedEmbeddings
	c["hidden_act"] = map[string]string{"swiglu": "silu", "geglu": "gelu_pytorch_tanh"}[a.Activation]
	if family != "qwen2" && family != "qwen2_moe" {
		c["attention_bias"] = a.QKVBias
	}
	switch family {
	case "mistral", "mixtral", "phi3", "gemma2":
		c["sliding_window"] = a.SlidingWindow
		if a.SlidingWindow == 0 {
			c["sliding_window"] = nil
		}
	case "qwen2", "qwen2_moe", "qwen3", "qwen3_moe":
		c["use_sliding_window"], c["sliding_window"], c["max_window_layers"] = a.SlidingWindow > 0, 4096, a.Layers
		if a.SlidingWindow > 0 {
			c["sliding_window"], c["max_window_layers"] = a.SlidingWindow, 0
		}
	}
	if e := a.MoE; e != nil {
		if family == "mixtral" {
			c["num_local_experts"], c["num_experts_per_tok"] = e.Experts, e.TopK
			return
		}
		c["num_experts"], c["num_experts_per_tok"], c["moe_intermediate_size"] = e.Experts, e.TopK, e.ExpertIntermediate
		c["decoder_sparse_step"], c["mlp_only_layers"] = e.Every, []int{}
		if family == "qwen2_moe" {
			c["shared_expert_intermediate_size"] = e.SharedExperts * e.SharedIntermediate
		}
	}
}

func hfJSON(t testing.TB, a Arch, architecture string) []byte {
	data, err := json.MarshalIndent(hfConfig(a, architecture), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// sameArch compares architectures, ignoring where they came from.
func sameArch(a, b Arch) bool {
	a.Name, a.Source, b.Name, b.Source = "", "", "", ""
	return reflect.DeepEqual(a, b)
}

// The published config.json of a built-in model imports to the built-in.
func TestHFTestdataMatchesBuiltins(t *testing.T) {
	files, _ := filepath.Glob("testdata/hf/*.json")
	matched := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if _, err := BuiltinSource(name); err != nil {
			continue
		}
		matched++
		data, _ := os.ReadFile(f)
		m, err := FromHF(data, f)
		if err != nil {
			t.Fatal(err)
		}
		if b := mustLoad(t, name); !sameArch(m.Arch, b.Arch) {
			t.Errorf("%s:\n HF   %+v\n TOML %+v", name, m.Arch, b.Arch)
		}
	}
	if matched < 10 {
		t.Errorf("only %d testdata configs have a built-in", matched)
	}
}

// Published parameter counts of models that have only a config.json here.
func TestHFTestdataParams(t *testing.T) {
	for _, c := range []struct {
		file          string
		total, active float64
	}{
		{"gemma-7b", 8.54e9, 0},
		{"gemma-2-9b", 9.24e9, 0},
		{"qwen3-8b", 8.19e9, 0},
		{"qwen3-30b-a3b", 30.53e9, 3.35e9},
		{"qwen1.5-moe-a2.7b", 14.32e9, 2.69e9},
		{"gpt-neox-20b", 20.55e9, 0},
		{"phi-2", 2.78e9, 0},
		{"opt-350m", 331.2e6, 0},
	} {
		data, err := os.ReadFile("testdata/hf/" + c.file + ".json")
		if err != nil {
			t.Fatal(err)
		}
		m, err := FromHF(data, c.file+".json")
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Params(); !within(got, c.total, 0.005) {
			t.Errorf("%s: Params = %.4g, want %.4g", c.file, got, c.total)
		}
		if got := m.ActiveParams(); c.active > 0 && !within(got, c.active, 0.01) {
			t.Errorf("%s: ActiveParams = %.4g, want %.4g", c.file, got, c.active)
		}
	}
	data, _ := os.ReadFile("testdata/hf/gemma-2-9b.json")
	m, _ := FromHF(data, "gemma-2-9b.json")
	if m.SlidingWindow != 4096 || m.WindowedLayers() != 21 || m.HeadDim != 256 || m.Activation != "geglu" {
		t.Errorf("gemma2: window %d over %d layers, head_dim %d, %s", m.SlidingWindow, m.WindowedLayers(), m.HeadDim, m.Activation)
	}
}

// roundTripArchs gives one Arch per supported architecture: built-ins where
// they exist, testdata imports otherwise.
func roundTripArchs(t testing.TB) map[string]Arch {
	out := map[string]Arch{}
	for _, n := range Builtins() {
		m := mustLoad(t, n)
		out[byModelType(m.Family)] = m.Arch
	}
	files, _ := filepath.Glob("testdata/hf/*.json")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		m, err := FromHF(data, f)
		if err != nil {
			t.Fatal(err)
		}
		if arch := byModelType(m.Family); out[arch].Name == "" {
			out[arch] = m.Arch
		}
	}
	return out
}

// A generated config.json of every supported architecture imports back to
// the architecture it was written from.
func TestHFRoundTrip(t *testing.T) {
	archs := roundTripArchs(t)
	for _, arch := range SupportedHF() {
		a, ok := archs[arch]
		if !ok {
			t.Errorf("%s: no model to generate a config from", arch)
			continue
		}
		m, err := FromHF(hfJSON(t, a, arch), "gen/config.json")
		if err != nil {
			t.Errorf("%s: %v", arch, err)
			continue
		}
		if !sameArch(m.Arch, a) {
			t.Errorf("%s:\n got  %+v\n want %+v", arch, m.Arch, a)
		}
	}
	for _, n := range Builtins() {
		b := mustLoad(t, n)
		if byModelType(b.Family) == "" {
			continue // no transformers architecture (BASED)
		}
		m, err := FromHF(hfJSON(t, b.Arch, byModelType(b.Family)), n+".json")
		if err != nil || !sameArch(m.Arch, b.Arch) {
			t.Errorf("%s: generated config imports to %+v, %v", n, m, err)
		}
	}
}

func TestHFErrors(t *testing.T) {
	llama, _ := os.ReadFile("testdata/hf/llama3-8b.json")
	edit := func(old, new string) string {
		if !strings.Contains(string(llama), old) {
			t.Fatalf("testdata lacks %q", old)
		}
		return strings.Replace(string(llama), old, new, 1)
	}
	for _, c := range []struct{ name, text, want string }{
		{"unsupported", `{"architectures": ["BertForMaskedLM"]}`, `c.json:1: architectures: unsupported "BertForMaskedLM" (supported: GPT2LMHeadModel,`},
		{"no architecture", `{"hidden_size": 8}`, "c.json: architectures: missing"},
		{"bad JSON", "{\n  \"hidden_size\": 4096,\n  \"vocab_size\": ]\n}", "c.json:3: invalid JSON"},
		{"truncated", "{\n  \"hidden_size\": 4096,\n", "c.json:3: invalid JSON"},
		{"not an object", "[1, 2]", "c.json:1: want a JSON object"},
		{"missing key", edit(`"num_hidden_layers": 32,`, ""), "c.json: num_hidden_layers: missing"},
		{"wrong type", edit(`"hidden_size": 4096`, `"hidden_size": "big"`), `c.json:10: hidden_size: want an integer`},
		{"fraction", edit(`"hidden_size": 4096`, `"hidden_size": 4096.5`), `c.json:10: hidden_size: want an integer`},
		{"zero", edit(`"num_attention_heads": 32`, `"num_attention_heads": 0`), "c.json:15: num_attention_heads: must be positive"},
		{"heads", edit(`"num_attention_heads": 32`, `"num_attention_heads": 48`), "c.json:15: num_attention_heads: 48 heads do not divide hidden 4096"},
		{"kv heads", edit(`"num_key_value_heads": 8`, `"num_key_value_heads": 5`), "c.json:17: num_key_value_heads: 5 kv heads do not divide 32 heads"},
		{"activation", edit(`"hidden_act": "silu"`, `"hidden_act": "tanh"`), `c.json:9: hidden_act: unsupported activation "tanh"`},
		{"dtype", edit(`"bfloat16"`, `"float5"`), `c.json:23: torch_dtype: unknown dtype "float5"`},
		{"bool", edit(`"tie_word_embeddings": false`, `"tie_word_embeddings": 3`), "c.json:22: tie_word_embeddings: want true or false"},
	} {
		_, err := FromHF([]byte(c.text), "c.json")
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: err = %v\nwant prefix %q", c.name, err, c.want)
		}
	}
	qwen, _ := os.ReadFile("testdata/hf/qwen3-30b-a3b.json")
	sparse := strings.Replace(string(qwen), `"mlp_only_layers": []`, `"mlp_only_layers": [0, 3]`, 1)
	if _, err := FromHF([]byte(sparse), "c.json"); err == nil || !strings.Contains(err.Error(), "c.json:17: mlp_only_layers: dense layers") {
		t.Errorf("mlp_only_layers: err = %v", err)
	}
	// model_type stands in for a missing architectures list.
	noArch := strings.Replace(string(llama), `"LlamaForCausalLM"`, ``, 1)
	if m, err := FromHF([]byte(noArch), "c.json"); err == nil {
		t.Errorf("empty architectures accepted: %+v", m)
	}
	var raw map[string]any
	json.Unmarshal(llama, &raw)
	delete(raw, "architectures")
	data, _ := json.Marshal(raw)
	if m, err := FromHF(data, "c.json"); err != nil || m.Family != "llama" {
		t.Errorf("model_type fallback: %v, %v", m, err)
	}
}

func FuzzFromHF(f *testing.F) {
	archs := roundTripArchs(f)
	for _, arch := range SupportedHF() {
		f.Add(hfJSON(f, archs[arch], arch))
	}
	files, _ := filepath.Glob("testdata/hf/*.json")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	f.Add([]byte(`{"architectures": ["MixtralForCausalLM"], "num_local_experts": 0}`))
	f.Add([]byte(`{"architectures": ["GPT2LMHeadModel"], "n_embd": 1e300}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := FromHF(data, "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		if p := m.Params(); !(p > 0) || math.IsInf(p, 0) {
			t.Fatalf("Params = %v for %+v", p, m.Arch)
		}
		if kv := m.KVBytes(1000, "bf16"); !(kv > 0) {
			t.Fatalf("KVBytes = %v", kv)
		}
		g := m.Graph([]Seq{{Cached: 0, New: 7}, {Cached: 5000, New: 1}}, Precision{}, Options{})
		flops, bytes := g.Totals()
		if !(flops > 0) || !(bytes > 0) || math.IsInf(flops, 0) || math.IsInf(bytes, 0) {
			t.Fatalf("Totals = %v, %v for %+v", flops, bytes, m.Arch)
		}
	})
}
