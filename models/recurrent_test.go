package models

import (
	"math"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/dtype"
)

// Parameter counts of the recurrent and hybrid built-ins, by hand from
// their configs, and against the published sizes.
func TestRecurrentParams(t *testing.T) {
	for _, c := range []struct {
		name              string
		exact, exactAct   float64
		published, pubAct float64
		tol               float64
		why               string
	}{
		// Per layer: in_proj 2560·10240 + conv 5120·4 + 5120 + x_proj
		// 5120·(160+32) + dt_proj 160·5120 + 5120 + A 5120·16 + D 5120 +
		// out_proj 5120·2560 + norm 2560 = 41,244,160; ×64 + tied
		// embedding 50280·2560 + final norm = 2,768,345,600.
		{"mamba-2.8b", 2768345600, 0, 2.77e9, 0, 0.005, "HF: 2.77B"},
		// Per layer: in_proj 2560·(2·5120 + 2·128 + 80) + conv
		// 5376·4 + 5376 + A, D, dt_bias 3·80 + gated norm 5120 +
		// out_proj 5120·2560 + norm 2560 = 40,216,560; ×64 + tied
		// embedding 50288·2560 + 2560.
		{"mamba2-2.7b", 2702599680, 0, 2.7e9, 0, 0.005, "Mamba-2 paper: 2.7B"},
		// Per layer: 6·4096² (r, k, v, g, o; channel receptance) + 2·4096
		// ·14336 (channel key, value) + LoRAs 10·64·4096 + 2·128·4096 +
		// 20 vectors of 4096 (maa, decay, bonus, ln_x, ln1, ln2) =
		// 221,839,360; ×32 + 2·65536·4096 (untied) + ln0 + ln_out.
		{"rwkv6-7b", 7635746816, 0, 7.63e9, 0, 0.005, "Eagle and Finch: 7.63B"},
		// 4 attention layers 41,943,040 + 28 Mamba layers 105,308,448 +
		// 16 dense MLPs 176,160,768 + 16 MoE (16 experts + router) +
		// 64 norms + 2 untied tables of 65536·4096; active: top-2.
		{"jamba-v0.1", 51570323328, 12110311296, 52e9, 12e9, 0.01, "Jamba: 52B total, 12B active"},
		// 22 BaseConv 19,287,296 + 7 linear attention 8,028,160 + 7
		// window attention 12,845,056 + 36 SwiGLU MLPs 3·1792·3584 +
		// 72 norms + tied 50280·1792 + final norm.
		{"based-1.3b", 1354298624, 0, 1.3e9, 0, 0.05, "BASED: 1.3B"},
	} {
		m := mustLoad(t, c.name)
		if got := m.Params(); got != c.exact {
			t.Errorf("%s: Params = %.0f, want %.0f by hand", c.name, got, c.exact)
		}
		if !within(m.Params(), c.published, c.tol) {
			t.Errorf("%s: Params %.4g not within %.1f%% of %s", c.name, m.Params(), 100*c.tol, c.why)
		}
		wantAct := c.exactAct
		if wantAct == 0 {
			wantAct = c.exact
		}
		if got := m.ActiveParams(); got != wantAct {
			t.Errorf("%s: ActiveParams = %.0f, want %.0f", c.name, got, wantAct)
		}
		if c.pubAct > 0 && !within(m.ActiveParams(), c.pubAct, c.tol) {
			t.Errorf("%s: ActiveParams %.4g not within %.1f%% of %s", c.name, m.ActiveParams(), 100*c.tol, c.why)
		}
	}
}

// The recurrent state per sequence, by hand.
func TestStateBytes(t *testing.T) {
	for _, c := range []struct {
		name string
		kv   dtype.DType
		want float64
		why  string
	}{
		{"mamba-2.8b", dtype.FP32, 64 * (5120*4 + 5120*16) * 4, "64 layers × (conv 5120×4 + SSM 5120×16) × fp32"},
		{"mamba-2.8b", dtype.BF16, 64 * (5120*4 + 5120*16) * 2, "the state follows the cache format"},
		{"mamba2-2.7b", dtype.BF16, 64 * (5376*4 + 80*64*128) * 2, "64 × (conv (5120+256)×4 + 80 heads × 64 × 128) × bf16"},
		{"rwkv6-7b", dtype.BF16, 32 * (2*4096 + 64*64*64) * 4, "32 × (2 shift vectors + 64 heads × 64²) × fp32 (state_dtype)"},
		{"jamba-v0.1", dtype.BF16, 28 * (8192*4 + 8192*16) * 2, "28 Mamba layers × (8192×4 + 8192×16) × bf16"},
		{"based-1.3b", dtype.BF16, (7*28*273*65 + 22*3584*3) * 2, "7 × 28 heads × 273 features × (64+1) + 22 × 3584×3, bf16"},
	} {
		m := mustLoad(t, c.name)
		if got := m.StateBytes(c.kv); got != c.want {
			t.Errorf("%s: StateBytes = %.0f, want %.0f (%s)", c.name, got, c.want, c.why)
		}
	}
	if got := mustLoad(t, "llama3-8b").StateBytes(dtype.BF16); got != 0 {
		t.Errorf("llama3-8b: StateBytes = %v, want 0", got)
	}
}

// A Mamba decode step reads and writes the same state at 4K and 128K of
// context: op by op, the graphs are identical.
func TestMambaDecodeConstantInContext(t *testing.T) {
	m := mustLoad(t, "mamba-2.8b")
	p := Precision{}
	short := m.Graph([]Seq{{Cached: 4096, New: 1}}, p, Options{})
	long := m.Graph([]Seq{{Cached: 131072, New: 1}}, p, Options{})
	if len(short.Ops) != len(long.Ops) {
		t.Fatalf("op counts differ: %d vs %d", len(short.Ops), len(long.Ops))
	}
	for i := range short.Ops {
		if short.Ops[i] != long.Ops[i] {
			t.Errorf("op %s differs: %+v vs %+v", short.Ops[i].Name, short.Ops[i], long.Ops[i])
		}
	}
	var kvRead, kvWrite float64
	for _, o := range long.Ops {
		kvRead += float64(o.Repeat) * o.KVReadBytes
		kvWrite += float64(o.Repeat) * o.KVWriteBytes
	}
	// The whole state is read once and written once: 26,214,400 bytes.
	// The model's fp32 format: the whole state is 26,214,400 bytes.
	if kvRead != m.StateBytes(dtype.FP32) || kvWrite != kvRead || kvRead != 26214400 {
		t.Errorf("state read %.0f, written %.0f; want 26,214,400 each", kvRead, kvWrite)
	}
	if m.KVBytes(4096, dtype.BF16) != m.KVBytes(131072, dtype.BF16) {
		t.Error("KVBytes grows with the context")
	}
	if got := m.KVBytesPerToken(dtype.BF16); got != 0 {
		t.Errorf("KVBytesPerToken = %v, want 0", got)
	}
}

// A worked selective-scan op: mamba-2.8b decoding one token.
func TestSelectiveScanByHand(t *testing.T) {
	m := mustLoad(t, "mamba-2.8b")
	g := m.Graph([]Seq{{Cached: 100, New: 1}}, Precision{}, Options{})
	scan := findOp(t, g, OpSSMScan)
	// d_inner 5120 channels × (7 FLOPs × 16 states + 11 per channel).
	if scan.FLOPs != 629760 {
		t.Errorf("ssm_scan FLOPs = %v, want 629,760", scan.FLOPs)
	}
	// A (5120×16) and D (5120) in fp32.
	if scan.WeightBytes != (5120*16+5120)*4 {
		t.Errorf("ssm_scan weights = %v, want %v", scan.WeightBytes, (5120*16+5120)*4)
	}
	// The 5120×16 fp32 state, read and written once.
	if scan.KVReadBytes != 327680 || scan.KVWriteBytes != 327680 {
		t.Errorf("ssm_scan state bytes = %v / %v, want 327,680 each", scan.KVReadBytes, scan.KVWriteBytes)
	}
	if scan.Repeat != 64 || scan.Kind != KindScan {
		t.Errorf("ssm_scan repeat %d kind %s, want 64 scan", scan.Repeat, scan.Kind)
	}
	// x, Δ, z (5120 each) and B, C (16 each) in; y out; fp32.
	if scan.ActivationReadBytes != (3*5120+2*16)*4 || scan.ActivationWriteBytes != 5120*4 {
		t.Errorf("ssm_scan activations = %v / %v", scan.ActivationReadBytes, scan.ActivationWriteBytes)
	}
	conv := findOp(t, g, OpSSMConv)
	// 5120 channels × (2·4 taps + bias + 4 SiLU); state 5120 × 4 fp32.
	if conv.FLOPs != 5120*13 || conv.KVReadBytes != 81920 || conv.KVWriteBytes != 81920 {
		t.Errorf("ssm_conv FLOPs %v state %v / %v", conv.FLOPs, conv.KVReadBytes, conv.KVWriteBytes)
	}
	// A 2000-token prompt: the scan is linear in tokens and only writes
	// the final state (nothing to read yet).
	p := m.Graph([]Seq{{New: 2000}}, Precision{}, Options{})
	ps := findOp(t, p, OpSSMScan)
	if ps.FLOPs != 2000*629760 || ps.KVReadBytes != 0 || ps.KVWriteBytes != 327680 {
		t.Errorf("prefill ssm_scan FLOPs %v state %v / %v", ps.FLOPs, ps.KVReadBytes, ps.KVWriteBytes)
	}
	// 2 FLOPs per GEMM weight: a decode step is within 1% of 2·Params.
	flops, _ := g.Totals()
	if !within(flops, 2*m.Params(), 0.01) {
		t.Errorf("decode FLOPs %.4g, want within 1%% of 2·Params = %.4g", flops, 2*m.Params())
	}
}

// Mamba-2's SSD prefill by hand: one 256-token chunk.
func TestSSDChunkByHand(t *testing.T) {
	m := mustLoad(t, "mamba2-2.7b")
	g := m.Graph([]Seq{{New: 256}}, Precision{}, Options{})
	scan := findOp(t, g, OpSSMScan)
	// Per token and head 2·256·(128+64) + 4·128·64 = 131,072, 80 heads,
	// 256 tokens; plus per token 5·80 (Δ) + 2·5120 (D skip).
	want := 256*80*131072.0 + 256*(5*80+2*5120)
	if scan.FLOPs != want {
		t.Errorf("ssm_scan FLOPs = %v, want %v", scan.FLOPs, want)
	}
	// Decode: 5 FLOPs per state element, 80 × 64 × 128 of them.
	d := m.Graph([]Seq{{Cached: 256, New: 1}}, Precision{}, Options{})
	if got := findOp(t, d, OpSSMScan).FLOPs; got != 5*80*64*128+5*80+2*5120 {
		t.Errorf("decode ssm_scan FLOPs = %v", got)
	}
}

// Jamba's KV cache at 256K context is the attention-layer fraction (4 of
// 32) of the same model with every layer attention: 4 GiB instead of 32
// GiB in bf16, as the Jamba paper's Table 1 states (4GB vs Mixtral's 32GB).
func TestJambaKVIsAttentionFraction(t *testing.T) {
	j := mustLoad(t, "jamba-v0.1")
	a := j.Arch
	a.Name, a.LayerPattern, a.Mamba = "jamba-all-attention", "", nil
	full, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	const ctx = 262144
	got, ref := j.AttentionKVBytes(ctx, dtype.BF16), full.KVBytes(ctx, dtype.BF16)
	if got != ref*4/32 || got != 4<<30 || ref != 32<<30 {
		t.Errorf("Jamba KV %.4g (want 4 GiB), pure attention %.4g (want 32 GiB)", got, ref)
	}
	if j.KVBytes(ctx, dtype.BF16) != got+j.StateBytes(dtype.BF16) {
		t.Error("KVBytes is not attention KV + state")
	}
	// The decode graph: attention ops run in 4 layers, Mamba ops in 28,
	// norms in all 32; 16 dense and 16 MoE MLPs.
	g := j.Graph([]Seq{{Cached: 1000, New: 1}}, Precision{}, Options{})
	for name, repeat := range map[string]int{OpAttn: 4, OpQKV: 4, OpSSMScan: 28, OpAttnNorm: 32, OpMLPNorm: 32, OpExperts: 16, OpGateUp: 16} {
		if o := findOp(t, g, name); o.Repeat != repeat {
			t.Errorf("%s repeat %d, want %d", name, o.Repeat, repeat)
		}
	}
	if kinds := j.LayerKinds(); kinds[4] != 'a' || kinds[12] != 'a' || strings.Count(kinds, "a") != 4 || len(kinds) != 32 {
		t.Errorf("LayerKinds = %q", kinds)
	}
}

// Every op of every recurrent built-in is finite and non-negative, prefill
// and decode, and the graph's state traffic matches StateBytes.
func TestRecurrentGraphsSane(t *testing.T) {
	for _, name := range []string{"mamba-2.8b", "mamba2-2.7b", "rwkv6-7b", "jamba-v0.1", "based-1.3b"} {
		m := mustLoad(t, name)
		for _, seqs := range [][]Seq{{{New: 700}}, {{Cached: 5000, New: 1}, {Cached: 9, New: 1}}, {{New: 33}, {Cached: 50, New: 1}}} {
			g := m.Graph(seqs, Precision{}, Options{})
			var kvw float64
			for _, o := range g.Ops {
				for _, v := range []float64{o.FLOPs, o.WeightBytes, o.ActivationReadBytes, o.ActivationWriteBytes, o.KVReadBytes, o.KVWriteBytes} {
					if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
						t.Fatalf("%s: op %s has %v", name, o.Name, v)
					}
				}
				if o.Kind == KindScan || o.Kind == KindConv || o.Name == OpRWKVMix || o.Name == OpCMixKR {
					kvw += float64(o.Repeat) * o.KVWriteBytes
				}
			}
			if want := float64(len(seqs)) * m.StateBytes(m.Resolve(Precision{}).KV); kvw != want {
				t.Errorf("%s %v: state written %.0f, want %.0f", name, seqs, kvw, want)
			}
		}
	}
}

func TestLayerPatternErrors(t *testing.T) {
	base := "name = \"x\"\nlayers = 4\nhidden = 64\nheads = 4\nintermediate = 128\nvocab = 100\nmax_context = 64\n" +
		"norm = \"rmsnorm\"\nactivation = \"swiglu\"\nposition = \"none\"\n"
	mamba := "[mamba]\nd_state = 8\n"
	for _, c := range []struct{ name, text, want string }{
		{"letter", base + "layer_pattern = \"maqa\"\n" + mamba, "x.toml:11: layer_pattern: unknown layer kind 'q' at position 2 (a attention, m mamba, r rwkv, x mlstm, l linear, c conv)"},
		{"divide", base + "layer_pattern = \"mma\"\n" + mamba, "x.toml:11: layer_pattern: 3 letters neither equal nor divide the 4 layers"},
		{"table", base + "layer_pattern = \"ma\"\n", "x.toml:11: layer_pattern: \"m\" (mamba) layers need a [mamba] table"},
		{"unused", base + mamba, "x.toml:11: mamba: table given but layer_pattern has no \"m\" layers"},
		{"version", base + "layer_pattern = \"ma\"\n[mamba]\nd_state = 8\nversion = 3\n", "x.toml:14: mamba.version: must be 1 (Mamba) or 2 (Mamba-2), got 3"},
		{"heads", strings.Replace(base, "heads = 4\n", "heads = 0\n", 1) + "layer_pattern = \"ma\"\n" + mamba, "x.toml:4: heads: must be positive, got 0"},
		{"rwkv width", strings.Replace(base, "intermediate = 128\n", "", 1) + "layer_pattern = \"r\"\n[rwkv]\n", "x.toml: intermediate: must be positive: it is the RWKV channel-mix width"},
		{"m2 head", base + "layer_pattern = \"m\"\n[mamba]\nversion = 2\nd_state = 8\nhead_dim = 48\n", "x.toml:15: mamba.head_dim: 48 does not divide d_inner 128"},
	} {
		_, err := FromTOML([]byte(c.text), "x.toml")
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	// A pure-Mamba model needs no heads, MLP or activation.
	m, err := FromTOML([]byte(strings.NewReplacer("heads = 4\n", "", "intermediate = 128\n", "", "activation = \"swiglu\"\n", "").Replace(base)+"layer_pattern = \"m\"\n"+mamba), "x.toml")
	if err != nil {
		t.Fatal(err)
	}
	if m.AttentionLayers() != 0 || m.MLPLayers() != 0 || m.LayersOf(LayerMamba) != 4 || m.Mamba.DTRank != 4 {
		t.Errorf("pure Mamba: attention %d, mlp %d, mamba %d, dt_rank %d", m.AttentionLayers(), m.MLPLayers(), m.LayersOf(LayerMamba), m.Mamba.DTRank)
	}
}

func findOp(t *testing.T, g *Graph, name string) *Op {
	t.Helper()
	for i := range g.Ops {
		if g.Ops[i].Name == name {
			return &g.Ops[i]
		}
	}
	t.Fatalf("no op %s", name)
	return nil
}

// Small config.json files of the recurrent architectures import with the
// defaults transformers applies.
func TestHFRecurrentImport(t *testing.T) {
	// Jamba-v0.1's config.json relies on JambaConfig defaults for the
	// Mamba keys; "auto" Δ rank is ceil(4096/16) = 256.
	jamba := `{"architectures": ["JambaForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
 "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 65536,
 "hidden_act": "silu", "attn_layer_period": 8, "attn_layer_offset": 4, "expert_layer_period": 2,
 "expert_layer_offset": 1, "num_experts": 16, "num_experts_per_tok": 2, "mamba_dt_rank": "auto",
 "max_position_embeddings": 262144, "torch_dtype": "bfloat16"}`
	m, err := FromHF([]byte(jamba), "jamba.json")
	if err != nil {
		t.Fatal(err)
	}
	if b := mustLoad(t, "jamba-v0.1"); m.Params() != b.Params() || m.ActiveParams() != b.ActiveParams() || m.LayerPattern != "mmmmammm" || m.Mamba.DTRank != 256 {
		t.Errorf("Jamba import: %.0f / %.0f params, pattern %q, dt_rank %d", m.Params(), m.ActiveParams(), m.LayerPattern, m.Mamba.DTRank)
	}
	// RWKV-6 with a null intermediate_size: int(3.5·2048) // 32 · 32 = 7168.
	rwkv := `{"architectures": ["Rwkv6ForCausalLM"], "hidden_size": 2048, "attention_hidden_size": 2048,
 "head_size": 64, "num_hidden_layers": 24, "vocab_size": 65536, "intermediate_size": null}`
	m, err = FromHF([]byte(rwkv), "rwkv.json")
	if err != nil {
		t.Fatal(err)
	}
	if m.Intermediate != 7168 || m.RWKV.MixRank != 32 || m.RWKV.DecayRank != 64 || m.StateBytes(dtype.BF16) != 24*(2*2048+2048*64)*4 {
		t.Errorf("RWKV-6 1.6B import: intermediate %d, ranks %d/%d, state %.0f", m.Intermediate, m.RWKV.MixRank, m.RWKV.DecayRank, m.StateBytes(dtype.BF16))
	}
	// Mamba-2 130M-like: 24 heads of 64 = 2 × 768.
	mamba2 := `{"architectures": ["Mamba2ForCausalLM"], "hidden_size": 768, "num_hidden_layers": 24,
 "vocab_size": 50288, "state_size": 128, "num_heads": 24, "head_dim": 64, "expand": 2, "n_groups": 1,
 "tie_word_embeddings": true}`
	m, err = FromHF([]byte(mamba2), "m2.json")
	if err != nil {
		t.Fatal(err)
	}
	if m.Mamba.Version != 2 || m.mambaHeads() != 24 || m.MaxContext != 1<<20 {
		t.Errorf("Mamba-2 import: version %d, heads %d, max_context %d", m.Mamba.Version, m.mambaHeads(), m.MaxContext)
	}

	for _, c := range []struct{ name, text, want string }{
		{"offset", strings.Replace(jamba, `"attn_layer_offset": 4`, `"attn_layer_offset": 8`, 1),
			"j.json:3: attn_layer_offset: must be in [0, attn_layer_period = 8), got 8"},
		{"experts", strings.Replace(jamba, `"expert_layer_offset": 1`, `"expert_layer_offset": 0`, 1),
			"j.json:4: expert_layer_offset: only expert_layer_offset = expert_layer_period - 1 (1) is supported, got 0"},
		{"dt rank", strings.Replace(jamba, `"mamba_dt_rank": "auto"`, `"mamba_dt_rank": "big"`, 1),
			`j.json:4: mamba_dt_rank: want an integer or "auto", got "big"`},
		{"period", strings.Replace(jamba, `"attn_layer_period": 8`, `"attn_layer_period": 5`, 1),
			"j.json:3: attn_layer_period: 5 letters neither equal nor divide the 32 layers"},
		{"heads", strings.Replace(mamba2, `"num_heads": 24`, `"num_heads": 20`, 1),
			"j.json:2: num_heads: 20 heads × head_dim 64 differ from expand × hidden_size = 1536"},
		{"rwkv att", strings.Replace(rwkv, `"attention_hidden_size": 2048`, `"attention_hidden_size": 1024`, 1),
			"j.json:1: attention_hidden_size: 1024 differs from hidden_size 2048 (not supported)"},
	} {
		_, err := FromHF([]byte(c.text), "j.json")
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}
