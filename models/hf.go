package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/llmsim/llmsim/dtype"
)

// hfImporter fills an Arch from one family of Hugging Face configs.
type hfImporter func(r *hfReader, a *Arch)

// hfArchitectures maps a config.json "architectures" entry to its family
// (the HF model_type) and importer.
var hfArchitectures = map[string]struct {
	family string
	fill   hfImporter
}{
	"LlamaForCausalLM":    {"llama", hfLlamaLike},
	"MistralForCausalLM":  {"mistral", hfLlamaLike},
	"MixtralForCausalLM":  {"mixtral", hfLlamaLike},
	"Qwen2ForCausalLM":    {"qwen2", hfLlamaLike},
	"Qwen2MoeForCausalLM": {"qwen2_moe", hfLlamaLike},
	"Qwen3ForCausalLM":    {"qwen3", hfLlamaLike},
	"Qwen3MoeForCausalLM": {"qwen3_moe", hfLlamaLike},
	"Phi3ForCausalLM":     {"phi3", hfLlamaLike},
	"GemmaForCausalLM":    {"gemma", hfLlamaLike},
	"Gemma2ForCausalLM":   {"gemma2", hfLlamaLike},
	"OPTForCausalLM":      {"opt", hfOPT},
	"PhiForCausalLM":      {"phi", hfPhi},
	"GPTNeoXForCausalLM":  {"gpt_neox", hfNeoX},
	"GPTJForCausalLM":     {"gptj", hfGPTJ},
	"GPT2LMHeadModel":     {"gpt2", hfGPT2},
	"MambaForCausalLM":    {"mamba", hfMamba},
	"Mamba2ForCausalLM":   {"mamba2", hfMamba},
	"JambaForCausalLM":    {"jamba", hfJamba},
	"Rwkv6ForCausalLM":    {"rwkv6", hfRWKV6},
}

// SupportedHF lists the config.json architectures FromHF imports, sorted.
func SupportedHF() []string {
	out := make([]string, 0, len(hfArchitectures))
	for k := range hfArchitectures {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FromHF imports a Hugging Face config.json. file names the source in error
// messages (FILE:LINE: key: message, with the config.json key).
//
// Approximations: partial rotary (GPT-NeoX, GPT-J, Phi-2) is treated as full
// rotary; GPT-NeoX's two parallel-block norms count as one; Qwen sliding
// windows that apply only above max_window_layers are applied to all layers;
// Qwen2-MoE's one-output shared-expert gate is not counted.
func FromHF(data []byte, file string) (*Model, error) {
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, jsonError(file, data, err)
	}
	r := &hfReader{raw: raw, data: data, file: file, from: map[string]string{}}
	arch, err := r.architecture()
	if err != nil {
		return nil, err
	}
	a := Arch{Family: hfArchitectures[arch].family, Name: r.name(), Source: r.source()}
	hfArchitectures[arch].fill(r, &a)
	r.dtype(&a)
	if r.err != nil {
		return nil, r.err
	}
	if fe := a.check(); fe != nil {
		key := r.from[fe.key]
		if key == "" {
			key = fe.key
		}
		return nil, errAt(file, jsonKeyLine(data, key), key, fe.msg)
	}
	return &Model{Arch: a}, nil
}

func jsonError(file string, data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return errAt(file, lineAt(data, int(se.Offset)), "", "invalid JSON: "+se.Error())
	case errors.As(err, &te):
		return errAt(file, lineAt(data, int(te.Offset)), "", "want a JSON object at the top level")
	}
	return errAt(file, 0, "", "invalid JSON: "+err.Error())
}

// hfReader reads typed keys and keeps the first error; from maps Arch keys to
// the config.json keys they were read from, so validation errors name the
// user's key.
type hfReader struct {
	raw  map[string]json.RawMessage
	data []byte
	file string
	from map[string]string
	err  error
}

func (r *hfReader) fail(key, format string, args ...any) {
	if r.err == nil {
		r.err = errAt(r.file, jsonKeyLine(r.data, key), key, fmt.Sprintf(format, args...))
	}
}

// has reports whether key is present and not null.
func (r *hfReader) has(key string) bool {
	v, ok := r.raw[key]
	return ok && strings.TrimSpace(string(v)) != "null"
}

// first returns the first of keys that is present, or "".
func (r *hfReader) first(keys ...string) string {
	for _, k := range keys {
		if r.has(k) {
			return k
		}
	}
	return ""
}

// int reads key as an integer; def when absent or null, an error if def < 0
// (required). archKey, when set, records where an Arch field came from.
func (r *hfReader) int(key, archKey string, def int) int {
	if archKey != "" {
		r.from[archKey] = key
	}
	if !r.has(key) {
		if def < 0 {
			r.fail(key, "missing")
			return 0
		}
		return def
	}
	var f float64
	if err := json.Unmarshal(r.raw[key], &f); err != nil || f != math.Trunc(f) || math.Abs(f) > maxSize {
		r.fail(key, "want an integer of at most %d, got %s", maxSize, clip(r.raw[key]))
		return 0
	}
	return int(f)
}

func (r *hfReader) bool(key string, def bool) bool {
	if !r.has(key) {
		return def
	}
	var b bool
	if err := json.Unmarshal(r.raw[key], &b); err != nil {
		r.fail(key, "want true or false, got %s", clip(r.raw[key]))
	}
	return b
}

func (r *hfReader) str(key string) string {
	if !r.has(key) {
		return ""
	}
	var s string
	if err := json.Unmarshal(r.raw[key], &s); err != nil {
		r.fail(key, "want a string, got %s", clip(r.raw[key]))
	}
	return s
}

func clip(v json.RawMessage) string {
	s := strings.TrimSpace(string(v))
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

// byModelType finds the architecture of a config without "architectures".
func byModelType(modelType string) string {
	for arch, f := range hfArchitectures {
		if f.family == modelType {
			return arch
		}
	}
	return ""
}

func (r *hfReader) architecture() (string, error) {
	var archs []string
	if r.has("architectures") {
		if err := json.Unmarshal(r.raw["architectures"], &archs); err != nil || len(archs) == 0 {
			return "", errAt(r.file, jsonKeyLine(r.data, "architectures"), "architectures", "want a non-empty list of strings")
		}
	} else if arch := byModelType(r.str("model_type")); arch != "" {
		return arch, nil
	} else if r.err != nil {
		return "", r.err
	} else {
		return "", errAt(r.file, 0, "architectures", "missing (supported: "+strings.Join(SupportedHF(), ", ")+")")
	}
	if _, ok := hfArchitectures[archs[0]]; !ok {
		return "", errAt(r.file, jsonKeyLine(r.data, "architectures"), "architectures",
			fmt.Sprintf("unsupported %q (supported: %s)", archs[0], strings.Join(SupportedHF(), ", ")))
	}
	return archs[0], nil
}

func (r *hfReader) name() string {
	if n := r.str("_name_or_path"); n != "" && !strings.HasPrefix(n, "/") && !strings.HasPrefix(n, ".") {
		return n
	}
	base := filepath.Base(r.file)
	if strings.EqualFold(base, "config.json") {
		if dir := filepath.Base(filepath.Dir(r.file)); dir != "." && dir != "/" {
			return dir
		}
	}
	if n := strings.TrimSuffix(base, filepath.Ext(base)); n != "" && n != "." {
		return n
	}
	return "hf-model"
}

func (r *hfReader) source() string {
	if n := r.str("_name_or_path"); n != "" {
		return "Hugging Face config.json of " + n
	}
	return r.file
}

// dtype maps torch_dtype (or the newer dtype key); weights load as float32
// when the config names none.
func (r *hfReader) dtype(a *Arch) {
	key := r.first("torch_dtype", "dtype")
	a.DType = string(dtype.FP32)
	if key == "" {
		return
	}
	r.from["dtype"] = key
	s := r.str(key)
	d, err := dtype.Parse(s)
	if err != nil {
		r.fail(key, "%v", err)
		return
	}
	a.DType = string(d)
}

// activation maps hidden_act-style names onto the Arch activations.
func (r *hfReader) activation(a *Arch, gated bool, keys ...string) {
	key := r.first(keys...)
	if key == "" {
		key = keys[len(keys)-1]
		r.fail(key, "missing")
		return
	}
	r.from["activation"] = key
	act := strings.ToLower(r.str(key))
	switch {
	case gated && (act == "silu" || act == "swish"):
		a.Activation = "swiglu"
	case gated && strings.HasPrefix(act, "gelu"):
		a.Activation = "geglu"
	case !gated && (strings.HasPrefix(act, "gelu") || act == "quick_gelu"):
		a.Activation = "gelu"
	case !gated && act == "relu":
		a.Activation = "relu"
	default:
		r.fail(key, "unsupported activation %q", act)
	}
}
