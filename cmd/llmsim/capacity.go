package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

const capacityHelp = `llmsim capacity — what fits in device memory: the largest batch at a
context length, and the longest context at a batch size, under any dtype,
KV-cache scheme and TP/PP split.

  llmsim capacity --model llama3-8b --context 8192
  llmsim capacity --hw a100-80g-sxm --model llama3-8b --dtype int8 --kv-dtype int4 \
      --kv-scheme duo:retrieval=0.25 --batch 1
  llmsim capacity --hw dgx-h100 --model llama3-70b --tp 4 --context 32768

The memory is estimate's, per GPU: weights (split as --tp/--pp say), the KV
cache as the scheme stores it (StoredBytes: eviction stops it growing,
quantisation shrinks it, recurrent layers hold a constant state), the peak
activations of the steps the work needs and the device's runtime reserve. A
sequence of N tokens fits when both its decode step (N-1 cached, one new) and
the last chunk of its prefill (--chunk tokens, or the whole prompt with
--chunk 0) fit. Both searches are exact: the answer fits and one more does
not.

Output fields:
  hardware, device, model, dtype, act_dtype, kv_dtype, kv_scheme, tp, pp
  context            the tokens per sequence of the batch search
  max_batch          the largest batch of --context-token sequences that fits
                     (0: not even one)
  batch              the batch of the context search
  max_context        the longest sequences --batch of them fit with (0: none;
                     searched up to 2^30 tokens)
  model_context      the model's own context limit; contexts beyond it are
                     still sized (for schemes and long-context variants), and
                     exceeds_model_context says so
  kv_bytes_per_sequence  the scheme's stored bytes of one --context sequence
                     on one GPU (its TP share)
  memory_at_max_batch, memory_at_max_context  the footprint at each answer:
                     weights_bytes, kv_bytes, activation_bytes,
                     reserved_bytes, total_bytes, capacity_bytes, fits
`

func init() {
	register("capacity", "largest batch and longest context that fit, per KV-cache scheme and split", runCapacity)
}

type capacityResult struct {
	Hardware            string     `json:"hardware"`
	Device              string     `json:"device"`
	Model               string     `json:"model"`
	Weights             string     `json:"dtype"`
	Activations         string     `json:"act_dtype"`
	KV                  string     `json:"kv_dtype"`
	KVScheme            string     `json:"kv_scheme"`
	TP                  int        `json:"tp"`
	PP                  int        `json:"pp"`
	Context             int        `json:"context"`
	MaxBatch            int        `json:"max_batch"`
	Batch               int        `json:"batch"`
	MaxContext          int        `json:"max_context"`
	ModelContext        int        `json:"model_context"`
	ExceedsModelContext bool       `json:"exceeds_model_context"`
	KVBytesPerSequence  float64    `json:"kv_bytes_per_sequence"`
	MemoryAtMaxBatch    memoryJSON `json:"memory_at_max_batch"`
	MemoryAtMaxContext  memoryJSON `json:"memory_at_max_context"`
}

// capacitySearchLimit bounds both searches (2^30 tokens or sequences).
const capacitySearchLimit = 1 << 30

func runCapacity(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("capacity", capacityHelp, stderr)
	tf := addTargetFlags(fs)
	addParallelFlags(fs, tf)
	context := fs.Int("context", 4096, "tokens per sequence (prompt + output) for the largest-batch search")
	batch := fs.Int("batch", 1, "sequences for the longest-context search")
	chunk := fs.Int("chunk", 8192, "prefill chunk in tokens whose activations must fit too (0: the whole prompt at once)")
	format := fs.StringP("output-format", "o", "table", "table or json")
	if err := parseFlags(fs, args, format, "table", "json"); err != nil {
		return err
	}
	switch {
	case *context < 1:
		return fmt.Errorf("--context: must be at least 1, got %d", *context)
	case *batch < 1:
		return fmt.Errorf("--batch: must be at least 1, got %d", *batch)
	case *chunk < 0:
		return fmt.Errorf("--chunk: must be at least 0, got %d", *chunk)
	}
	t, err := tf.resolve()
	if err != nil {
		return err
	}
	r := capacityOf(t, *context, *batch, *chunk)
	if *format == "json" {
		return writeJSON(stdout, r)
	}
	return writeCapacityTable(stdout, r)
}

// capacityOf answers both questions for t.
func capacityOf(t *target, context, batch, chunk int) *capacityResult {
	tp, pp := t.degrees()
	r := &capacityResult{
		Hardware: t.system.Name, Device: t.device.Name, Model: t.model.Name,
		Weights: string(t.prec.Weights), Activations: string(t.prec.Activations), KV: string(t.prec.KV),
		KVScheme: t.kv.String(), TP: tp, PP: pp, Context: context, Batch: batch, ModelContext: t.model.MaxContext,
	}
	r.KVBytesPerSequence = t.memory(&models.Graph{}, 1, context).KVBytes
	var g models.Graph
	r.MaxBatch = roofline.LargestFitting(capacitySearchLimit, func(b int) bool { return t.fitsWork(&g, b, context, chunk) })
	r.MemoryAtMaxBatch = newMemory(t.footprintOf(&g, max(r.MaxBatch, 1), context, chunk))
	r.MaxContext = roofline.LargestFitting(capacitySearchLimit, func(n int) bool { return t.fitsWork(&g, batch, n, chunk) })
	r.MemoryAtMaxContext = newMemory(t.footprintOf(&g, batch, max(r.MaxContext, 1), chunk))
	r.ExceedsModelContext = t.model.MaxContext > 0 && (r.MaxContext > t.model.MaxContext || context > t.model.MaxContext)
	return r
}

// fitsWork reports whether batch sequences of tokens tokens fit.
func (t *target) fitsWork(g *models.Graph, batch, tokens, chunk int) bool {
	return t.footprintOf(g, batch, tokens, chunk).Fits
}

// footprintOf is one GPU's memory for batch sequences of tokens tokens:
// the larger of a decode step over all of them (tokens-1 cached, one new)
// and an iteration in which the last of them prefills its final chunk
// while the others decode — the engine's token budget is per iteration, so
// one chunk is in flight, not one per sequence. The whole cache is
// resident in both.
func (t *target) footprintOf(g *models.Graph, batch, tokens, chunk int) roofline.Footprint {
	seqs := make([]models.Seq, batch)
	for i := range seqs {
		seqs[i] = models.Seq{Cached: tokens - 1, New: 1}
	}
	t.buildShard(g, seqs)
	f := t.memory(g, batch, tokens)
	n := tokens
	if chunk > 0 {
		n = min(chunk, tokens)
	}
	seqs[batch-1] = models.Seq{Cached: tokens - n, New: n}
	t.buildShard(g, seqs)
	if p := t.memory(g, batch, tokens); p.TotalBytes > f.TotalBytes {
		f = p
	}
	return f
}

func writeCapacityTable(w io.Writer, r *capacityResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%s/%s/kv %s, KV scheme %s)\n", r.Model, r.Weights, r.Activations, r.KV, r.KVScheme)
	fmt.Fprintf(tw, "hardware\t%s (device %s), TP %d × PP %d\n", r.Hardware, r.Device, r.TP, r.PP)
	fmt.Fprintf(tw, "largest batch\t%d sequences of %d tokens (KV %s each; %s of %s used)\n", r.MaxBatch, r.Context,
		gib(r.KVBytesPerSequence), gib(r.MemoryAtMaxBatch.TotalBytes), gib(r.MemoryAtMaxBatch.CapacityBytes))
	limit := ""
	if r.MaxContext == capacitySearchLimit {
		limit = " or more (the search limit)"
	}
	fmt.Fprintf(tw, "longest context\t%d tokens%s for %d sequence(s) (%s of %s used)", r.MaxContext, limit, r.Batch,
		gib(r.MemoryAtMaxContext.TotalBytes), gib(r.MemoryAtMaxContext.CapacityBytes))
	if r.ExceedsModelContext {
		fmt.Fprintf(tw, "; beyond the model's %d-token limit", r.ModelContext)
	}
	fmt.Fprintln(tw)
	return tw.Flush()
}
