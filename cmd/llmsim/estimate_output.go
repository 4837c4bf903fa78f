package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/roofline"
)

// workJSON is what an estimate priced: the first fields of estimate's
// output, with or without --offload.
type workJSON struct {
	Hardware    string `json:"hardware"`
	Device      string `json:"device"`
	Model       string `json:"model"`
	Phase       string `json:"phase"`
	Batch       int    `json:"batch"`
	Prompt      int    `json:"prompt,omitempty"`
	Context     int    `json:"context,omitempty"`
	Output      int    `json:"output,omitempty"`
	Weights     string `json:"dtype"`
	Activations string `json:"act_dtype"`
	KV          string `json:"kv_dtype"`
	KVScheme    string `json:"kv_scheme"`
}

// newWork describes f's work on t; the lengths shown are the phase's.
func newWork(t *target, f estimateFlags) workJSON {
	w := workJSON{
		Hardware: t.system.Name, Device: t.device.Name, Model: t.model.Name, Phase: f.phase, Batch: f.batch,
		Weights: string(t.prec.Weights), Activations: string(t.prec.Activations), KV: string(t.prec.KV), KVScheme: t.kv.String(),
	}
	switch f.phase {
	case "prefill":
		w.Prompt = f.prompt
	case "decode":
		w.Context = f.context
	default:
		w.Prompt, w.Output = f.prompt, f.output
	}
	return w
}

// pricedJSON is what the work costs, in estimate's fields, with or
// without --offload.
type pricedJSON struct {
	Seconds         float64 `json:"seconds"`
	TTFTSeconds     float64 `json:"ttft_seconds,omitempty"`
	TPOTSeconds     float64 `json:"tpot_seconds,omitempty"`
	TokensPerSecond float64 `json:"tokens_per_second"`
	FLOPs           float64 `json:"flops"`
	Bytes           float64 `json:"bytes"`
	Bound           string  `json:"bound"`
	Params          float64 `json:"params"`
}

// estimate is the result of `llmsim estimate`; its JSON names are the
// documented output fields.
type estimate struct {
	workJSON
	TP   int    `json:"tp"`
	PP   int    `json:"pp"`
	GPUs int    `json:"gpus"`
	Link string `json:"link,omitempty"` // the GPU-GPU link of TP/PP traffic

	pricedJSON

	CollectiveSeconds float64       `json:"collective_seconds,omitempty"`
	Pipeline          *pipelineJSON `json:"pipeline,omitempty"`

	Memory memoryJSON `json:"memory"`
	Energy energyJSON `json:"energy"`
	Cost   costJSON   `json:"cost"`
	Ops    []opJSON   `json:"ops"`

	tokens float64 // tokens the throughput and per-token figures count
}

type memoryJSON struct {
	WeightsBytes    float64 `json:"weights_bytes"`
	KVBytes         float64 `json:"kv_bytes"`
	ActivationBytes float64 `json:"activation_bytes"`
	ReservedBytes   float64 `json:"reserved_bytes"`
	TotalBytes      float64 `json:"total_bytes"`
	CapacityBytes   float64 `json:"capacity_bytes"`
	Fits            bool    `json:"fits"`
}

type energyJSON struct {
	Joules         float64 `json:"joules"`
	JoulesPerToken float64 `json:"joules_per_token"`
	AverageWatts   float64 `json:"average_watts"`
}

type costJSON struct {
	USD                 float64 `json:"usd"`
	USDPerMillionTokens float64 `json:"usd_per_million_tokens"`
}

type opJSON struct {
	Name      string  `json:"name"`
	Step      string  `json:"step"`
	Device    string  `json:"device"`
	Repeat    int     `json:"repeat"`
	Seconds   float64 `json:"seconds"`
	FLOPs     float64 `json:"flops"`
	Bytes     float64 `json:"bytes"`
	Intensity float64 `json:"intensity"`
	Bound     string  `json:"bound"`
}

func newMemory(f roofline.Footprint) memoryJSON {
	return memoryJSON{
		WeightsBytes: f.WeightsBytes, KVBytes: f.KVBytes, ActivationBytes: f.ActivationBytes,
		ReservedBytes: f.ReservedBytes, TotalBytes: f.TotalBytes, CapacityBytes: f.CapacityBytes, Fits: f.Fits,
	}
}

func (e *estimate) addOps(step roofline.StepCost, name string) {
	for _, c := range step.Ops {
		e.Ops = append(e.Ops, opJSON{
			Name: c.Name, Step: name, Device: e.Device, Repeat: c.Repeat, Seconds: c.Seconds,
			FLOPs: c.FLOPs, Bytes: c.Bytes, Intensity: c.Intensity(), Bound: string(c.Bound),
		})
	}
}

func (e *estimate) setStep(step roofline.StepCost, name string, tokens float64) {
	e.Seconds, e.FLOPs, e.Bytes, e.Bound = step.Seconds, step.FLOPs, step.Bytes, string(step.Bound)
	e.tokens = tokens
	e.TokensPerSecond = tokens / step.Seconds
	e.addOps(step, name)
}

func (e *estimate) setRequest(r roofline.RequestCost) {
	e.Seconds, e.TTFTSeconds, e.TPOTSeconds = r.E2ESeconds, r.TTFTSeconds, r.TPOTSeconds
	e.FLOPs, e.Bytes = r.FLOPs, r.Bytes
	e.tokens = float64(r.Batch * r.Output)
	e.TokensPerSecond = e.tokens / r.E2ESeconds
	decodeSeconds := r.E2ESeconds - r.TTFTSeconds
	e.Bound = string(r.Prefill.Bound)
	if decodeSeconds > r.TTFTSeconds {
		e.Bound = string(r.FirstDecode.Bound)
	}
	e.addOps(r.Prefill, "prefill")
	if r.Output > 1 {
		e.addOps(r.FirstDecode, "decode")
	}
}

// setEnergy prices the work on e.GPUs devices, each doing its share for
// the whole time (idle power included while it waits).
func (e *estimate) setEnergy(dev *hw.Device, peakFLOPS float64) {
	gpus := float64(max(e.GPUs, 1))
	en := roofline.EnergyOf(dev, e.Seconds, e.FLOPs/gpus, e.Bytes/gpus, peakFLOPS)
	en.Joules *= gpus
	en.AverageWatts *= gpus
	en.USD *= gpus
	e.Energy = energyJSON{Joules: en.Joules, AverageWatts: en.AverageWatts}
	e.Cost = costJSON{USD: en.USD}
	if e.tokens > 0 {
		e.Energy.JoulesPerToken = en.Joules / e.tokens
		e.Cost.USDPerMillionTokens = en.USD / e.tokens * 1e6
	}
}

func writeEstimateTable(w io.Writer, e *estimate) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%.3g params)\n", e.Model, e.Params)
	fmt.Fprintf(tw, "hardware\t%s (device %s)\n", e.Hardware, e.Device)
	if e.GPUs > 1 {
		fmt.Fprintf(tw, "parallel\tTP %d × PP %d = %d GPUs on %s, collectives %s", e.TP, e.PP, e.GPUs, e.Link, seconds(e.CollectiveSeconds))
		if p := e.Pipeline; p != nil {
			fmt.Fprintf(tw, "; stages %s, hand-off %s, bubbles %.1f%%, %.1f tokens/s with %d micro-batches in flight",
				secondsList(p.StageSeconds), seconds(p.SendSeconds), 100*p.BubbleFraction, p.PipelinedTokensPerSecond, e.PP)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintf(tw, "work\t%s, batch %d, prompt %d, context %d, output %d, dtype %s/%s/kv %s\n",
		e.Phase, e.Batch, e.Prompt, e.Context, e.Output, e.Weights, e.Activations, e.KV)
	fmt.Fprintf(tw, "latency\t%s", seconds(e.Seconds))
	if e.Phase == "request" {
		fmt.Fprintf(tw, " (TTFT %s, TPOT %s)", seconds(e.TTFTSeconds), seconds(e.TPOTSeconds))
	}
	fmt.Fprintf(tw, "\nthroughput\t%.1f tokens/s\n", e.TokensPerSecond)
	fmt.Fprintf(tw, "work\t%.3g FLOPs, %.3g bytes, %s-bound\n", e.FLOPs, e.Bytes, e.Bound)
	m := e.Memory
	if e.GPUs > 1 {
		fmt.Fprint(tw, "memory per GPU")
	} else {
		fmt.Fprint(tw, "memory")
	}
	fmt.Fprintf(tw, "\t%s weights + %s KV + %s activations + %s reserved = %s of %s (fits: %v)\n",
		gib(m.WeightsBytes), gib(m.KVBytes), gib(m.ActivationBytes), gib(m.ReservedBytes), gib(m.TotalBytes), gib(m.CapacityBytes), m.Fits)
	fmt.Fprintf(tw, "energy\t%.3g J (%.3g J/token, %.0f W average)\n", e.Energy.Joules, e.Energy.JoulesPerToken, e.Energy.AverageWatts)
	fmt.Fprintf(tw, "cost\t$%.3g per million tokens\n\n", e.Cost.USDPerMillionTokens)
	fmt.Fprintln(tw, "step\top\trepeat\tseconds\tshare\tGFLOP\tMB\tFLOP/B\tbound")
	total := map[string]float64{}
	for _, o := range e.Ops {
		total[o.Step] += o.Seconds
	}
	for _, o := range e.Ops {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.1f%%\t%.3f\t%.3f\t%.1f\t%s\n", o.Step, o.Name, o.Repeat,
			seconds(o.Seconds), 100*o.Seconds/total[o.Step], o.FLOPs/1e9, o.Bytes/1e6, o.Intensity, o.Bound)
	}
	return tw.Flush()
}

func writeEstimateCSV(w io.Writer, e *estimate) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"step", "op", "device", "repeat", "seconds", "flops", "bytes", "intensity", "bound"})
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }
	for _, o := range e.Ops {
		cw.Write([]string{o.Step, o.Name, o.Device, strconv.Itoa(o.Repeat), g(o.Seconds), g(o.FLOPs), g(o.Bytes), g(o.Intensity), o.Bound})
	}
	cw.Write([]string{e.Phase, "total", e.Device, "1", g(e.Seconds), g(e.FLOPs), g(e.Bytes), g(roofline.Intensity(e.FLOPs, e.Bytes)), e.Bound})
	cw.Flush()
	return cw.Error()
}

// seconds formats a duration with a readable unit.
func seconds(s float64) string {
	switch {
	case s >= 1:
		return fmt.Sprintf("%.3f s", s)
	case s >= 1e-3:
		return fmt.Sprintf("%.3f ms", s*1e3)
	}
	return fmt.Sprintf("%.2f µs", s*1e6)
}

// secondsList formats durations joined by " + ".
func secondsList(s []float64) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " + "
		}
		out += seconds(v)
	}
	return out
}

func gib(b float64) string { return fmt.Sprintf("%.2f GiB", b/(1<<30)) }
