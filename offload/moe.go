package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/models"
)

// ExpertFlow offloads MoE experts to host memory and keeps Cache experts
// per layer in a GPU expert cache (He et al., ExpertFlow, 2024): all
// non-expert weights stay on the GPU; each decode step a layer needs the
// experts its tokens route to. A needed expert is in the cache with
// probability Hit (LRU over Cache slots with temporal locality Locality);
// a missing one whose routing was predicted (probability Predict) is
// prefetched over the host link while the previous layer runs, the others
// are loaded on demand after the layer's router, stalling it.
type ExpertFlow struct {
	// Cache is the GPU expert cache in experts per MoE layer (fractional:
	// a cache shared by all layers).
	Cache    float64
	Predict  float64
	Locality float64
}

func init() {
	register("expertflow", "MoE expert offloading with a GPU expert cache: cache (experts per layer on GPU), predict (routing-prediction accuracy), locality (chance a token reuses the previous token's expert)", func(p *params) (Scheme, error) {
		return &ExpertFlow{Cache: p.float("cache", 2, 0, 1<<10), Predict: p.float("predict", 0.9, 0, 1), Locality: p.float("locality", 0.4, 0, 1)}, nil
	})
}

func (e *ExpertFlow) String() string {
	return fmt.Sprintf("expertflow:cache=%s,predict=%s,locality=%s", num(e.Cache), num(e.Predict), num(e.Locality))
}

// hitRate: with k experts needed of E, a cache of C ≥ k slots holds the
// previous token's k (reused with probability Locality) and C - k others
// of the E - k remaining; with C < k only C of the k.
func (e *ExpertFlow) hitRate(experts, k int) float64 {
	C, E, K := e.Cache, float64(experts), float64(k)
	switch {
	case C <= 0:
		return 0
	case C >= E:
		return 1
	case C < K:
		return e.Locality * C / K
	}
	return e.Locality + (1-e.Locality)*(C-K)/(E-K)
}

// Run executes the workload.
func (e *ExpertFlow) Run(t *Target, w Workload) (*Result, error) {
	m := t.Model
	if m.MoE == nil {
		return nil, fmt.Errorf("expertflow: %s is not a mixture-of-experts model", m.Name)
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	n, err := locateWith(t.System, true, false)
	if err != nil {
		return nil, err
	}
	sz := t.sizes()
	E, k := m.MoE.Experts, m.MoE.TopK
	mats := 2.0
	if m.Gated() {
		mats = 3
	}
	expertBytes := mats * float64(m.Hidden) * float64(m.MoE.ExpertIntermediate) * models.WeightBytesPerParam(t.Prec.Weights)
	hit := e.hitRate(E, k)
	var g Graph
	r := n.resources(&g)
	var ops stepOps
	var buf []models.Seq
	dev := n.gpu.Device
	build := func(g *Graph, cached, newTokens int) {
		buf = seqs(buf, w.Batch, cached, newTokens)
		t.split(buf, &ops)
		o := &ops.ops
		attn := priceOn(o[blockAttnPre], dev).plus(priceOn(o[blockAttnCore], dev)).plus(priceOn(o[blockAttnPost], dev))
		mlp := priceOn(o[blockMLP], dev)
		// Distinct experts the step's tokens touch per layer.
		touched := models.UniqueExperts(E, k, w.Batch*newTokens)
		miss := touched * (1 - hit) * expertBytes
		prefetched, onDemand := miss*e.Predict, miss*(1-e.Predict)
		gpu := func(c cost, after ...int) int {
			return g.Add(Task{Resource: r.gpu, Seconds: c.Seconds, FLOPs: c.FLOPs, Bytes: c.Bytes}, after...)
		}
		last := gpu(priceOn(o[blockEmbed], dev).plus(cost{Seconds: dev.Overhead.StepSeconds}))
		prevRouter := last
		for l := 0; l < m.Layers; l++ {
			// Prefetch of this layer's predicted experts starts once the
			// previous layer's routing is known.
			pf := -1
			if prefetched > 0 {
				pf = g.Add(Task{Resource: r.h2d, Bytes: prefetched, Tag: TagWeights}, prevRouter)
			}
			router := gpu(attn, last)
			prevRouter = router
			od := -1
			if onDemand > 0 {
				od = g.Add(Task{Resource: r.h2d, Bytes: onDemand, Tag: TagWeights}, router)
			}
			last = gpu(mlp, router, pf, od)
		}
		gpu(priceOn(o[blockHead], dev), last)
	}
	pre, dec, u := runSteps(g.Resources, w, false, build)
	res := &Result{Scheme: e.String(), System: t.System.Name, Model: m.Name, PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	moeLayers := float64(m.MoELayers())
	expertsAll := moeLayers * float64(E) * expertBytes
	gpuWeights := sz.Total - expertsAll + moeLayers*min(e.Cache, float64(E))*expertBytes
	gt := tier(n.gpu)
	gt.WeightsBytes = gpuWeights
	gt.KVBytes = float64(w.Batch) * t.kvBytes(w.Prompt+w.Output)
	var pg models.Graph
	t.build(&pg, seqs(nil, w.Batch, 0, w.Prompt))
	gt.ActivationBytes = peakActivations(t, &pg)
	gt.WorkingBytes = defaultGPUReserve + 2*float64(k)*expertBytes
	gt.close()
	ct := tier(n.cpu)
	ct.WeightsBytes = expertsAll
	ct.close()
	res.Memory = []TierUse{gt, ct}
	u.finish(res, t.System, w)
	res.Extra = map[string]float64{"hit_rate": hit, "expert_bytes": expertBytes,
		"gpu_weight_fraction": gpuWeights / sz.Total, "gpu_memory_saving": 1 - gpuWeights/sz.Total}
	return res, nil
}
