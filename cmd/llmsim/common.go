package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
)

// targetFlags are the flags every costing command shares: what hardware,
// what model, which formats.
type targetFlags struct {
	hw, model                string
	weights, activations, kv string
	materialisedAttention    bool
	kvScheme                 string
}

func addTargetFlags(fs *pflag.FlagSet) *targetFlags {
	t := &targetFlags{}
	fs.StringVar(&t.hw, "hw", "h100-sxm", "hardware: built-in device or system name (llmsim hw list), or a TOML file")
	fs.StringVar(&t.model, "model", "llama3-8b", "model: built-in name (llmsim models list), a model TOML, or a Hugging Face config.json")
	fs.StringVar(&t.weights, "dtype", "bf16", "weight format: fp32, bf16, fp16, fp8, int8, int4, ...")
	fs.StringVar(&t.activations, "act-dtype", "", "activation format (default: bf16, or the weight format when it is 16/32-bit or W8A8 fp8/int8)")
	fs.StringVar(&t.kv, "kv-dtype", "", "KV-cache format (default: the activation format)")
	fs.StringVar(&t.kvScheme, "kv-scheme", "full", "KV-cache scheme: NAME[:key=value,...], several joined by + (llmsim kvschemes lists them)")
	fs.BoolVar(&t.materialisedAttention, "eager-attention", false, "model eager attention that writes the score matrix to memory instead of a fused FlashAttention kernel")
	return t
}

// target is a resolved costing setup.
type target struct {
	system *hw.System
	device *hw.Device // the device that runs the model
	model  *models.Model
	prec   models.Precision
	opts   models.Options
	kv     kvcache.Scheme
}

// build fills g with one step of the target: the model graph rewritten by
// the KV-cache scheme. Every costing command prices steps through it.
func (t *target) build(g *models.Graph, seqs []models.Seq) {
	t.model.GraphInto(g, seqs, t.prec, t.opts)
	t.kv.Rewrite(g, t.model, seqs, t.prec)
}

// kvBytes is the KV cache of batch sequences of tokens tokens each.
func (t *target) kvBytes(batch, tokens int) float64 {
	return float64(batch) * t.kv.StoredBytes(t.model, tokens, t.prec.KV)
}

func (t *targetFlags) resolve() (*target, error) {
	sys, err := hw.Load(t.hw)
	if err != nil {
		return nil, fmt.Errorf("--hw: %w", err)
	}
	m, err := models.Load(t.model)
	if err != nil {
		return nil, fmt.Errorf("--model: %w", err)
	}
	prec, err := parsePrecision(t.weights, t.activations, t.kv)
	if err != nil {
		return nil, err
	}
	scheme, err := kvcache.Parse(t.kvScheme)
	if err != nil {
		return nil, fmt.Errorf("--kv-scheme: %w", err)
	}
	return &target{
		system: sys,
		device: sys.Primary().Device,
		model:  m,
		prec:   prec,
		opts:   models.Options{MaterialisedAttention: t.materialisedAttention},
		kv:     scheme,
	}, nil
}

// parsePrecision reads the three dtype flags. Activations default to bf16
// unless weights are 16/32-bit floats (computed in their own format) or fp8/
// int8 (W8A8); the KV cache defaults to the activation format.
func parsePrecision(weights, activations, kv string) (models.Precision, error) {
	var p models.Precision
	var err error
	if p.Weights, err = dtype.Parse(weights); err != nil {
		return p, fmt.Errorf("--dtype: %w", err)
	}
	switch {
	case activations != "":
		if p.Activations, err = dtype.Parse(activations); err != nil {
			return p, fmt.Errorf("--act-dtype: %w", err)
		}
	case p.Weights.Bits() >= 8:
		p.Activations = p.Weights
	default:
		p.Activations = dtype.BF16
	}
	if p.Activations.Bits() < 8 {
		return p, fmt.Errorf("--act-dtype: %s activations are not supported (use 8 bits or more)", p.Activations)
	}
	p.KV = p.Activations
	if kv != "" {
		if p.KV, err = dtype.Parse(kv); err != nil {
			return p, fmt.Errorf("--kv-dtype: %w", err)
		}
	}
	return p, nil
}

// checkFormat validates -o.
func checkFormat(format string, allowed ...string) error {
	for _, a := range allowed {
		if format == a {
			return nil
		}
	}
	return fmt.Errorf("-o/--output-format: unknown format %q (want one of %v)", format, allowed)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeFileAtomic writes a file through a temporary in the same directory and
// renames it into place, so a failure never leaves a half-written file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}
