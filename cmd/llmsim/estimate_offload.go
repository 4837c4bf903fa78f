package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/llmsim/llmsim/offload"
	"github.com/llmsim/llmsim/sweep"
)

const offloadFlagUsage = "offloading scheme NAME[:key=value,...] (llmsim offload list): the work runs as an event-executed task graph on the system's tiers (GPU, CPU DRAM, disk, flash, CSD, PIM)"

const estimateOffloadHelp = `
Offloading (--offload NAME[:key=value,...], llmsim offload list): the work
is executed by the offload package's event executor on the resources of the
system (loads and stores on links and storage contend and overlap with
compute as the scheme's schedule allows). --phase request runs the scheme for
--batch × --prompt → --output; prefill and decode execute that one step.
The output keeps the fields above (memory is the accelerator's tier and fits
is every tier's; bound is device, link or storage: the busiest resource) and
adds offload: scheme, busiest (resource), tiers (per tier: group, device,
tier, weights/kv/activation/working/total/capacity bytes, fits), resources
(busy_seconds, utilisation, bytes), breakdown_seconds, extra, notes and the
energy of each device. Not combined with --tp/--pp; -o csv is not available.
`

// offloadEstimate is estimate's output under --offload: estimate's field
// names, plus what the executor measured.
type offloadEstimate struct {
	workJSON

	pricedJSON

	Memory  memoryJSON  `json:"memory"`
	Energy  energyJSON  `json:"energy"`
	Cost    costJSON    `json:"cost"`
	Offload offloadJSON `json:"offload"`
}

type offloadJSON struct {
	Scheme    string                 `json:"scheme"`
	Busiest   string                 `json:"busiest"`
	Tiers     []offload.TierUse      `json:"tiers"`
	Resources []offload.ResourceUse  `json:"resources"`
	Breakdown map[string]float64     `json:"breakdown_seconds"`
	Devices   []offload.DeviceEnergy `json:"energy_devices"`
	Extra     map[string]float64     `json:"extra,omitempty"`
	Notes     []string               `json:"notes,omitempty"`
}

// estimateOffload prices estimate's work under an offloading scheme.
func estimateOffload(t *target, f estimateFlags, spec string) (*offloadEstimate, error) {
	if t.par != nil {
		return nil, fmt.Errorf("--offload: runs on one accelerator's memory tiers; it is not combined with --tp/--pp")
	}
	scheme, err := offload.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("--offload: %w", err)
	}
	e := &offloadEstimate{workJSON: newWork(t, f)}
	e.Params = t.model.Params()
	// The numbers are the sweep's (one code path for both commands); the
	// offload object adds what the executor measured.
	st := &sweep.Target{System: t.system, Device: t.device, Model: t.model, Prec: t.prec, Opts: t.opts, KV: t.kv}
	w := sweep.Work{Phase: f.phase, Batch: f.batch, Prompt: f.prompt, Context: f.context, Output: f.output}
	r, tokens, err := sweep.OffloadRun(st, scheme, w)
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, tierHint(err))
	}
	sum := sweep.OffloadSummary(st, r, w, tokens)
	e.Seconds, e.TTFTSeconds, e.TPOTSeconds, e.TokensPerSecond = sum.Seconds, sum.TTFTSeconds, sum.TPOTSeconds, sum.TokensPerSecond
	e.FLOPs, e.Bytes, e.Bound = sum.FLOPs, sum.Bytes, string(sum.Bound)
	e.Memory = newMemory(sum.Memory)
	e.Energy = energyJSON{Joules: sum.Energy.Joules, AverageWatts: sum.Energy.AverageWatts, JoulesPerToken: sum.JoulesPerToken}
	e.Cost = costJSON{USD: sum.Energy.USD, USDPerMillionTokens: sum.USDPerMillionTokens}
	busiest, _ := r.Busiest(t.system)
	e.Offload = offloadJSON{Scheme: r.Scheme, Busiest: busiest.Name, Tiers: r.Memory, Resources: r.Resources,
		Breakdown: r.Breakdown, Devices: r.Energy.Devices, Extra: r.Extra, Notes: r.Notes}
	if r.Batch != f.batch {
		e.Offload.Notes = append(e.Offload.Notes, fmt.Sprintf("the scheme ran a batch of %d (padded to its GPU-batch block)", r.Batch))
	}
	return e, nil
}

// tierHint points at systems that have the tiers a scheme asks for.
func tierHint(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "needs a host CPU"):
		return " (give a system with a host tier: t4-flexgen-paper, a100-node, a6000-node; llmsim hw list)"
	case strings.Contains(msg, "no ssd or flash"):
		return " (give a system with a disk or flash tier: t4-flexgen-paper, a6000-ssd, m1-max-flash; llmsim hw list)"
	}
	return ""
}

func writeOffloadEstimateTable(w io.Writer, e *offloadEstimate) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%.3g params)\n", e.Model, e.Params)
	fmt.Fprintf(tw, "hardware\t%s (accelerator %s)\n", e.Hardware, e.Device)
	fmt.Fprintf(tw, "offload\t%s\n", e.Offload.Scheme)
	fmt.Fprintf(tw, "work\t%s, batch %d, prompt %d, context %d, output %d, dtype %s/%s/kv %s\n",
		e.Phase, e.Batch, e.Prompt, e.Context, e.Output, e.Weights, e.Activations, e.KV)
	fmt.Fprintf(tw, "latency\t%s", seconds(e.Seconds))
	if e.Phase == "request" {
		fmt.Fprintf(tw, " (TTFT %s, TPOT %s)", seconds(e.TTFTSeconds), seconds(e.TPOTSeconds))
	}
	fmt.Fprintf(tw, "\nthroughput\t%.4g tokens/s\n", e.TokensPerSecond)
	fmt.Fprintf(tw, "work\t%.3g FLOPs, %.3g bytes moved, %s-bound (busiest: %s)\n", e.FLOPs, e.Bytes, e.Bound, e.Offload.Busiest)
	fmt.Fprintf(tw, "energy\t%.3g J (%.3g J/token, %.0f W average, every device of the system)\n", e.Energy.Joules, e.Energy.JoulesPerToken, e.Energy.AverageWatts)
	fmt.Fprintf(tw, "cost\t$%.3g per million tokens\n", e.Cost.USDPerMillionTokens)
	fmt.Fprintf(tw, "fits\t%v\n\n", e.Memory.Fits)
	fmt.Fprintln(tw, "tier\tdevice\tweights\tKV\tactivations\tworking\ttotal\tcapacity\tfits")
	for _, m := range e.Offload.Tiers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\n", m.Group, m.Device, gib(m.WeightsBytes), gib(m.KVBytes),
			gib(m.ActivationBytes), gib(m.WorkingBytes), gib(m.TotalBytes), gib(m.CapacityBytes), m.Fits)
	}
	fmt.Fprintln(tw, "\nresource\tbusy\tutilisation\tGB moved")
	for _, u := range e.Offload.Resources {
		fmt.Fprintf(tw, "%s\t%s\t%.1f%%\t%.4g\n", u.Name, seconds(u.BusySeconds), 100*u.Utilisation, u.Bytes/1e9)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range e.Offload.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

// runEstimateOffload is estimate's path under --offload.
func runEstimateOffload(t *target, f estimateFlags, spec string, stdout io.Writer) error {
	if f.format == "csv" {
		return fmt.Errorf("-o csv: lists roofline ops, which an --offload run does not have; use table or json")
	}
	e, err := estimateOffload(t, f, spec)
	if err != nil {
		return err
	}
	if f.format == "json" {
		return writeJSON(stdout, e)
	}
	return writeOffloadEstimateTable(stdout, e)
}
