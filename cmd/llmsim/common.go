package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/sweep"
)

// targetFlags are the flags every costing command shares: what hardware,
// what model, which formats.
type targetFlags struct {
	hw, model                string
	weights, activations, kv string
	materialisedAttention    bool
	concatKVCache            bool
	kvScheme                 string
	// tp, pp and collective are set by addParallelFlags (estimate,
	// roofline); zero means one GPU.
	tp, pp     int
	collective string
	parallelOn bool // addParallelFlags registered them
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
	fs.BoolVar(&t.concatKVCache, "concat-kv-cache", false, "model a KV cache grown by torch.cat (Hugging Face's default cache, MPT's custom code): every step copies each layer's past K and V once more (kv_concat op)")
	return t
}

// addParallelFlags registers --tp, --pp and --collective for the analytic
// commands (simulate has its own, per replica).
func addParallelFlags(fs *pflag.FlagSet, t *targetFlags) {
	t.parallelOn = true
	fs.IntVar(&t.tp, "tp", 1, "tensor-parallel GPUs (Megatron-style: weights, heads and KV split; 2 all-reduces per layer on the system's GPU-GPU link; needs a system such as dgx-h100)")
	fs.IntVar(&t.pp, "pp", 1, "pipeline-parallel stages (layers split; activations handed from stage to stage over the GPU-GPU link)")
	fs.StringVar(&t.collective, "collective", "auto", "TP all-reduce algorithm: ring, tree or auto (the faster per message, as NCCL)")
}

// target is a resolved costing setup.
type target struct {
	system *hw.System
	device *hw.Device // the device that runs the model
	model  *models.Model
	prec   models.Precision
	opts   models.Options
	kv     kvcache.Scheme
	// par is the TP × PP split; nil on one GPU.
	par *roofline.Parallel
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
	prec, err := sweep.ParsePrecision(t.weights, t.activations, t.kv)
	if err != nil {
		return nil, err
	}
	scheme, err := kvcache.Parse(t.kvScheme)
	if err != nil {
		return nil, fmt.Errorf("--kv-scheme: %w", err)
	}
	par, err := t.parallel(sys, m, prec)
	if err != nil {
		return nil, err
	}
	return &target{
		system: sys,
		device: sys.Primary().Device,
		model:  m,
		prec:   prec,
		opts:   models.Options{MaterialisedAttention: t.materialisedAttention, ConcatKVCache: t.concatKVCache},
		kv:     scheme,
		par:    par,
	}, nil
}

// parallel validates --tp, --pp and --collective against the system and
// the model; nil when the work runs on one GPU. A bare device has no
// GPU-GPU link, so TP or PP above 1 needs a system that names one (no
// link is assumed: its rate decides the collectives).
func (t *targetFlags) parallel(sys *hw.System, m *models.Model, prec models.Precision) (*roofline.Parallel, error) {
	if t.parallelOn && (t.tp < 1 || t.pp < 1) {
		return nil, fmt.Errorf("--tp %d, --pp %d: must be at least 1", t.tp, t.pp)
	}
	switch t.collective {
	case "", roofline.CollectiveAuto, roofline.CollectiveRing, roofline.CollectiveTree:
	default:
		return nil, fmt.Errorf("--collective: unknown algorithm %q (want ring, tree or auto)", t.collective)
	}
	tp, pp := max(t.tp, 1), max(t.pp, 1)
	if tp == 1 && pp == 1 {
		return nil, nil
	}
	if errs := roofline.CheckParallel(m, sys, tp, pp); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		if sys.Primary().Count == 1 {
			msgs = append(msgs, fmt.Sprintf("--hw %s is a single device: give a system with GPU-GPU links such as dgx-h100, dgx-a100 or dgx-h200 (llmsim hw list)", t.hw))
		}
		return nil, fmt.Errorf("--tp %d --pp %d: %s", tp, pp, strings.Join(msgs, "; "))
	}
	p := roofline.NewParallel(m, prec, tp, pp, t.collective, roofline.GroupLink(sys))
	return &p, nil
}

// parseFlags parses a command's flags, refuses positional arguments and
// checks the parsed -o value (*format) against allowed.
func parseFlags(fs *pflag.FlagSet, args []string, format *string, allowed ...string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return checkFormat(*format, allowed...)
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
	// CreateTemp makes the file private (0600); results are ordinary files.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}
