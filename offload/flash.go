package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// Flash is "LLM in a flash" (Alizadeh et al., ACL 2024): weights live on
// flash and only part of the model in DRAM (or GPU memory). Modes, in the
// order of the paper's Table 2:
//
//	naive      every layer's weights read from flash before it runs
//	hybrid     half the model resident, the rest of each FFN read densely
//	predictor  attention, embeddings and a low-rank sparsity predictor
//	           resident; per layer the predictor picks the FFN neurons to
//	           read (Active of them), each as separate up-row and
//	           down-column reads of d_model elements
//	window     a DRAM cache of the neurons active over the last Window
//	           tokens: only New neurons per token are read
//	bundle     window plus row-column bundling: one read of 2 × d_model
//	           per neuron (the paper's method)
//
// Reads run with the flash device's read curve at the size of one read;
// the predictor-driven modes cannot read a layer before its attention and
// predictor have run, so flash I/O, memory management (inserting neurons
// into the preallocated cache matrix) and compute follow each other.
type Flash struct {
	Mode string
	// Active is the fraction of FFN neurons the predictor loads per token
	// (true activations plus false positives); New the fraction not
	// already in the window. Defaults: OPT-6.7B, Table 2: 0.9 GB and 0.2 GB
	// of its 8.6 GB of FFN weights.
	Active, New float64
	Window      int
	// Predictor is the predictors' size as a fraction of the model (1.25%).
	Predictor float64
	// Chunks splits each read into pieces that flow flash → host → device
	// in a pipeline (parallel reader threads).
	Chunks int
	// Resident is the DRAM share of the hybrid mode (0.5).
	Resident float64
}

func init() {
	register("flash", "LLM in a flash: mode=naive|hybrid|predictor|window|bundle, active, new (FFN fractions per token), window (tokens), predictor (model fraction), chunks, resident (hybrid)", func(p *params) (Scheme, error) {
		return &Flash{
			Mode:      p.choice("mode", "bundle", "naive", "hybrid", "predictor", "window", "bundle"),
			Active:    p.float("active", 0.9/8.6, 0, 1),
			New:       p.float("new", 0.2/8.6, 0, 1),
			Window:    p.int("window", 5, 1, 1000),
			Predictor: p.float("predictor", 0.0125, 0, 1),
			Chunks:    p.int("chunks", 8, 1, 1024),
			Resident:  p.float("resident", 0.5, 0, 1),
		}, nil
	})
}

func (f *Flash) String() string {
	return fmt.Sprintf("flash:mode=%s,active=%s,new=%s,window=%d,predictor=%s", f.Mode, num(f.Active), num(f.New), f.Window, num(f.Predictor))
}

func (f *Flash) sparse() bool {
	return f.Mode == "predictor" || f.Mode == "window" || f.Mode == "bundle"
}

// cachedFraction is the share of FFN neurons held in DRAM: the window's
// union (the current token's active set plus Window-1 tokens of new ones),
// or the predicted set without a window.
func (f *Flash) cachedFraction() float64 {
	if f.Mode == "predictor" {
		return f.Active
	}
	return min(1, f.Active+float64(f.Window-1)*f.New)
}

// readFraction is the share of FFN neurons read from flash per token.
func (f *Flash) readFraction() float64 {
	if f.Mode == "predictor" {
		return f.Active
	}
	return f.New
}

// Run executes the scheme.
func (f *Flash) Run(t *Target, w Workload) (*Result, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	n, err := locateWith(t.System, false, true)
	if err != nil {
		return nil, err
	}
	st := &flashStep{f: f, t: t, n: n, sz: t.sizes(), batch: w.Batch}
	var g Graph
	st.r = n.resources(&g)
	// Reads are priced per read size below, not by the transfer's size, and
	// the read curve (measured with many reads in flight) already includes
	// the latency to first byte.
	g.Resources[st.r.diskR].SizeCurve = hw.Curve{}
	g.Resources[st.r.diskR].LatencySeconds = 0
	st.curve = n.disk.Device.Flash.ReadCurve
	pre, dec, u := runSteps(g.Resources, w, false, st.build)
	r := &Result{Scheme: f.String(), System: t.System.Name, Model: t.Model.Name,
		PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	resident := st.residentBytes()
	dev := tier(n.gpu)
	dev.WeightsBytes = resident
	dev.KVBytes = float64(w.Batch) * t.kvBytes(w.Prompt+w.Output)
	dev.close()
	disk := tier(n.disk)
	disk.WeightsBytes = st.sz.Total
	disk.close()
	r.Memory = []TierUse{dev, disk}
	u.finish(r, t.System, w)
	perToken := st.flashBytesPerToken()
	r.Extra = map[string]float64{
		"model_to_dram":          st.sz.Total / resident,
		"resident_fraction":      resident / st.sz.Total,
		"flash_bytes_per_token":  perToken,
		"flash_read_bytes":       st.readSize(),
		"flash_bytes_per_second": st.readRate(),
	}
	return r, nil
}

type flashStep struct {
	f      *Flash
	t      *Target
	n      *node
	r      nodeRes
	sz     sizes
	batch  int
	curve  hw.Curve
	ops    stepOps
	buf    []models.Seq
	scaled []models.Op
}

func (s *flashStep) ffnBytes() float64 { return float64(s.sz.Layers) * s.sz.MLPWeights }

// readSize is one flash read in the sparse modes: a row or column of
// d_model weights, or both bundled.
func (s *flashStep) readSize() float64 {
	row := float64(s.t.Model.Hidden) * models.WeightBytesPerParam(s.t.Prec.Weights)
	switch {
	case s.f.Mode == "bundle":
		return 2 * row
	case s.f.sparse():
		return row
	}
	return s.sz.LayerWeights()
}

func (s *flashStep) readRate() float64 {
	bw := float64(s.n.disk.Count) * min(storageTier(s.n.disk.Device).BytesPerSecond, s.n.diskHost.BytesPerSecond)
	return bw * s.curve.At(s.readSize())
}

// residentBytes is what the device holds: everything but the streamed
// part of the FFNs (and, naive, nothing but the layer being run).
func (s *flashStep) residentBytes() float64 {
	switch s.f.Mode {
	case "naive":
		return s.sz.MaxUnit() + s.sz.AttnWeights + s.sz.MLPWeights
	case "hybrid":
		return s.f.Resident * s.sz.Total
	}
	return s.sz.Total - s.ffnBytes() + s.ffnBytes()*s.f.cachedFraction() + s.f.Predictor*s.sz.Total
}

// streamedFFN is the dense FFN share read per layer in hybrid mode.
func (s *flashStep) streamedFFN() float64 {
	keep := s.f.Resident*s.sz.Total - (s.sz.Total - s.ffnBytes())
	return max(0, s.ffnBytes()-keep) / float64(s.sz.Layers)
}

func (s *flashStep) flashBytesPerToken() float64 {
	switch s.f.Mode {
	case "naive":
		return s.sz.Total
	case "hybrid":
		return s.streamedFFN() * float64(s.sz.Layers)
	}
	return s.ffnBytes() * s.f.readFraction()
}

// read adds a flash read of bytes in pieces of readSize, pipelined in
// Chunks through the host into the device when they are separate.
func (s *flashStep) read(g *Graph, bytes, readSize float64, after int) int {
	if bytes <= 0 {
		return after
	}
	stretch := 1 / s.curve.At(readSize)
	k := s.f.Chunks
	piece := bytes / float64(k)
	var last []int
	prev := after
	for i := 0; i < k; i++ {
		id := g.Add(Task{Resource: s.r.diskR, Bytes: piece, Stretch: stretch, Tag: TagWeights}, prev)
		prev = id
		if s.r.h2d >= 0 {
			id = g.Add(Task{Resource: s.r.h2d, Bytes: piece, Tag: TagWeights}, id)
		}
		last = append(last, id)
	}
	return g.Barrier(last...)
}

func (s *flashStep) compute(g *Graph, c cost, after int) int {
	return g.Add(Task{Resource: s.r.gpu, Seconds: c.Seconds, FLOPs: c.FLOPs, Bytes: c.Bytes}, after)
}

// ffnOps scales the MLP block's weight reads and work to the fraction of
// neurons computed.
func (s *flashStep) ffnOps(frac float64) []models.Op {
	s.scaled = append(s.scaled[:0], s.ops.ops[blockMLP]...)
	for i := range s.scaled {
		op := &s.scaled[i]
		switch op.Name {
		case models.OpUp, models.OpGateUp, models.OpDown:
			op.FLOPs *= frac
			op.WeightBytes *= frac
			if op.Name == models.OpDown {
				op.ActivationReadBytes *= frac
			} else {
				op.ActivationWriteBytes *= frac
			}
		case models.OpAct:
			op.FLOPs *= frac
			op.ActivationReadBytes *= frac
			op.ActivationWriteBytes *= frac
		}
	}
	return s.scaled
}

func (s *flashStep) build(g *Graph, cached, newTokens int) {
	s.buf = seqs(s.buf, s.batch, cached, newTokens)
	s.t.split(s.buf, &s.ops)
	dev := s.n.gpu.Device
	o := &s.ops.ops
	embed, head := priceOn(o[blockEmbed], dev), priceOn(o[blockHead], dev)
	attn := priceOn(o[blockAttnPre], dev).plus(priceOn(o[blockAttnCore], dev)).plus(priceOn(o[blockAttnPost], dev))
	dense := priceOn(o[blockMLP], dev)
	last := s.compute(g, cost{Seconds: dev.Overhead.StepSeconds}, -1)
	// The prompt needs nearly every neuron: prefill streams the FFNs densely
	// in every mode but naive (the paper measures decode only).
	decode := newTokens == 1 && cached > 0
	mode := s.f.Mode
	if !decode && mode != "naive" {
		mode = "hybrid"
	}
	if mode == "naive" {
		last = s.compute(g, embed, s.read(g, s.sz.EmbedWeights, s.sz.EmbedWeights, last))
	} else {
		last = s.compute(g, embed, last)
	}
	for l := 0; l < s.sz.Layers; l++ {
		switch mode {
		case "naive":
			last = s.read(g, s.sz.LayerWeights(), s.sz.LayerWeights(), last)
			last = s.compute(g, attn.plus(dense), last)
		case "hybrid":
			last = s.compute(g, attn, last)
			last = s.read(g, s.streamedFFN(), s.streamedFFN(), last)
			last = s.compute(g, dense, last)
		default:
			last = s.compute(g, attn.plus(s.predictor()), last)
			bytes := s.sz.MLPWeights * s.f.readFraction()
			last = s.read(g, bytes, s.readSize(), last)
			last = s.compute(g, s.manage(bytes), last)
			last = s.compute(g, priceOn(s.ffnOps(s.f.cachedFraction()), dev), last)
		}
	}
	if mode == "naive" {
		last = s.read(g, s.sz.HeadStream, s.sz.HeadStream, last)
	}
	s.compute(g, head, last)
}

// predictor is the low-rank predictor of one layer: a GEMV over its
// weights.
func (s *flashStep) predictor() cost {
	wb := models.WeightBytesPerParam(s.t.Prec.Weights)
	bytes := s.f.Predictor * s.sz.Total / float64(s.sz.Layers)
	tokens := float64(s.batch)
	op := models.Op{Name: "predictor", Kind: models.KindGEMM, Repeat: 1, M: s.batch, FLOPs: 2 * tokens * bytes / wb,
		WeightBytes: bytes, ActivationReadBytes: tokens * s.sz.HiddenPerToken, Compute: s.t.Prec.Activations}
	c := roofline.Cost(&op, s.n.gpu.Device)
	return cost{c.Seconds, c.FLOPs, c.Bytes}
}

// manage inserts bytes of new neurons into the cache matrix and fills the
// evicted rows' holes by moving the last rows (the paper's O(c) delete):
// each new byte is written once and an equal amount moved.
func (s *flashStep) manage(bytes float64) cost {
	op := models.Op{Name: "cache_update", Kind: models.KindElemwise, Repeat: 1,
		ActivationReadBytes: bytes, ActivationWriteBytes: 2 * bytes, Compute: s.t.Prec.Activations}
	c := roofline.Cost(&op, s.n.gpu.Device)
	return cost{c.Seconds, c.FLOPs, c.Bytes}
}
