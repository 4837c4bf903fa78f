package sweep

import (
	"fmt"
	"strings"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// Split is the tensor × pipeline parallelism of an estimate point, as
// `llmsim estimate --tp --pp --collective`.
type Split struct {
	TP, PP     int
	Collective string
}

// On reports whether s uses more than one GPU.
func (s Split) On() bool { return s.TP > 1 || s.PP > 1 }

// parallel validates s for t and describes it; the errors are those of
// `llmsim estimate`.
func (s Split) parallel(t *Target) (*roofline.Parallel, error) {
	if errs := roofline.CheckParallel(t.Model, t.System, s.TP, s.PP); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("--tp %d --pp %d: %s", s.TP, s.PP, strings.Join(msgs, "; "))
	}
	p := roofline.NewParallel(t.Model, t.Prec, s.TP, s.PP, s.Collective, roofline.GroupLink(t.System))
	return &p, nil
}

// ParallelEstimate prices w on t split over s.TP × s.PP GPUs of t's system
// exactly as `llmsim estimate --tp --pp` does: latency of one GPU's shard
// plus collectives and stage hand-offs, FLOPs and bytes of all GPUs, memory
// of one GPU, energy and cost of all of them.
func ParallelEstimate(t *Target, s Split, w Work) (Result, error) {
	var r Result
	if err := w.Check(); err != nil {
		return r, err
	}
	p, err := s.parallel(t)
	if err != nil {
		return r, err
	}
	m, dev := t.Model, t.Device
	seqs := make([]models.Seq, w.Batch)
	var g models.Graph
	shard := func(seq models.Seq) {
		fill(seqs, seq)
		t.Build(&g, seqs)
		p.Shard(&g)
	}
	var tokens float64
	var kvTokens int
	switch w.Phase {
	case "prefill", "decode":
		seq, limit, what := models.Seq{New: w.Prompt}, w.Prompt, "--prompt"
		tokens, kvTokens = float64(w.Batch*w.Prompt), w.Prompt
		if w.Phase == "decode" {
			seq, limit, what = models.Seq{Cached: w.Context, New: 1}, w.Context+1, "--context"
			tokens, kvTokens = float64(w.Batch), w.Context+1
		}
		if err := contextLimit(m, limit, what); err != nil {
			return r, err
		}
		shard(seq)
		st := p.Step(&g, dev)
		r.Seconds, r.FLOPs, r.Bytes, r.Bound = st.Seconds, st.FLOPs, st.Bytes, st.Bound
	case "request":
		if err := contextLimit(m, w.Prompt+w.Output, "--prompt + --output"); err != nil {
			return r, err
		}
		rc := roofline.RequestParallel(t.Build, dev, p, w.Batch, w.Prompt, w.Output)
		r.Seconds, r.TTFTSeconds, r.TPOTSeconds = rc.E2ESeconds, rc.TTFTSeconds, rc.TPOTSeconds
		r.FLOPs, r.Bytes = rc.FLOPs, rc.Bytes
		r.Bound = rc.Prefill.Bound
		if rc.E2ESeconds-rc.TTFTSeconds > rc.TTFTSeconds {
			r.Bound = rc.FirstDecode.Bound
		}
		tokens, kvTokens = float64(w.Batch*w.Output), w.Prompt+w.Output
		shard(models.Seq{New: w.Prompt})
	}
	r.TokensPerSecond = tokens / r.Seconds
	kv := t.KVBytes(w.Batch, kvTokens)
	state := min(kv, float64(w.Batch)*m.StateBytes(t.Prec.KV)) // none before the first token
	r.Memory = roofline.MemoryWith(m, dev, &g, p.WeightBytesPerGPU(m, t.Prec.Weights), p.KVBytesPerGPU(kv-state, state), t.Prec)
	gpus := float64(p.GPUs())
	en := roofline.EnergyOf(dev, r.Seconds, r.FLOPs/gpus, r.Bytes/gpus, roofline.Peak(dev, hw.ClassGEMM, t.Prec.Activations))
	en.Joules *= gpus
	en.AverageWatts *= gpus
	en.USD *= gpus
	r.Energy = en
	if tokens > 0 {
		r.JoulesPerToken = en.Joules / tokens
		r.USDPerMillionTokens = en.USD / tokens * 1e6
	}
	return r, nil
}
