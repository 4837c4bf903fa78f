package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/offload"
	"github.com/llmsim/llmsim/sim/cluster"
	"github.com/llmsim/llmsim/sweep"
)

const dseHelp = `llmsim dse — design-space exploration: vary hardware parameters of a base
device (bandwidth, capacity, compute, price, power, overheads, links, PIM
banks, FPGA DSPs, CSD channels), price a workload on every variant with the
analytic estimate (or, with mode = "simulate", serve it with the event-driven
simulator), and mark the Pareto front of the chosen objectives.

  llmsim dse hbm.toml --out dse.csv          (docs/SWEEPS.md has worked examples)
  llmsim report dse.csv -o dse.html

The file (TOML):
  hw = "h100-sxm"                 base hardware (any --hw value); model, dtype,
  model = "llama3-70b"            act-dtype, kv-dtype, kv-scheme, eager-attention,
                                  concat-kv-cache as in estimate
  tp = 4                          tp, pp, collective, offload as in estimate: the
                                  points are then parallel or offloaded estimates,
                                  so link and CSD knobs act; usd_per_hour counts
                                  every GPU
  objectives = ["latency", "cost", "energy"]
  allow_overflow = false          points that do not fit in memory stay off the front
  [workload]                      estimate's work: phase, batch, prompt, context,
  phase = "decode"                output; a list or range makes it part of the
  batch = [1, 16, 64, 256]        space (the front then picks the batch too)
  context = 4096
  [[knob]]
  name = "memory.bandwidth"
  scale = "0.5..4:x2"             multipliers of the base value, or values = [...]
  price_exponent = 0.5            the variant's price × scale^0.5 (power_exponent too)

Simulate mode: one llmsim simulate per variant, on the variant's system:
  mode = "simulate"
  hw = "h100-sxm"                 top level as above (tp, pp, collective and
  model = "llama3-8b"             offload pass through as simulate's flags)
  objectives = ["ttft_p99", "goodput", "price"]
  [simulate]                      llmsim simulate flags (not hw, model, dtype...,
  rate = 20                       nor its output files); a list or range makes
  num-requests = 500              an axis of the space
  slo-ttft = 0.5
  slo-tpot = 0.05
  max-num-seqs = [64, 256]
A point whose simulation fails or completes no request is off the front, and
so is one that rejects a request (too long for the variant's KV cache or
context) unless allow_overflow = true. Same seed, same output.

Knobs:
` + "%s" + `
Objectives (column, direction), estimate mode: latency (seconds, min), ttft
(ttft_seconds, min), tpot (tpot_seconds, min), throughput (tokens_per_second,
max), cost (usd_per_million_tokens, min), energy (joules_per_token, min),
memory (total_bytes, min), price (usd_per_hour, min).
Simulate mode: ttft_mean, ttft_p99, tpot_mean, tpot_p99, e2e_mean, e2e_p99
(the _seconds columns, min), goodput (goodput_requests_per_second, max),
attainment (max), throughput (output_tokens_per_second, max), energy
(joules_per_output_token, min), cost (usd_per_million_output_tokens, min),
price (usd_per_hour, min). An objective of the other mode is an error.

Output (CSV or JSON Lines, one line per point, deterministic): index, key, the
knob values (absolute), the estimate parameters, usd_per_hour (the variant's
price), the metrics of llmsim sweep's estimate mode, objectives (name=metric:
direction;...) and pareto (true when no feasible point is at least as good in
every objective and better in one). The front is also printed as a table.
The analytic estimate prices one device: link.bandwidth and csd.channels only
change what a simulation or an offload plan would see. Simulate mode writes
the knob values, the target parameters, the [simulate] keys, usd_per_hour
(the deployment: every GPU of every replica; with offload every device of the
system), the metrics of llmsim sweep's simulate mode, objectives and pareto.
`

func init() {
	register("dse", "design-space exploration of hardware parameters; Pareto front of objectives", runDSE)
}

func runDSE(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dse", fmt.Sprintf(dseHelp, sweep.KnobHelp()), stderr)
	out := fs.String("out", "", "output file (.csv, .jsonl; default: CSV on stdout)")
	format := fs.StringP("output-format", "o", "", "csv or jsonl (default: from --out's extension)")
	workers := fs.Int("workers", 0, "parallel workers (default: one per CPU)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one DSE file (llmsim dse FILE.toml)")
	}
	spec, err := sweep.ReadDSE(fs.Arg(0))
	if err != nil {
		return err
	}
	d, err := sweep.NewDSEWith(spec, &sweep.Loader{}, dseSimulator())
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	f, err := outputFormat(*format, *out)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt := sweep.Options{Workers: *workers, Format: f, Header: true}
	var st sweep.Stats
	run := func(w io.Writer) error {
		st, err = d.Run(ctx, w, opt)
		return err
	}
	summary := stdout
	if *out == "" {
		err, summary = run(stdout), stderr
	} else {
		err = writeFileAtomic(*out, run)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(summary, "dse: %d points (%d failed), %d on the Pareto front of %s\n",
		st.Evaluated, st.Failed, d.FrontSize(), strings.Join(spec.Objectives, ", "))
	return writeFront(summary, d)
}

// dseSimulator is llmsim simulate for simulate-mode DSE files: its flags,
// usd_per_hour and sweep's simulate metrics.
func dseSimulator() *sweep.DSESimulator {
	sfs := newFlags("simulate", "", io.Discard)
	addSimulateFlags(sfs)
	return &sweep.DSESimulator{
		Params:  paramsOf(sfs, false),
		Metrics: append([]string{"usd_per_hour"}, simulateMetrics...),
		Run: func(sys *hw.System, args []string, out []sweep.Value) error {
			fs := newFlags("simulate", "", io.Discard)
			f := addSimulateFlags(fs)
			if err := fs.Parse(args); err != nil {
				return err
			}
			res, err := simulateOn(fs, f, sys)
			if err != nil {
				return err
			}
			out[0] = sweep.Number(deploymentUSDPerHour(res.pools))
			simulateValues(res, out[1:])
			return nil
		},
	}
}

// deploymentUSDPerHour is the rental price of the pools, as the simulator
// charges it: each replica's TP × PP devices, or under an offloading scheme
// every device of its system.
func deploymentUSDPerHour(pools []cluster.Pool) float64 {
	var usd float64
	for _, p := range pools {
		rc := &p.Replica
		per := float64(rc.TP*rc.PP) * rc.Device.Price.USDPerHour
		if rc.Offload != nil {
			per = offload.USDPerHour(rc.System)
		}
		usd += float64(p.Replicas) * per
	}
	return usd
}

// writeFront prints the knob values and objectives of the front.
func writeFront(w io.Writer, d *sweep.DSE) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var head []string
	for _, a := range d.Space.Axes {
		if len(a.Values) > 1 {
			head = append(head, a.Name)
		}
	}
	head = append(head, d.Spec.Objectives...)
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, p := range d.Front() {
		var row []string
		for a, ax := range d.Space.Axes {
			if len(ax.Values) > 1 {
				v := ax.Values[p.Idx[a]]
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					v = fmt.Sprintf("%.4g", x)
				}
				row = append(row, v)
			}
		}
		for _, v := range p.Objectives {
			row = append(row, fmt.Sprintf("%.4g", v))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}
