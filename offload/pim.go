package offload

import (
	"fmt"
	"math"

	"github.com/llmsim/llmsim/hw"
)

// pimArray is a group of PIM devices used as one: every channel and bank of
// every device, matrices spread evenly over all banks.
type pimArray struct {
	g               *hw.Group
	p               *hw.PIMGeometry
	channels, banks int // total channels; banks per channel
}

func newPIMArray(g *hw.Group) *pimArray {
	return &pimArray{g: g, p: g.Device.PIM, channels: g.Count * g.Device.PIM.Channels, banks: g.Device.PIM.BanksPerChannel}
}

func (a *pimArray) totalBanks() float64 { return float64(a.channels * a.banks) }

// pimOp is the price of one op on the PIM array.
type pimOp struct {
	// Core is the in-bank time: row activations plus streaming the bank's
	// share through its MAC unit, or the channel's command bus if that is
	// longer (all-bank commands: one per column burst, one per row opened).
	Core float64
	// IO is the channel data-bus time: the input vector broadcast to every
	// channel and each channel's share of the output read back.
	IO                  float64
	Bytes, FLOPs        float64
	RowActivations      float64 // per bank
	BankSeconds, CmdSec float64
}

// gemv prices a matrix-vector product whose matrix of elems elements of
// elemBytes each lives spread over all banks; inBytes is broadcast to each
// channel, outBytes is the whole output (each channel returns its share).
func (a *pimArray) gemv(elems, elemBytes, inBytes, outBytes float64) pimOp {
	p := a.p
	perBank := elems * elemBytes / a.totalBanks()
	rows := math.Ceil(perBank / math.Max(p.RowBytes, 1))
	stream := perBank / p.BankBytesPerSecond
	mac := 2 * elems / a.totalBanks() / p.BankFLOPSPerSecond
	op := pimOp{Bytes: elems * elemBytes, FLOPs: 2 * elems, RowActivations: rows}
	op.BankSeconds = rows*p.RowActivateSeconds + math.Max(stream, mac)
	if p.CommandSeconds > 0 {
		burst := p.BankBytesPerSecond * p.CommandSeconds // bytes a bank consumes per command
		commands := rows + perBank/math.Max(burst, 1)
		op.CmdSec = commands * p.CommandSeconds
	}
	op.Core = math.Max(op.BankSeconds, op.CmdSec)
	if bw := p.ChannelBytesPerSecond; bw > 0 {
		op.IO = (inBytes + outBytes/float64(a.channels)) / bw
	}
	return op
}

// capacity is the array's memory.
func (a *pimArray) capacity() float64 { return capacity(a.g) }

// PIMGPT runs every GEMV of a decode step — projections, the FFN, and
// attention's score and context products over the KV cache — in the DRAM
// banks of the system's PIM group, and the rest (norms, softmax,
// activation, residual) on the controller ASIC between them (PIM-GPT, Wu,
// Wang and Lu, 2023). Batch 1, as the paper.
type PIMGPT struct{}

func init() {
	register("pimgpt", "PIM-GPT: all decode GEMVs in DRAM-PIM banks, the rest on the controller ASIC (batch 1)", func(p *params) (Scheme, error) {
		return &PIMGPT{}, nil
	})
}

func (PIMGPT) String() string { return "pimgpt" }

// pimNode finds a PIM group and the engine next to it (an ASIC, NPU or
// GPU: the system's accelerator when it is not the PIM group, else the
// first non-PIM group).
func pimNode(sys *hw.System) (pim *hw.Group, host *hw.Group, err error) {
	for i := range sys.Groups {
		g := &sys.Groups[i]
		if g.Device.Kind == hw.PIM && g.Device.PIM != nil {
			if pim == nil {
				pim = g
			}
		} else if host == nil || g.Name == sys.Accelerator {
			host = g
		}
	}
	if pim == nil || host == nil {
		return nil, nil, fmt.Errorf("offload: system %s needs a pim group and a compute group", sys.Name)
	}
	return pim, host, nil
}

// Run executes the workload (prefill runs through the same GEMVs, one
// token after another, as PIM-GPT does).
func (s PIMGPT) Run(t *Target, w Workload) (*Result, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	if w.Batch != 1 {
		return nil, fmt.Errorf("pimgpt: batch %d: PIM-GPT generates one sequence at a time", w.Batch)
	}
	// The schedule below is a GPT layer: attention GEMVs over the KV cache
	// and a dense FFN in every layer.
	if err := refuseRecurrent("pimgpt", "PIM-GPT maps a transformer's attention and FFN GEMVs in every layer", t.Model); err != nil {
		return nil, err
	}
	if t.Model.MoE != nil {
		return nil, fmt.Errorf("pimgpt: model %s is a mixture of experts: PIM-GPT maps a dense FFN in every layer", t.Model.Name)
	}
	pg, ag, err := pimNode(t.System)
	if err != nil {
		return nil, err
	}
	arr := newPIMArray(pg)
	var g Graph
	pimR := g.AddResource(Resource{Name: pg.Name + " banks", Kind: Serial, Group: pg.Name})
	ioR := g.AddResource(Resource{Name: pg.Name + " channel bus", Kind: Serial, Group: pg.Name})
	asicR := g.AddResource(Resource{Name: ag.Name, Kind: Serial, Group: ag.Name})
	m := t.Model
	eb := t.Prec.Weights.Bytes()
	a := t.Prec.Activations.Bytes()
	h, q, kv := float64(m.Hidden), float64(m.QDim()), float64(m.KVDim())
	inter := float64(m.Intermediate)
	mats := 2.0
	if m.Gated() {
		mats = 3
	}
	asic := ag.Device
	vector := func(elems float64) cost {
		// Element-wise work on the ASIC: ~8 operations per element
		// (norms, exp, GELU), data from and to its SRAM.
		peak := asic.DTypePeak(t.Prec.Activations)
		sec := 8*elems/peak + 2*elems*a/asic.MainMemory().BytesPerSecond + asic.Overhead.KernelSeconds
		return cost{Seconds: sec, FLOPs: 8 * elems, Bytes: 2 * elems * a}
	}
	token := func(g *Graph, ctx int) {
		last := -1
		onPIM := func(op pimOp) {
			io := g.Add(Task{Resource: ioR, Seconds: op.IO, Tag: TagActivations}, last)
			last = g.Add(Task{Resource: pimR, Seconds: op.Core, Bytes: op.Bytes, FLOPs: op.FLOPs}, io)
		}
		onASIC := func(c cost) {
			last = g.Add(Task{Resource: asicR, Seconds: c.Seconds, FLOPs: c.FLOPs, Bytes: c.Bytes}, last)
		}
		n := float64(ctx)
		for l := 0; l < m.Layers; l++ {
			onASIC(vector(h)) // attention norm
			onPIM(arr.gemv(h*(q+2*kv), eb, h*a, (q+2*kv)*a))
			// The new token's k and v are written into the banks.
			last = g.Add(Task{Resource: ioR, Seconds: 2 * kv * t.Prec.KV.Bytes() / (arr.p.ChannelBytesPerSecond * float64(arr.channels)), Tag: TagKV}, last)
			onPIM(arr.gemv(n*kv, t.Prec.KV.Bytes(), q*a, float64(m.Heads)*n*a)) // scores q·K
			onASIC(vector(float64(m.Heads) * n))                                // softmax
			onPIM(arr.gemv(n*kv, t.Prec.KV.Bytes(), float64(m.Heads)*n*a, q*a)) // context p·V
			onPIM(arr.gemv(q*h, eb, q*a, h*a))                                  // output projection
			onASIC(vector(2 * h))                                               // residual + MLP norm
			onPIM(arr.gemv((mats-1)*h*inter, eb, h*a, (mats-1)*inter*a))        // up (and gate)
			onASIC(vector(inter))                                               // activation
			onPIM(arr.gemv(inter*h, eb, inter*a, h*a))                          // down
			onASIC(vector(h))                                                   // residual
		}
		onASIC(vector(h))
		onPIM(arr.gemv(float64(m.Vocab)*float64(m.EmbedDim), eb, h*a, float64(m.Vocab)*a)) // logits
		onASIC(vector(float64(m.Vocab)))
	}
	build := func(g *Graph, cached, newTokens int) {
		for i := 0; i < newTokens; i++ {
			token(g, cached+i+1)
		}
	}
	pre, dec, u := runSteps(g.Resources, w, false, build)
	r := &Result{Scheme: s.String(), System: t.System.Name, Model: m.Name, PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	mem := tier(pg)
	mem.WeightsBytes = m.WeightBytes(t.Prec.Weights)
	mem.KVBytes = t.kvBytes(w.Prompt + w.Output)
	mem.close()
	r.Memory = []TierUse{mem}
	u.finish(r, t.System, w)
	r.Extra = map[string]float64{"banks": arr.totalBanks(), "channels": float64(arr.channels)}
	return r, nil
}
