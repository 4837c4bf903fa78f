package offload

import (
	"fmt"
	"math"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// NeuPIMs runs batched decode on an accelerator (NPU or GPU) plus PIM
// (Heo et al., NeuPIMs, ASPLOS 2024; Park et al., AttAcc, ASPLOS 2024): the
// accelerator computes the QKV, output-projection and FFN GEMMs, the PIM
// banks compute attention's score and context GEMVs over each request's
// KV cache, the accelerator the softmax between them. Modes:
//
//	npu      accelerator only: attention too, reading the KV cache in
//	         normal mode (the NPU-only baseline; on a GPU system without
//	         PIM, the GPU-only one)
//	naive    PIM attention in "blocked" mode: while banks compute, normal
//	         accesses wait, so GEMMs and PIM attention never overlap
//	neupims  dual row buffers let normal accesses and PIM commands proceed
//	         together, and SubBatches sub-batches interleave: the
//	         accelerator runs one sub-batch's GEMMs while the banks attend
//	         another's
//	attacc   as neupims, for a GPU whose own HBM holds the weights and
//	         PIM stacks that hold only the KV cache (never blocked)
//
// The model is split over TP devices of the accelerator group (Megatron
// style): each rank holds 1/TP of every layer's heads and FFN columns and
// the KV of its heads in its share of the PIM devices, so a step lasts as
// long as one rank's shard. As in NeuPIMs' simulator, which runs one
// device's shard, the ranks' all-reduces are not priced.
type NeuPIMs struct {
	Mode       string
	SubBatches int
	TP         int // 0: every device of the accelerator group
}

func init() {
	register("neupims", "NPU/GPU GEMMs + PIM attention: mode=npu|naive|neupims|attacc, subbatches, tp (0: all accelerators)", func(p *params) (Scheme, error) {
		s := &NeuPIMs{Mode: p.choice("mode", "neupims", "npu", "naive", "neupims", "attacc"),
			SubBatches: p.int("subbatches", 2, 1, 64), TP: p.int("tp", 0, 0, 1024)}
		if s.Mode == "npu" || s.Mode == "naive" {
			s.SubBatches = 1
		}
		return s, nil
	})
}

func (s *NeuPIMs) String() string {
	str := fmt.Sprintf("neupims:mode=%s,subbatches=%d", s.Mode, s.SubBatches)
	if s.TP > 0 {
		str += fmt.Sprintf(",tp=%d", s.TP)
	}
	return str
}

// nodes finds the accelerator and the PIM group (nil for mode npu on a
// system without PIM) and the TP degree.
func (s *NeuPIMs) nodes(sys *hw.System) (acc, pim *hw.Group, tp int, err error) {
	pim, acc, err = pimNode(sys)
	if err != nil {
		if s.Mode != "npu" {
			return nil, nil, 0, err
		}
		acc, pim = sys.Primary(), nil
	}
	tp = s.TP
	if tp == 0 {
		tp = acc.Count
	}
	if tp > acc.Count {
		return nil, nil, 0, fmt.Errorf("neupims: tp %d exceeds the %d devices of %s", tp, acc.Count, acc.Name)
	}
	if pim == nil {
		return acc, nil, tp, nil
	}
	if pim.Count%tp != 0 {
		return nil, nil, 0, fmt.Errorf("neupims: %d %s devices do not split evenly over tp %d", pim.Count, pim.Name, tp)
	}
	if p := pim.Device.PIM; s.Mode != "npu" && (p.RowBytes <= 0 || p.CommandSeconds <= 0) {
		return nil, nil, 0, fmt.Errorf("neupims: %s needs pim.row_bytes and pim.command_seconds (bank rows and command slots)", pim.Device.Name)
	}
	return acc, pim, tp, nil
}

// Run executes the workload; prefill runs on the accelerator alone.
func (s *NeuPIMs) Run(t *Target, w Workload) (*Result, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	if w.Batch%s.SubBatches != 0 {
		return nil, fmt.Errorf("neupims: batch %d is not a multiple of %d sub-batches", w.Batch, s.SubBatches)
	}
	ag, pg, tp, err := s.nodes(t.System)
	if err != nil {
		return nil, err
	}
	plan, err := newAttnLayers("neupims", t.Model)
	if err != nil {
		return nil, err
	}
	st := &npStep{s: s, t: t, acc: ag, batch: w.Batch, plan: plan, tp: tp}
	if pg != nil {
		st.arr = newPIMArray(pg)
	}
	var g Graph
	st.accR = g.AddResource(Resource{Name: ag.Name, Kind: Serial, Group: ag.Name})
	st.pimR, st.vecR = st.accR, st.accR
	// Blocked mode: a PIM operation owns the memory, so nothing else of
	// the accelerator's (which reads that memory) can run: one resource.
	dual := s.Mode == "neupims" || s.Mode == "attacc"
	if dual {
		st.pimR = g.AddResource(Resource{Name: pg.Name + " banks", Kind: Serial, Group: pg.Name})
		// The softmax between the GEMVs runs on the vector units beside
		// the GEMM engines (NeuPIMs' NPU: 8 vector cores next to its
		// systolic arrays), so it need not wait for another sub-batch's GEMM.
		st.vecR = g.AddResource(Resource{Name: ag.Name + " vector units", Kind: Serial, Group: ag.Name})
	}
	pre, dec, u := runSteps(g.Resources, w, false, st.build)
	r := &Result{Scheme: s.String(), System: t.System.Name, Model: t.Model.Name, PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	acc := tier(ag)
	acc.CapacityBytes *= float64(tp) / float64(ag.Count) // the ranks' devices only
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
		acc.KVBytes += kv // the PIM devices are the accelerator's memory
	}
	r.Memory[0] = acc
	r.Memory[0].close()
	u.finish(r, t.System, w)
	r.Extra = map[string]float64{"tp": float64(tp), "dual_row_buffer": b2f(dual)}
	if st.arr != nil {
		r.Extra["pim_banks"] = st.arr.totalBanks()
	}
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
	arr        *pimArray // nil without PIM
	acc        *hw.Group
	batch      int
	tp         int // 0 counts as 1
	plan       attnLayers
	accR, pimR int
	vecR       int // the softmax's engine: accR unless set
	ops        stepOps
	buf        []models.Seq
}

func (st *npStep) ranks() float64 { return float64(max(st.tp, 1)) }

// price costs ops on one rank (each op's work split evenly over the
// ranks); the FLOPs and bytes returned are all ranks'.
func (st *npStep) price(ops []models.Op) cost {
	dev := st.acc.Device
	n := st.ranks()
	var c cost
	for i := range ops {
		op := ops[i]
		op.Scale(1 / n)
		oc := roofline.CostAt(&op, dev, dev.MainMemory().BytesPerSecond)
		c = c.plus(cost{oc.Seconds, oc.FLOPs * n, oc.Bytes * n})
	}
	return c
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
			c = c.plus(scaled(st.price(st.ops.ops[b]), k))
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
	embed, head := st.price(o[blockEmbed]), st.price(o[blockHead])
	pre := st.price(o[blockAttnPre])
	post := st.price(o[blockAttnPost]).plus(st.price(o[blockMLP]))
	npuAttn := scaled(st.price(o[blockAttnCore]), st.plan.Scale) // one attention layer
	var score, context pimOp
	var softmax cost
	if st.s.Mode != "npu" {
		score, context = st.pimAttention(sub, cached+1)
		flops := 5 * float64(sub) * float64(m.Heads) * float64(cached+1)
		softmax = cost{Seconds: flops / st.ranks() / (dev.DTypePeak("fp32") * 0.5), FLOPs: flops}
	}
	start := st.task(g, st.accR, cost{Seconds: dev.Overhead.StepSeconds})
	last := make([]int, S) // each sub-batch's latest task
	for b := range last {
		last[b] = st.task(g, st.accR, embed, start)
	}
	// Program order is issue order (a Serial resource runs the earliest
	// added ready task): sub-batch b's previous-layer projection and FFN
	// with its QKV (one task: back to back on the accelerator), its
	// attention, then the next sub-batch's. While the banks attend one
	// sub-batch, the accelerator finds the other's GEMMs ready — NeuPIMs'
	// sub-batch interleaving. With one sub-batch this is the layer order.
	postPre := post.plus(pre)
	for l := 0; l < m.Layers; l++ {
		for b := 0; b < S; b++ {
			gemms := pre
			if l > 0 {
				gemms = postPre
			}
			q := st.task(g, st.accR, gemms, last[b])
			switch {
			case !st.plan.At(l):
				last[b] = q // a recurrent layer: its mixer is in post, on the accelerator
			case st.s.Mode == "npu":
				last[b] = st.task(g, st.accR, npuAttn, q)
			default:
				sc := g.Add(Task{Resource: st.pimR, Seconds: score.Core, Bytes: score.Bytes, FLOPs: score.FLOPs, Tag: TagKV}, q)
				sm := st.task(g, st.vecR, softmax, sc)
				last[b] = g.Add(Task{Resource: st.pimR, Seconds: context.Core, Bytes: context.Bytes, FLOPs: context.FLOPs, Tag: TagKV}, sm)
			}
		}
	}
	for b := 0; b < S; b++ {
		st.task(g, st.accR, head, st.task(g, st.accR, post, last[b]))
	}
}

// NewtonSim's PIM command timing (casys-kaist/NeuPIMs, extern/NewtonSim),
// in command slots of the geometry's command_seconds (one all-bank COMP
// every max(BL/2, tCCD_S) tCK).
const (
	// A COMPS_READRES of c COMPs holds the channel max(c, 6) + 1 slots: the
	// adder tree's filling time, then the READRES (channel_state.cc,
	// UpdateChannelTiming).
	pimMinComps = 6
	// Writing a row-wide vector (the query, or a head's probabilities) into
	// the banks' global buffer: gwrite_delay = (tCCD_S + tCCD_L) × 32 =
	// 96 tCK (configuration.cc) = 48 slots of 2 tCK.
	pimGWriteSlots = 48
)

// pimWork is one request's score or context GEMV over one layer on its
// channel: rows opened (in every bank of the channel at once), command
// slots of COMPS_READRES, and GWRITEs of the input vector.
type pimWork struct{ Rows, Slots, GWrites float64 }

// seconds is the channel time of w: each row costs the geometry's row
// activation (for NeuPIMs' HBM the G_ACT sequence of a PIM row), each slot
// a command, each GWRITE pimGWriteSlots commands.
func (w pimWork) seconds(p *hw.PIMGeometry) float64 {
	return w.Rows*p.RowActivateSeconds + (w.Slots+pimGWriteSlots*w.GWrites)*p.CommandSeconds
}

// compsReadres is the slots of one COMPS_READRES of c COMPs.
func compsReadres(c int) float64 { return float64(max(c, pimMinComps) + 1) }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// requestAttention lays out one request's K and V of ctx tokens — kvHeads
// heads of headDim elements of elemBytes, group query heads per KV head —
// in the banks of one channel as NeuPIMs' simulator does
// (NeuPIMSLogitSoftmax.cc, NeuPIMSAttend.cc) and counts its work:
//
//	K  one token per bank, a bank row holding rowElems/headDim heads of it;
//	   each head of a row is one COMPS_READRES of headDim/perComp COMPs
//	   per query head; one GWRITE of the query per row-wide chunk of heads.
//	V  one element of the head dimension per bank (headDim/banks rows per
//	   head), a bank row holding rowElems tokens; one COMPS_READRES of
//	   (tokens in the row)/perComp COMPs per row and query head; one
//	   GWRITE of a head's probabilities per row-wide chunk of tokens.
//
// perComp is the elements a bank's MAC unit consumes per command slot.
func requestAttention(p *hw.PIMGeometry, elemBytes float64, kvHeads, group, headDim, ctx int) (score, context pimWork) {
	perComp := max(1, int(math.Round(p.BankBytesPerSecond*p.CommandSeconds/elemBytes)))
	rowElems := max(1, int(p.RowBytes/elemBytes))
	banks := p.BanksPerChannel
	headsPerRow := max(1, rowElems/headDim)
	chunks := ceilDiv(kvHeads, headsPerRow) * ceilDiv(headDim, rowElems)
	tiles := ceilDiv(ctx, banks)
	score = pimWork{
		Rows:    float64(tiles * chunks),
		Slots:   float64(tiles*kvHeads*group) * compsReadres(ceilDiv(headDim, perComp)),
		GWrites: float64(chunks * group),
	}
	dimRows := ceilDiv(headDim, banks)
	ctxChunks := ceilDiv(ctx, rowElems)
	perChain := float64(ctx/rowElems) * compsReadres(ceilDiv(rowElems, perComp))
	if rest := ctx % rowElems; rest > 0 {
		perChain += compsReadres(ceilDiv(rest, perComp))
	}
	context = pimWork{
		Rows:    float64(kvHeads * dimRows * ctxChunks),
		Slots:   float64(kvHeads*dimRows*group) * perChain,
		GWrites: float64(kvHeads * group * ctxChunks),
	}
	return score, context
}

// pimAttention prices the score and context GEMVs of one layer for n
// requests of ctx tokens: each rank's requests are spread over its PIM
// channels, a channel works through its requests one after another, and
// the busiest channel sets the time. Bytes and FLOPs are all ranks'.
func (st *npStep) pimAttention(n, ctx int) (score, context pimOp) {
	m := st.t.Model
	tp := max(st.tp, 1)
	kvHeads := max(1, ceilDiv(m.KVHeads, tp))
	group := ceilDiv(ceilDiv(m.Heads, tp), kvHeads)
	kvb := st.t.Prec.KV.Bytes()
	p := st.arr.p
	sw, cw := requestAttention(p, kvb, kvHeads, group, m.HeadDim, ctx)
	perChannel := float64(ceilDiv(n, max(1, st.arr.channels/tp)))
	bytes := float64(n*ctx*m.KVDim()) * kvb
	flops := 2 * float64(n*ctx*m.QDim())
	score = pimOp{Core: perChannel * sw.seconds(p), Bytes: bytes, FLOPs: flops, RowActivations: perChannel * sw.Rows}
	context = pimOp{Core: perChannel * cw.seconds(p), Bytes: bytes, FLOPs: flops, RowActivations: perChannel * cw.Rows}
	return score, context
}
