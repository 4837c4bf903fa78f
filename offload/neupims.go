package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// NeuPIMs runs batched decode on an accelerator (NPU or GPU) plus PIM
// (Heo et al., NeuPIMs, ASPLOS 2024; Park et al., AttAcc, ASPLOS 2024): the
// accelerator computes the QKV, output-projection and FFN GEMMs, the PIM
// banks compute attention's score and context GEMVs over each request's
// KV cache, the accelerator the softmax between them. Modes:
//
//	npu      accelerator only: attention too, reading the KV cache in
//	         normal mode (the NPU-only baseline)
//	naive    PIM attention in "blocked" mode: while banks compute, normal
//	         accesses wait, so GEMMs and PIM attention never overlap
//	neupims  dual row buffers (the geometry's dual_row_buffer, or forced)
//	         let normal accesses and PIM commands proceed together, and
//	         SubBatches sub-batches interleave: the accelerator runs one
//	         sub-batch's GEMMs while the banks attend another's
//	attacc   as neupims, for a GPU whose own HBM holds the weights and
//	         PIM stacks that hold only the KV cache (never blocked)
type NeuPIMs struct {
	Mode       string
	SubBatches int
}

func init() {
	register("neupims", "NPU/GPU GEMMs + PIM attention: mode=npu|naive|neupims|attacc, subbatches", func(p *params) (Scheme, error) {
		s := &NeuPIMs{Mode: p.choice("mode", "neupims", "npu", "naive", "neupims", "attacc"), SubBatches: p.int("subbatches", 2, 1, 64)}
		if s.Mode == "npu" || s.Mode == "naive" {
			s.SubBatches = 1
		}
		return s, nil
	})
}

func (s *NeuPIMs) String() string {
	return fmt.Sprintf("neupims:mode=%s,subbatches=%d", s.Mode, s.SubBatches)
}

// Run executes the workload; prefill runs on the accelerator alone.
func (s *NeuPIMs) Run(t *Target, w Workload) (*Result, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	if w.Batch%s.SubBatches != 0 {
		return nil, fmt.Errorf("neupims: batch %d is not a multiple of %d sub-batches", w.Batch, s.SubBatches)
	}
	pg, ag, err := pimNode(t.System)
	if err != nil {
		return nil, err
	}
	plan, err := newAttnLayers("neupims", t.Model)
	if err != nil {
		return nil, err
	}
	st := &npStep{s: s, t: t, arr: newPIMArray(pg), acc: ag, batch: w.Batch, plan: plan}
	var g Graph
	st.accR = g.AddResource(Resource{Name: ag.Name, Kind: Serial, Group: ag.Name})
	st.pimR = st.accR
	// Blocked mode: a PIM operation owns the memory, so nothing else of
	// the accelerator's (which reads that memory) can run: one resource.
	if s.Mode == "neupims" || s.Mode == "attacc" {
		st.pimR = g.AddResource(Resource{Name: pg.Name + " banks", Kind: Serial, Group: pg.Name})
	}
	pre, dec, u := runSteps(g.Resources, w, false, st.build)
	r := &Result{Scheme: s.String(), System: t.System.Name, Model: t.Model.Name, PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	acc := tier(ag)
	acc.WeightsBytes = t.sizes().Total
	// The PIM banks hold the attention layers' K and V; a hybrid's
	// recurrent state stays with its mixer on the accelerator.
	kv := float64(w.Batch) * t.attnKVBytes(w.Prompt+w.Output)
	acc.KVBytes = float64(w.Batch) * t.stateBytes()
	var pgGraph models.Graph
	t.build(&pgGraph, seqs(nil, 1, 0, w.Prompt))
	acc.ActivationBytes = peakActivations(t, &pgGraph)
	r.Memory = []TierUse{acc}
	if s.Mode == "attacc" {
		p := tier(pg)
		p.KVBytes = kv
		p.close()
		r.Memory = append(r.Memory, p)
	} else {
		acc.KVBytes += kv // the PIM stacks are the accelerator's memory
	}
	r.Memory[0] = acc
	r.Memory[0].close()
	u.finish(r, t.System, w)
	r.Extra = map[string]float64{"pim_banks": st.arr.totalBanks(), "dual_row_buffer": b2f(s.Mode == "neupims" || s.Mode == "attacc")}
	return r, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

type npStep struct {
	s          *NeuPIMs
	t          *Target
	arr        *pimArray
	acc        *hw.Group
	batch      int
	plan       attnLayers
	accR, pimR int
	ops        stepOps
	buf        []models.Seq
}

func (st *npStep) task(g *Graph, r int, c cost, after ...int) int {
	return g.Add(Task{Resource: r, Seconds: c.Seconds, FLOPs: c.FLOPs, Bytes: c.Bytes}, after...)
}

func (st *npStep) build(g *Graph, cached, newTokens int) {
	dev := st.acc.Device
	m := st.t.Model
	if cached == 0 || newTokens > 1 {
		// Prefill: sequences one at a time on the accelerator.
		st.buf = seqs(st.buf, 1, cached, newTokens)
		st.t.split(st.buf, &st.ops)
		var c cost
		for b := range st.ops.ops {
			k := 1.0
			if block(b) != blockEmbed && block(b) != blockHead {
				k = float64(m.Layers)
			}
			bc := priceOn(st.ops.ops[b], dev)
			c = c.plus(cost{bc.Seconds * k, bc.FLOPs * k, bc.Bytes * k})
		}
		last := st.task(g, st.accR, cost{Seconds: dev.Overhead.StepSeconds})
		for i := 0; i < st.batch; i++ {
			last = st.task(g, st.accR, c, last)
		}
		return
	}
	S := st.s.SubBatches
	sub := st.batch / S
	st.buf = seqs(st.buf, sub, cached, 1)
	st.t.split(st.buf, &st.ops)
	o := &st.ops.ops
	embed, head := priceOn(o[blockEmbed], dev), priceOn(o[blockHead], dev)
	pre := priceOn(o[blockAttnPre], dev)
	post := priceOn(o[blockAttnPost], dev).plus(priceOn(o[blockMLP], dev))
	npuAttn := scaled(priceOn(o[blockAttnCore], dev), st.plan.Scale) // one attention layer
	// PIM attention of one sub-batch: K and V of every request in banks.
	a := st.t.Prec.Activations.Bytes()
	kvb := st.t.Prec.KV.Bytes()
	ctx := float64(cached + 1)
	n := float64(sub)
	score := st.arr.attention(n*ctx*float64(m.KVDim()), kvb, n*float64(m.QDim())*a, n*float64(m.Heads)*ctx*a)
	context := st.arr.attention(n*ctx*float64(m.KVDim()), kvb, n*float64(m.Heads)*ctx*a, n*float64(m.QDim())*a)
	softmax := cost{Seconds: 5 * n * float64(m.Heads) * ctx / (dev.DTypePeak("fp32") * 0.5), FLOPs: 5 * n * float64(m.Heads) * ctx}
	start := st.task(g, st.accR, cost{Seconds: dev.Overhead.StepSeconds})
	last := make([]int, S)
	for b := range last {
		last[b] = st.task(g, st.accR, embed, start)
	}
	for l := 0; l < m.Layers; l++ {
		q := make([]int, S)
		for b := 0; b < S; b++ {
			q[b] = st.task(g, st.accR, pre, last[b])
		}
		att := make([]int, S)
		for b := 0; b < S; b++ {
			if !st.plan.At(l) {
				att[b] = q[b] // a recurrent layer: its mixer is in post, on the accelerator
				continue
			}
			if st.s.Mode == "npu" {
				att[b] = st.task(g, st.accR, npuAttn, q[b])
				continue
			}
			sc := g.Add(Task{Resource: st.pimR, Seconds: score.Core + score.IO, Bytes: score.Bytes, FLOPs: score.FLOPs, Tag: TagKV}, q[b])
			sm := st.task(g, st.accR, softmax, sc)
			att[b] = g.Add(Task{Resource: st.pimR, Seconds: context.Core + context.IO, Bytes: context.Bytes, FLOPs: context.FLOPs, Tag: TagKV}, sm)
		}
		for b := 0; b < S; b++ {
			last[b] = st.task(g, st.accR, post, att[b])
		}
	}
	for b := 0; b < S; b++ {
		st.task(g, st.accR, head, last[b])
	}
}
