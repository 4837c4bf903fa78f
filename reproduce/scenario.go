package reproduce

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/llmsim/llmsim/configs"
)

// Scenario is one paper claim set up for the simulator (the TOML schema of
// configs/scenarios).
type Scenario struct {
	Name   string `toml:"name"`   // defaults to the file name
	Paper  string `toml:"paper"`  // "DuoAttention (Xiao et al., 2024)"
	Claim  string `toml:"claim"`  // the claim in words
	Source string `toml:"source"` // where it is stated, with a quote

	Model    string `toml:"model"`
	Hardware string `toml:"hardware"`
	Weights  string `toml:"dtype"`     // weight format (default bf16)
	Act      string `toml:"act_dtype"` // activation format (default as llmsim estimate)
	KV       string `toml:"kv_dtype"`  // KV format (default: activations)
	Engine   string `toml:"engine"`    // engine profile for per-step host overhead ("" : the device's own)
	// TP > 1 prices one GPU's shard of every step plus its all-reduces over
	// the system's accelerator link (hardware must name a system with TP
	// devices); memory metrics are refused.
	TP        int    `toml:"tp"`
	Attention string `toml:"attention"` // flash | eager ("" : the engine's)
	// ConcatKVCache: the engine grows the cache by torch.cat every step
	// (models.Options.ConcatKVCache); unset: the engine's.
	ConcatKVCache *bool `toml:"concat_kv_cache"`

	Baseline string `toml:"baseline"` // KV scheme of the baseline (default full)
	Scheme   string `toml:"scheme"`   // KV scheme under test; {prefix} is replaced in throughput_drop

	Metric string `toml:"metric"`
	Memory string `toml:"memory"` // memory_ratio: kv or total (default total)

	Batch    int    `toml:"batch"`     // sequences (default 1)
	MaxBatch bool   `toml:"max_batch"` // throughput_ratio: each side at the largest batch that fits
	Phase    string `toml:"phase"`     // throughput_ratio: request (prefill + decode, default) or decode
	Prompt   int    `toml:"prompt"`    // prompt tokens (prefill, throughput)
	Context  int    `toml:"context"`   // cached tokens (decode, memory)
	Output   int    `toml:"output"`    // generated tokens (throughput)
	Chunk    int    `toml:"chunk"`     // prefill chunk (0: whole prompt; attention_speedup: 0 is a decode step)
	Prefixes []int  `toml:"prefixes"`  // throughput_drop: shared prefix lengths from, to

	Value     float64 `toml:"value"`     // the claimed number
	Compare   string  `toml:"compare"`   // within (default) | at_least | at_most
	Tolerance float64 `toml:"tolerance"` // relative
	Gap       string  `toml:"gap"`       // residual gap, one line
	// Expect is "pass", or "miss" for a claim the simulator cannot
	// reproduce: the gap says why, and the test checks it still misses.
	Expect string `toml:"expect"`
}

// Metrics a scenario can check.
var metrics = map[string]string{
	"memory_ratio":      "baseline memory / scheme memory at batch × context (memory = kv or total: weights + KV + activations)",
	"kv_reduction":      "1 − scheme KV / baseline KV at context",
	"decode_speedup":    "baseline decode step / scheme decode step at batch × context",
	"attention_speedup": "baseline / scheme time of the attention ops (with the scheme's kv_* ops) of a decode step at context, or with chunk of one prefill chunk after context cached tokens",
	"prefill_speedup":   "baseline / scheme time to prefill batch prompts of prompt tokens in chunks of chunk",
	"request_speedup":   "baseline / scheme end-to-end latency of batch requests (prompt, then output tokens)",
	"throughput_ratio":  "scheme / baseline generated tokens per second over whole requests (phase = request: prompt then output) or decode steps (phase = decode), at batch or at each side's largest batch that fits",
	"throughput_drop":   "1 − scheme decode throughput at prefixes[1] / at prefixes[0] (shared prefix + prompt suffix tokens)",
	"max_context":       "largest context one batch of the scheme fits in device memory",
	"max_batch":         "largest batch of the scheme that fits at context",
	"memory_fraction":   "scheme memory (weights + KV + activations + reserve) / device capacity at batch × context",
}

// Metrics lists the metric names with their meaning, sorted.
func Metrics() [][2]string {
	out := make([][2]string, 0, len(metrics))
	for k, v := range metrics {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

const builtinDir = "scenarios"

// prefix marks the KV-cache scenarios among configs/scenarios (other
// packages keep theirs there too, under their own prefixes).
const prefix = "kv-"

// Builtins lists the built-in scenario names (configs/scenarios/kv-*.toml),
// sorted.
func Builtins() []string {
	entries, err := fs.ReadDir(configs.FS, builtinDir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".toml"); ok && !e.IsDir() && strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Load reads a built-in scenario by name or a TOML file by path.
func Load(nameOrPath string) (*Scenario, error) {
	if strings.ContainsAny(nameOrPath, `/\`) || strings.HasSuffix(nameOrPath, ".toml") {
		data, err := os.ReadFile(nameOrPath)
		if err != nil {
			return nil, fmt.Errorf("scenario: %w", err)
		}
		return Parse(data, nameOrPath)
	}
	data, err := fs.ReadFile(configs.FS, builtinDir+"/"+nameOrPath+".toml")
	if err != nil {
		return nil, fmt.Errorf("scenario: unknown scenario %q (built-in: %s)", nameOrPath, strings.Join(Builtins(), ", "))
	}
	return Parse(data, "configs/scenarios/"+nameOrPath+".toml")
}

// Parse reads a scenario; file names it in errors.
func Parse(data []byte, file string) (*Scenario, error) {
	var s Scenario
	md, err := toml.Decode(string(data), &s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: %s: unknown key", file, und[0])
	}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(file), ".toml")
	}
	s.defaults()
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &s, nil
}

func (s *Scenario) defaults() {
	if s.Weights == "" {
		s.Weights = "bf16"
	}
	if s.Baseline == "" {
		s.Baseline = "full"
	}
	if s.Memory == "" {
		s.Memory = "total"
	}
	if s.Batch == 0 {
		s.Batch = 1
	}
	if s.Compare == "" {
		s.Compare = "within"
	}
	if s.Phase == "" {
		s.Phase = "request"
	}
	if s.Expect == "" {
		s.Expect = "pass"
	}
}

func (s *Scenario) check() error {
	var errs []error
	need := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	need(s.Paper != "" && s.Claim != "" && s.Source != "", "paper, claim and source are required")
	need(s.Model != "" && s.Hardware != "" && s.Scheme != "", "model, hardware and scheme are required")
	_, known := metrics[s.Metric]
	need(known, "metric: unknown metric %q", s.Metric)
	need(s.Memory == "kv" || s.Memory == "total", "memory: want kv or total, got %q", s.Memory)
	need(s.Compare == "within" || s.Compare == "at_least" || s.Compare == "at_most", "compare: want within, at_least or at_most, got %q", s.Compare)
	need(s.Value > 0, "value: the claim must be positive")
	need(s.Tolerance > 0 && s.Tolerance < 1, "tolerance: want a fraction in (0, 1), got %g", s.Tolerance)
	need(s.TP >= 0, "tp must not be negative")
	if s.TP > 1 {
		switch s.Metric {
		case "memory_ratio", "max_context", "max_batch", "memory_fraction":
			need(false, "%s is not priced per GPU: drop tp", s.Metric)
		}
	}
	need(s.Batch >= 1 && s.Prompt >= 0 && s.Context >= 0 && s.Output >= 0 && s.Chunk >= 0, "batch, prompt, context, output and chunk must not be negative")
	need(s.Phase == "request" || s.Phase == "decode", "phase: want request or decode, got %q", s.Phase)
	need(s.Expect == "pass" || s.Expect == "miss", "expect: want pass or miss, got %q", s.Expect)
	need(s.Expect == "pass" || s.Gap != "", "expect = \"miss\" needs a gap note saying why")
	need(s.Attention == "" || s.Attention == "flash" || s.Attention == "eager", "attention: want flash or eager, got %q", s.Attention)
	switch s.Metric {
	case "decode_speedup", "attention_speedup", "kv_reduction", "max_batch":
		need(s.Context > 0, "%s needs context", s.Metric)
	case "prefill_speedup":
		need(s.Prompt > 0, "prefill_speedup needs prompt")
	case "throughput_ratio", "request_speedup":
		need(s.Prompt > 0 && s.Output > 0, "%s needs prompt and output", s.Metric)
	case "throughput_drop":
		need(len(s.Prefixes) == 2 && s.Prefixes[0] > 0 && s.Prefixes[1] > 0, "throughput_drop needs prefixes = [from, to]")
		need(s.Output > 0, "throughput_drop needs output")
	}
	return errors.Join(errs...)
}
