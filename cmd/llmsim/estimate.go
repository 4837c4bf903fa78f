package main

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

const estimateHelp = `llmsim estimate — analytic latency, throughput, memory, energy and cost of
one step (prefill or decode) or of whole requests, priced op by op with the
roofline model of the device (calibrated efficiency curves and overheads).

  llmsim estimate --hw h100-sxm --model llama3-8b --phase decode --batch 32 --context 4096
  llmsim estimate --phase request --batch 1 --prompt 2048 --output 256 -o json
  llmsim estimate --hw dgx-h100 --model llama3-70b --tp 4 --phase request --prompt 512 --output 64

Phases:
  prefill   one step over --batch prompts of --prompt tokens each (nothing cached)
  decode    one step generating one token for each of --batch sequences that
            already hold --context tokens in the KV cache
  request   --batch requests arriving together: a prefill step, then --output-1
            decode steps whose context grows by one token each

Tensor and pipeline parallelism (--tp, --pp, --collective) need a system with
a link among its GPUs (dgx-h100, dgx-a100, dgx-h200, ...; a bare device is
refused). TP shards every layer Megatron-style (weights, heads, KV heads up to
kv_heads) and adds two all-reduces of tokens × hidden per layer plus a logits
all-gather; PP splits the layers into stages that a step passes one after
another, handing activations over the link (each stage pays the device's step
overhead). Latency and ops are per GPU; flops, bytes, energy and cost cover
all GPUs; memory is one GPU's (the biggest stage's).

Output fields (JSON names; the table shows the same):
  seconds            latency of the step (prefill/decode) or end-to-end latency of
                     the requests (request), in seconds
  ttft_seconds       request: time to first token (the prefill step)
  tpot_seconds       request: mean time per output token after the first
  tokens_per_second  prefill: prompt tokens processed per second; decode and
                     request: generated tokens per second over the batch
  flops, bytes       arithmetic operations and main-memory traffic of the work
  bound              what limits most of the time: compute, memory, overhead
                     (fixed kernel costs exceed both roofs) or link (TP/PP
                     communication)
  params             model parameters (all experts counted)
  memory             weights_bytes, kv_bytes (KV cache at the largest context the
                     work reaches), activation_bytes (peak live activations),
                     reserved_bytes (runtime reserve), total_bytes, capacity_bytes
                     (the device's main memory) and fits (total <= capacity)
  energy             joules, joules_per_token, average_watts (from the device's
                     power description)
  cost               usd (rented time at the device price) and
                     usd_per_million_tokens
  tp, pp, gpus       tensor- and pipeline-parallel degrees and their product
  link               the GPU-GPU link of TP/PP traffic (when gpus > 1)
  collective_seconds time in TP all-reduces and all-gathers over all steps
  pipeline           with --pp > 1: stage_seconds (each stage of the step shown:
                     the step, or the request's first decode step, collectives
                     included), send_seconds (one hand-off), bubble_fraction (GPU
                     idle share when one batch passes the stages alone),
                     interval_seconds (time per batch with PP batches in flight:
                     max(slowest stage, latency / PP) per step) and
                     pipelined_tokens_per_second (tokens / interval_seconds)
  ops                per op (summed over layers): name, step (prefill|decode),
                     device, repeat (executions per step), seconds, flops, bytes,
                     intensity (FLOPs/byte), bound; under TP one GPU's shard, plus
                     rows allreduce (2 per layer), allgather (logits) and
                     stage_send (PP - 1 hand-offs) whose device is the link, bytes
                     the tensor moved and bound "link"
`

func init() {
	register("estimate", "latency, throughput, memory, energy and cost of a step or request", runEstimate)
}

type estimateFlags struct {
	target                 *targetFlags
	phase                  string
	batch, prompt, context int
	output                 int
	format                 string
}

func runEstimate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("estimate", estimateHelp+estimateOffloadHelp, stderr)
	f := addEstimateFlags(fs)
	addParallelFlags(fs, f.target)
	offloadSpec := fs.String("offload", "", offloadFlagUsage)
	fs.StringVarP(&f.format, "output-format", "o", "table", "table, json or csv")
	if err := parseFlags(fs, args, &f.format, "table", "json", "csv"); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	t, err := f.target.resolve()
	if err != nil {
		return err
	}
	if *offloadSpec != "" {
		return runEstimateOffload(t, *f, *offloadSpec, stdout)
	}
	e, err := computeEstimate(t, *f)
	if err != nil {
		return err
	}
	switch f.format {
	case "json":
		return writeJSON(stdout, e)
	case "csv":
		return writeEstimateCSV(stdout, e)
	}
	return writeEstimateTable(stdout, e)
}

// addEstimateFlags registers the flags that say what work to price; estimate
// and roofline share them.
func addEstimateFlags(fs *pflag.FlagSet) *estimateFlags {
	f := &estimateFlags{target: addTargetFlags(fs)}
	fs.StringVar(&f.phase, "phase", "decode", "prefill, decode or request")
	fs.IntVar(&f.batch, "batch", 1, "sequences in the step (requests for --phase request)")
	fs.IntVar(&f.prompt, "prompt", 512, "prompt tokens per sequence (prefill, request)")
	fs.IntVar(&f.context, "context", 1024, "tokens already cached per sequence before the decode step")
	fs.IntVar(&f.output, "output", 128, "output tokens per request (request)")
	return f
}

func (f *estimateFlags) check() error {
	switch f.phase {
	case "prefill", "decode", "request":
	default:
		return fmt.Errorf("--phase: unknown phase %q (want prefill, decode or request)", f.phase)
	}
	for _, c := range []struct {
		name  string
		value int
		min   int
	}{{"--batch", f.batch, 1}, {"--prompt", f.prompt, 1}, {"--context", f.context, 0}, {"--output", f.output, 1}} {
		if c.value < c.min {
			return fmt.Errorf("%s: must be at least %d, got %d", c.name, c.min, c.value)
		}
	}
	return nil
}

// contextLimit rejects work longer than the model's context window.
func contextLimit(m *models.Model, tokens int, what string) error {
	if m.MaxContext > 0 && tokens > m.MaxContext {
		return fmt.Errorf("%s: %d tokens exceed %s's context limit of %d", what, tokens, m.Name, m.MaxContext)
	}
	return nil
}

func computeEstimate(t *target, f estimateFlags) (*estimate, error) {
	m, dev := t.model, t.device
	e := &estimate{workJSON: newWork(t, f)}
	e.Params = m.Params()
	seqs := make([]models.Seq, f.batch)
	var g models.Graph
	switch f.phase {
	case "prefill":
		if err := contextLimit(m, f.prompt, "--prompt"); err != nil {
			return nil, err
		}
		for i := range seqs {
			seqs[i] = models.Seq{New: f.prompt}
		}
		t.buildShard(&g, seqs)
		step := t.step(&g)
		e.setStep(step, "prefill", float64(f.batch*f.prompt))
		e.setParallel(t, step, step.IntervalSeconds, step.CollectiveSeconds)
		e.Memory = newMemory(t.memory(&g, f.batch, f.prompt))
	case "decode":
		if err := contextLimit(m, f.context+1, "--context"); err != nil {
			return nil, err
		}
		for i := range seqs {
			seqs[i] = models.Seq{Cached: f.context, New: 1}
		}
		t.buildShard(&g, seqs)
		step := t.step(&g)
		e.setStep(step, "decode", float64(f.batch))
		e.setParallel(t, step, step.IntervalSeconds, step.CollectiveSeconds)
		e.Memory = newMemory(t.memory(&g, f.batch, f.context+1))
	case "request":
		if err := contextLimit(m, f.prompt+f.output, "--prompt + --output"); err != nil {
			return nil, err
		}
		r := t.request(f.batch, f.prompt, f.output)
		e.setRequest(r)
		e.setParallelRequest(t, r)
		for i := range seqs {
			seqs[i] = models.Seq{New: f.prompt}
		}
		t.buildShard(&g, seqs)
		e.Memory = newMemory(t.memory(&g, f.batch, f.prompt+f.output))
	}
	e.setEnergy(dev, roofline.Peak(dev, hw.ClassGEMM, t.prec.Activations))
	return e, nil
}
