package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/llmsim/llmsim/offload"
)

const offloadHelp = `llmsim offload — run an offloading scheme or a near-data execution plan on the
resources of a system: weights, KV cache and activations placed over GPU, CPU
DRAM, disk, flash, computational storage or PIM, every forward step executed
as layer-granular tasks (loads and stores on links, compute on devices) by an
event executor, so transfers overlap compute where the scheme's schedule lets
them and contend where they share a link.

  llmsim offload --hw t4-flexgen-paper --model opt-30b \
      --offload flexgen:w=20/80/0,c=0/100/0,a=0/100/0,gbs=48,ngb=3,cpuattn=1
  llmsim offload --hw t4-flexgen-paper --model opt-175b --offload flexgen:search=1
  llmsim offload --hw t4-flexgen-paper --model opt-30b --offload accelerate:tier=cpu --batch 8
  llmsim offload list                 schemes and their parameters
  llmsim offload reproduce [--scenario NAME]   paper claims vs simulation
                                      (alias of llmsim reproduce --kind offload)

--batch 0 lets the scheme decide (FlexGen: gbs × ngb); --batch -1 takes the
largest batch whose memory fits.

Output fields (JSON names; the table shows the same):
  prefill_seconds, decode_seconds, seconds
                           time of the prefill step, of the output-1 decode
                           steps, and of the whole batch
  tokens_per_second        generated tokens (batch × output) / seconds
  decode_tokens_per_second batch × (output-1) / decode_seconds
  flops                    model arithmetic executed
  memory                   per tier at its peak: weights_bytes, kv_bytes,
                           activation_bytes, working_bytes (staging buffers,
                           reserves), total_bytes, capacity_bytes, fits
  resources                per engine or channel: busy_seconds, utilisation
                           (busy / seconds), bytes moved
  breakdown_seconds        task time by kind (compute, weights, kv,
                           activations), summed: overlapped work counts fully
  energy                   joules, joules_per_token, average_watts of every
                           device of the system (idle + (active-idle) ×
                           utilisation), usd (rent of all devices for the
                           run) and usd_per_million_tokens, per device too
  extra                    scheme-specific numbers (hit rates, bytes per token)
`

func init() {
	register("offload", "offloading schemes and near-data hardware: latency, memory per tier, energy, cost", runOffload)
}

func runOffload(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return offloadList(stdout)
		case "reproduce":
			return runReproduceOffload(args[1:], stdout, stderr)
		}
	}
	fs := newFlags("offload", offloadHelp, stderr)
	tf := addTargetFlags(fs)
	hwFlag := fs.Lookup("hw")
	hwFlag.DefValue = "t4-flexgen-paper"
	_ = hwFlag.Value.Set(hwFlag.DefValue)
	spec := fs.String("offload", "flexgen:search=1", "scheme: NAME[:key=value,...] (llmsim offload list)")
	batch := fs.Int("batch", 0, "sequences (0: the scheme decides; -1: the largest batch that fits)")
	prompt := fs.Int("prompt", 512, "prompt tokens per sequence")
	output := fs.Int("output", 32, "output tokens per sequence")
	format := fs.StringP("output-format", "o", "table", "table or json")
	if err := parseFlags(fs, args, format, "table", "json"); err != nil {
		return err
	}
	if *batch < -1 || *prompt < 1 || *output < 1 {
		return fmt.Errorf("--batch must be ≥ -1, --prompt and --output ≥ 1")
	}
	t, err := tf.resolve()
	if err != nil {
		return err
	}
	if err := contextLimit(t.model, *prompt+*output, "--prompt + --output"); err != nil {
		return err
	}
	scheme, err := offload.Parse(*spec)
	if err != nil {
		return fmt.Errorf("--offload: %w", err)
	}
	target := offload.NewTarget(t.system, t.model, t.prec)
	target.Opts = t.opts
	target.Build = t.build
	target.KVBytes = func(tokens int) float64 { return t.kvBytes(1, tokens) }
	w := offload.Workload{Batch: *batch, Prompt: *prompt, Output: *output}
	if *batch == -1 {
		if w.Batch, err = offload.MaxBatch(scheme, target, w); err != nil {
			return err
		}
	}
	r, err := scheme.Run(target, w)
	if err != nil {
		return err
	}
	if *format == "json" {
		return writeJSON(stdout, r)
	}
	return writeOffloadTable(stdout, r)
}

func offloadList(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCHEME\tWHAT AND PARAMETERS")
	for _, n := range offload.Names() {
		fmt.Fprintf(tw, "%s\t%s\n", n, offload.Summary(n))
	}
	return tw.Flush()
}

func writeOffloadTable(w io.Writer, r *offload.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "scheme\t%s\n", r.Scheme)
	fmt.Fprintf(tw, "hardware / model\t%s / %s\n", r.System, r.Model)
	fmt.Fprintf(tw, "batch × prompt → output\t%d × %d → %d\n", r.Batch, r.Prompt, r.Output)
	fmt.Fprintf(tw, "prefill / decode / total\t%.4g s / %.4g s / %.4g s\n", r.PrefillSeconds, r.DecodeSeconds, r.Seconds)
	fmt.Fprintf(tw, "throughput\t%.4g token/s (decode %.4g token/s)\n", r.TokensPerSecond, r.DecodeTokensPerSecond)
	fmt.Fprintf(tw, "energy\t%.4g J/token, %.4g W average, %.4g J\n", r.Energy.JoulesPerToken, r.Energy.AverageWatts, r.Energy.Joules)
	fmt.Fprintf(tw, "cost\t$%.4g per million tokens ($%.4g for the run)\n", r.Energy.USDPerMillionTokens, r.Energy.USD)
	fmt.Fprintf(tw, "fits\t%v\n", r.Fits)
	tw.Flush()
	fmt.Fprintln(w, "\nmemory per tier (GB):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group\tdevice\tweights\tkv\tactivations\tworking\ttotal\tcapacity\tfits\t")
	for _, m := range r.Memory {
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%v\t\n", m.Group, m.Device, m.WeightsBytes/1e9,
			m.KVBytes/1e9, m.ActivationBytes/1e9, m.WorkingBytes/1e9, m.TotalBytes/1e9, m.CapacityBytes/1e9, m.Fits)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nresources:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "name\tbusy s\tutilisation\tGB moved\t")
	for _, u := range r.Resources {
		fmt.Fprintf(tw, "%s\t%.4g\t%.1f%%\t%.4g\t\n", u.Name, u.BusySeconds, 100*u.Utilisation, u.Bytes/1e9)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nenergy and rent per device:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group\tdevice\tcount\tutilisation\tJ\tW\tUSD\t")
	for _, d := range r.Energy.Devices {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f%%\t%.4g\t%.4g\t%.4g\t\n", d.Group, d.Device, d.Count, 100*d.Utilisation, d.Joules, d.AverageWatts, d.USD)
	}
	tw.Flush()
	if len(r.Extra) > 0 {
		keys := make([]string, 0, len(r.Extra))
		for k := range r.Extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%.4g", k, r.Extra[k])
		}
		fmt.Fprintf(w, "\nextra: %s\n", strings.Join(parts, " "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}
