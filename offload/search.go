package offload

import (
	"fmt"
	"sort"
)

// SearchSpace bounds FlexGen's policy search. Zero fields take defaults.
type SearchSpace struct {
	GPUBatches []int // default 1, 2, 4, ..., 256 and 12, 24, 48, 96, 144, 192
	NumBatches []int // default 1, 2, 3, 4, 6, 8, 12, 16
	// WeightStep is the step of the weight percentages (default 0.1).
	WeightStep float64
	// Refine is how many of the best candidates of the analytic bound are
	// executed by the event simulator (default 8).
	Refine int
}

func (sp *SearchSpace) defaults() {
	if len(sp.GPUBatches) == 0 {
		sp.GPUBatches = []int{1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 144, 192, 256}
	}
	if len(sp.NumBatches) == 0 {
		sp.NumBatches = []int{1, 2, 3, 4, 6, 8, 12, 16}
	}
	if sp.WeightStep <= 0 {
		sp.WeightStep = 0.1
	}
	if sp.Refine <= 0 {
		sp.Refine = 8
	}
}

// Search finds the FlexGen policy of highest generation throughput whose
// peak memory fits every tier, for the workload's prompt and output
// lengths (its batch is what the search chooses). Like FlexGen's LP it
// ranks candidates with a cost model — here a bound that lets each
// resource (GPU, CPU, each link direction, disk) work in parallel on the
// per-layer traffic and compute of a policy — and then executes the best
// Refine candidates with the event executor and keeps the fastest, so
// contention and the zig-zag schedule decide between close candidates.
func Search(t *Target, w Workload, sp SearchSpace) (*FlexGen, error) {
	sp.defaults()
	n, err := locateWith(t.System, true, false)
	if err != nil {
		return nil, err
	}
	sz := t.sizes()
	type cand struct {
		f     *FlexGen
		bound float64 // tokens per second, optimistic
	}
	var cands []cand
	placements := weightSplits(sp.WeightStep, n.disk != nil)
	caches := [][3]float64{{1, 0, 0}, {0, 1, 0}, {0.5, 0.5, 0}}
	if n.disk != nil {
		caches = append(caches, [3]float64{0, 0, 1})
	}
	acts := [][3]float64{{1, 0, 0}, {0, 1, 0}}
	for _, gbs := range sp.GPUBatches {
		est := newEstimator(t, n, sz, gbs, w)
		for _, ngb := range sp.NumBatches {
			for _, wp := range placements {
				for _, cp := range caches {
					for _, ap := range acts {
						for _, cpuAttn := range []bool{false, true} {
							if cpuAttn && (cp[0] > 0 || t.Model.Recurrent()) {
								continue // cpuattn: cache off the GPU, attention-only models
							}
							f := &FlexGen{W: wp, C: cp, A: ap, GPUBatch: gbs, NumBatches: ngb, CPUAttention: cpuAttn,
								Overlap: true, PinWeights: true, Pageable: defaultPageable, GPUReserveBytes: defaultGPUReserve}
							if !fits(f.memory(t, n, sz, gbs, ngb, w)) {
								continue
							}
							cands = append(cands, cand{f, est.bound(f, ngb)})
						}
					}
				}
			}
		}
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("flexgen search: no policy fits %s in the memory of %s", t.Model.Name, t.System.Name)
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].bound > cands[j].bound })
	var best *FlexGen
	bestTPS := -1.0
	for i := 0; i < len(cands) && i < sp.Refine; i++ {
		f := cands[i].f
		r, err := f.run(t, Workload{Prompt: w.Prompt, Output: w.Output}, true)
		if err != nil {
			return nil, err
		}
		if r.TokensPerSecond > bestTPS {
			best, bestTPS = f, r.TokensPerSecond
		}
	}
	return best, nil
}

func fits(tiers []TierUse) bool {
	for _, t := range tiers {
		if !t.Fits {
			return false
		}
	}
	return true
}

// weightSplits lists GPU/CPU/disk fractions on a grid of step.
func weightSplits(step float64, disk bool) [][3]float64 {
	var out [][3]float64
	k := int(1/step + 0.5)
	for g := 0; g <= k; g++ {
		for c := 0; c <= k-g; c++ {
			d := k - g - c
			if d > 0 && !disk {
				continue
			}
			out = append(out, [3]float64{float64(g) / float64(k), float64(c) / float64(k), float64(d) / float64(k)})
		}
	}
	return out
}

// estimator prices the per-layer work of one GPU batch once per gbs.
type estimator struct {
	t      *Target
	n      *node
	sz     sizes
	gbs    int
	w      Workload
	pre    fgStep // prefill prices
	dec    fgStep // decode prices at the mean context
	linkBW float64
	diskR  float64
	diskW  float64
}

func newEstimator(t *Target, n *node, sz sizes, gbs int, w Workload) *estimator {
	e := &estimator{t: t, n: n, sz: sz, gbs: gbs, w: w}
	e.pre = fgStep{f: &FlexGen{}, t: t, n: n, sz: sz, gbs: gbs, ngb: 1, cached: 0, newToks: w.Prompt}
	e.pre.prices()
	e.dec = fgStep{f: &FlexGen{CPUAttention: true}, t: t, n: n, sz: sz, gbs: gbs, ngb: 1, cached: w.Prompt + w.Output/2, newToks: 1}
	e.dec.prices()
	e.linkBW = n.gpuHost.BytesPerSecond * n.gpuHost.SizeCurve.At(1e9)
	if n.disk != nil {
		var g Graph
		r := n.resources(&g)
		e.diskR = g.Resources[r.diskR].BytesPerSecond
		e.diskW = g.Resources[r.diskW].BytesPerSecond
	}
	return e
}

// layerSeconds estimates one decoder layer (attention and MLP units) for
// a block of ngb GPU batches the way the overlapped schedule runs it: each
// step (unit, batch) lasts as long as its busiest resource — the GPU/CPU
// compute chain, each link direction, disk reads and writes — and the next
// unit's weights load during the unit's first step. Contention between
// transfers on one link is counted; the executor settles the rest.
func (e *estimator) layerSeconds(f *FlexGen, s *fgStep, ngb int) float64 {
	stretch := 1.0
	if !f.PinWeights {
		stretch = 1 / f.Pageable
	}
	cpuAttn := f.CPUAttention && s.cached > 0
	kvRead := s.kvRead()
	kvNew := float64(e.gbs*s.newToks) * e.sz.KVPerTokenLayer
	hidden := float64(e.gbs*s.newToks) * e.sz.HiddenPerToken
	a := e.t.Prec.Activations.Bytes()
	tokens := float64(e.gbs * s.newToks)
	m := e.t.Model
	step := func(attn bool, nextWeights float64) float64 {
		var h2d, d2h, diskR, diskW, chain float64
		h2d += (f.A[1] + f.A[2]) * hidden
		d2h += (f.A[1] + f.A[2]) * hidden
		diskR += f.A[2] * hidden
		diskW += f.A[2] * hidden
		chain = s.mlp.Seconds
		if attn {
			if cpuAttn {
				chain = s.pre.Seconds + s.coreCPU.Seconds + s.extra.attnCPU.Seconds + s.post.Seconds +
					tokens*float64(m.QDim()+2*m.KVDim())*a/e.linkBW + tokens*float64(m.QDim())*a/e.linkBW
				diskR += f.C[2] * kvRead
				diskW += f.C[2] * kvNew
			} else {
				chain = s.attnGPU.Seconds
				h2d += (f.C[1] + f.C[2]) * kvRead
				d2h += (f.C[1] + f.C[2]) * kvNew
				diskR += f.C[2] * kvRead
				diskW += f.C[2] * kvNew
			}
		}
		wc, wd := f.W[1]*nextWeights, f.W[2]*nextWeights
		h2d += wc*stretch + wd
		diskR += wd
		t := max(chain, h2d/e.linkBW, d2h/e.linkBW)
		if wd > 0 {
			t = max(t, wd/e.diskR+wd/e.linkBW)
		}
		if diskR > 0 {
			t = max(t, diskR/e.diskR)
		}
		if diskW > 0 {
			t = max(t, diskW/e.diskW)
		}
		return t
	}
	k := float64(ngb - 1)
	attn := step(true, e.sz.MLPWeights) + k*step(true, 0)
	mlp := step(false, e.sz.AttnWeights) + k*step(false, 0)
	return attn + mlp
}

// bound estimates the generation throughput of f.
func (e *estimator) bound(f *FlexGen, ngb int) float64 {
	L := float64(e.sz.Layers)
	pre := L * e.layerSeconds(f, &e.pre, ngb)
	dec := float64(e.w.Output-1) * L * e.layerSeconds(f, &e.dec, ngb)
	return float64(e.gbs*ngb*e.w.Output) / (pre + dec)
}
