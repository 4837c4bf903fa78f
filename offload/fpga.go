package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// FlightLLM is batch-1 decode on an FPGA overlay (Zeng et al., FlightLLM,
// FPGA 2024): weights compressed to Bits per weight with a fraction
// Sparsity of them pruned in an N:M pattern (the kept ones stored with
// IndexBits of position each) streamed from the device's HBM channels;
// activations and the KV cache of a layer stay on chip between ops
// ("always-on-chip decode"), so decode moves only weights and KV. The
// sparse DSP chain does the kept multiply-adds at the device's DSP rate
// times its N:M efficiency (fpga.sparse_efficiency, or Chain when the
// description has none). Each layer costs the longer of streaming and
// computing plus one instruction per op.
type FlightLLM struct {
	Bits, Sparsity, IndexBits float64
	// HBM is the achieved fraction of the HBM channels' rate for weight
	// streams laid out channel by channel.
	HBM   float64
	Chain float64
}

func init() {
	register("flightllm", "FlightLLM FPGA decode: bits (weight bits), sparsity (N:M pruned fraction), index (bits per kept weight), hbm (channel efficiency), chain (DSP efficiency on sparse work)", func(p *params) (Scheme, error) {
		return &FlightLLM{Bits: p.float("bits", 4, 1, 32), Sparsity: p.float("sparsity", 0.5, 0, 0.99),
			IndexBits: p.float("index", 1, 0, 8), HBM: p.float("hbm", 0.9, 0.01, 1), Chain: p.float("chain", 0.9, 0.01, 1)}, nil
	})
}

func (f *FlightLLM) String() string {
	return fmt.Sprintf("flightllm:bits=%s,sparsity=%s,index=%s,hbm=%s,chain=%s", num(f.Bits), num(f.Sparsity), num(f.IndexBits), num(f.HBM), num(f.Chain))
}

// weightBytes is the stored size of n weights.
func (f *FlightLLM) weightBytes(n float64) float64 {
	kept := n * (1 - f.Sparsity)
	index := 0.0
	if f.Sparsity > 0 {
		index = kept * f.IndexBits
	}
	return (kept*f.Bits + index) / 8
}

// Run executes the workload on the system's FPGA group (batch 1).
func (f *FlightLLM) Run(t *Target, w Workload) (*Result, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	var fg *hw.Group
	for i := range t.System.Groups {
		if g := &t.System.Groups[i]; g.Device.Kind == hw.FPGA && g.Device.FPGA != nil {
			fg = g
			break
		}
	}
	if fg == nil {
		return nil, fmt.Errorf("flightllm: system %s has no fpga group", t.System.Name)
	}
	d := fg.Device
	chain := f.Chain
	if d.FPGA.SparseEfficiency > 0 {
		chain = d.FPGA.SparseEfficiency
	}
	dsp := float64(d.FPGA.DSPs) * d.FPGA.OpsPerDSPPerCycle * d.FPGA.ClockHz
	hbm := d.MainMemory().BytesPerSecond * f.HBM
	var g Graph
	res := g.AddResource(Resource{Name: fg.Name, Kind: Serial, Group: fg.Name})
	var ops stepOps
	var buf []models.Seq
	m := t.Model
	// opCost prices one op: streamed weights (compressed) and KV, kept
	// multiply-adds on the DSP chain, an instruction.
	opCost := func(op models.Op, layers float64) cost {
		params := op.WeightBytes / models.WeightBytesPerParam(t.Prec.Weights)
		bytes := f.weightBytes(params) + op.KVReadBytes + op.KVWriteBytes
		flops := op.FLOPs
		if op.Kind.Base() == models.KindGEMM {
			flops *= 1 - f.Sparsity
		}
		sec := max(bytes/hbm, flops/(dsp*chain)) + d.Overhead.KernelSeconds
		return cost{Seconds: sec * layers, FLOPs: flops * layers, Bytes: bytes * layers}
	}
	build := func(g *Graph, cached, newTokens int) {
		buf = seqs(buf, w.Batch, cached, newTokens)
		t.split(buf, &ops)
		last := g.Add(Task{Resource: res, Seconds: d.Overhead.StepSeconds})
		for b := range ops.ops {
			layers := float64(m.Layers)
			if block(b) == blockEmbed || block(b) == blockHead {
				layers = 1
			}
			for _, op := range ops.ops[b] {
				c := opCost(op, layers)
				last = g.Add(Task{Resource: res, Seconds: c.Seconds, FLOPs: c.FLOPs, Bytes: c.Bytes}, last)
			}
		}
	}
	pre, dec, u := runSteps(g.Resources, w, false, build)
	r := &Result{Scheme: f.String(), System: t.System.Name, Model: m.Name, PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	mem := tier(fg)
	mem.WeightsBytes = f.weightBytes(m.Params())
	// The cache the target's KV scheme stores: K/V of the attention
	// layers only (windows honoured) plus any recurrent state.
	mem.KVBytes = float64(w.Batch) * t.kvBytes(w.Prompt+w.Output)
	mem.close()
	r.Memory = []TierUse{mem}
	u.finish(r, t.System, w)
	r.Extra = map[string]float64{"weight_bytes": mem.WeightsBytes, "dsp_flops_per_second": dsp * chain, "hbm_bytes_per_second": hbm}
	return r, nil
}
