package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// PowerInfer2 is PowerInfer-2 (Xue et al., 2024) on a phone: attention
// and embeddings resident in DRAM, FFN neurons in flash with a DRAM cache
// of hot neurons. Per token and layer a predictor picks the active
// neurons (Activity of the routed experts' neurons); a fraction Hit of
// them is cached, the rest are read from flash as neuron bundles (gate,
// up and down rows together) while the cached ones compute — the
// neuron-cluster pipeline — and are computed as they arrive.
type PowerInfer2 struct {
	Activity float64
	Hit      float64
	// Chunks pipelines a layer's reads against its computation.
	Chunks int
}

func init() {
	register("powerinfer2", "PowerInfer-2 phone decode: activity (active fraction of routed FFN neurons), hit (hot-neuron DRAM cache hit rate), chunks", func(p *params) (Scheme, error) {
		return &PowerInfer2{Activity: p.float("activity", 0.1, 0, 1), Hit: p.float("hit", 0.95, 0, 1), Chunks: p.int("chunks", 8, 1, 1024)}, nil
	})
}

func (s *PowerInfer2) String() string {
	return fmt.Sprintf("powerinfer2:activity=%s,hit=%s", num(s.Activity), num(s.Hit))
}

// Run executes the workload (batch 1 decode; prefill streams the FFNs).
func (s *PowerInfer2) Run(t *Target, w Workload) (*Result, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	n, err := locateWith(t.System, false, true)
	if err != nil {
		return nil, err
	}
	m := t.Model
	sz := t.sizes()
	dev := n.gpu.Device
	wb := models.WeightBytesPerParam(t.Prec.Weights)
	mats := 2.0
	if m.Gated() {
		mats = 3
	}
	inter := float64(m.Intermediate)
	if m.MoE != nil {
		inter = float64(m.MoE.ExpertIntermediate)
	}
	bundle := mats * float64(m.Hidden) * wb // one neuron's rows
	var g Graph
	r := n.resources(&g)
	g.Resources[r.diskR].SizeCurve = hw.Curve{}
	g.Resources[r.diskR].LatencySeconds = 0
	curve := hw.Curve{}
	if n.disk.Device.Flash != nil {
		curve = n.disk.Device.Flash.ReadCurve
	}
	var ops stepOps
	var buf []models.Seq
	scaled := []models.Op{}
	build := func(g *Graph, cached, newTokens int) {
		buf = seqs(buf, w.Batch, cached, newTokens)
		t.split(buf, &ops)
		o := &ops.ops
		attn := priceOn(o[blockAttnPre], dev).plus(priceOn(o[blockAttnCore], dev)).plus(priceOn(o[blockAttnPost], dev))
		decode := newTokens == 1 && cached > 0
		activity := s.Activity
		if !decode {
			activity = 1
		}
		// The FFN over the active neurons of the routed experts.
		scaled = append(scaled[:0], o[blockMLP]...)
		for i := range scaled {
			op := &scaled[i]
			switch op.Name {
			case models.OpUp, models.OpGateUp, models.OpDown, models.OpExperts, models.OpAct:
				op.FLOPs *= activity
				op.WeightBytes *= activity
			}
		}
		ffn := priceOn(scaled, dev)
		routed := 1.0
		if m.MoE != nil {
			routed = models.UniqueExperts(m.MoE.Experts, m.MoE.TopK, w.Batch*newTokens)
		}
		neurons := routed * inter * activity
		miss := neurons * (1 - s.Hit) * bundle
		if !decode {
			miss = neurons * bundle // the prompt touches nearly all: stream them
		}
		stretch := 1 / curve.At(bundle)
		hot := ffn
		hot.Seconds *= s.Hit
		coldPiece := cost{Seconds: ffn.Seconds * (1 - s.Hit) / float64(s.Chunks)}
		last := g.Add(Task{Resource: r.gpu, Seconds: dev.Overhead.StepSeconds + priceOn(o[blockEmbed], dev).Seconds})
		for l := 0; l < m.Layers; l++ {
			a := g.Add(Task{Resource: r.gpu, Seconds: attn.Seconds, FLOPs: attn.FLOPs, Bytes: attn.Bytes}, last)
			h := g.Add(Task{Resource: r.gpu, Seconds: hot.Seconds, FLOPs: hot.FLOPs * s.Hit}, a)
			end := []int{h}
			prev := a
			for c := 0; c < s.Chunks; c++ {
				rd := g.Add(Task{Resource: r.diskR, Bytes: miss / float64(s.Chunks), Stretch: stretch, Tag: TagWeights}, prev)
				prev = rd
				end = append(end, g.Add(Task{Resource: r.gpu, Seconds: coldPiece.Seconds}, rd))
			}
			last = g.Barrier(end...)
		}
		g.Add(Task{Resource: r.gpu, Seconds: priceOn(o[blockHead], dev).Seconds}, last)
	}
	pre, dec, u := runSteps(g.Resources, w, false, build)
	res := &Result{Scheme: s.String(), System: t.System.Name, Model: m.Name, PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	ffnAll := float64(m.Layers) * sz.MLPWeights
	dram := tier(n.gpu)
	dram.WeightsBytes = sz.Total - ffnAll
	dram.KVBytes = float64(w.Batch) * t.kvBytes(w.Prompt+w.Output)
	dram.close()
	flash := tier(n.disk)
	flash.WeightsBytes = ffnAll
	flash.close()
	res.Memory = []TierUse{dram, flash}
	u.finish(res, t.System, w)
	res.Extra = map[string]float64{"bundle_bytes": bundle, "flash_read_bytes_per_second": g.Resources[r.diskR].BytesPerSecond * curve.At(bundle)}
	return res, nil
}
