package offload

import (
	"fmt"
	"strings"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// memory is the peak footprint of the policy on each tier, after FlexGen's
// peak-memory model (paper, appendix A.3): home tensors at their
// percentages plus working buffers — two units of streamed weights, the KV
// and hidden state of the GPU batch in flight, the largest live
// activations of a GPU batch's prefill, and the runtime reserve.
func (f *FlexGen) memory(t *Target, n *node, sz sizes, gbs, ngb int, w Workload) []TierUse {
	bls := float64(gbs * ngb)
	// Compressed tensors are stored at their compressed size everywhere.
	sz = sz.scaledWeights(f.weightRatio())
	kvAll := bls * t.kvBytes(w.Prompt+w.Output) * f.kvRatio()
	hidden := bls * float64(w.Prompt) * sz.HiddenPerToken
	kvBatchLayer := kvAll / bls / float64(sz.Layers)
	hiddenBatch := float64(gbs*w.Prompt) * sz.HiddenPerToken
	var g models.Graph
	if f.PrefillChunk > 0 {
		c := min(f.PrefillChunk, w.Prompt)
		t.build(&g, []models.Seq{{Cached: w.Prompt - c, New: c}})
	} else {
		t.build(&g, seqs(nil, gbs, 0, w.Prompt))
	}
	act := peakActivations(t, &g)

	gpu := tier(n.gpu)
	gpu.WeightsBytes = f.W[0] * sz.Total
	gpu.KVBytes = f.C[0] * kvAll
	gpu.ActivationBytes = f.A[0]*hidden + act
	gpu.WorkingBytes = 2*(1-f.W[0])*sz.MaxUnit() + (1-f.A[0])*2*hiddenBatch + f.GPUReserveBytes
	if !f.CPUAttention {
		gpu.WorkingBytes += (1 - f.C[0]) * 2 * kvBatchLayer
	}
	out := []TierUse{gpu}
	if n.cpu != nil && n.cpu != n.gpu {
		cpu := tier(n.cpu)
		cpu.WeightsBytes = f.W[1] * sz.Total
		cpu.KVBytes = f.C[1] * kvAll
		cpu.ActivationBytes = f.A[1] * hidden
		cpu.WorkingBytes = f.W[2]*sz.MaxUnit() + f.C[2]*2*kvBatchLayer + f.A[2]*2*hiddenBatch
		out = append(out, cpu)
	}
	if n.disk != nil {
		d := tier(n.disk)
		d.WeightsBytes = f.W[2] * sz.Total
		d.KVBytes = f.C[2] * kvAll
		d.ActivationBytes = f.A[2] * hidden
		out = append(out, d)
	}
	for i := range out {
		out[i].close()
	}
	return out
}

func tier(g *hw.Group) TierUse {
	return TierUse{Group: g.Name, Device: g.Device.Name, Tier: g.Device.MainMemory().Name, CapacityBytes: capacity(g)}
}

// describe is a one-line policy summary for notes.
func (f *FlexGen) describe(gbs, ngb int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "weights %s, cache %s, activations %s (GPU/CPU/disk %%), block %d × %d", pct(f.W), pct(f.C), pct(f.A), gbs, ngb)
	if f.CPUAttention {
		b.WriteString(", attention on CPU")
	}
	return b.String()
}

// peakActivations is the live activation memory of a step: the residual
// stream of all its tokens plus the largest input+output of one op, where
// element-wise ops run in place (PyTorch's relu_/gelu in the engines
// modelled here) and so hold only their larger tensor.
func peakActivations(t *Target, g *models.Graph) float64 {
	var biggest float64
	for i := range g.Ops {
		op := &g.Ops[i]
		b := op.ActivationReadBytes + op.ActivationWriteBytes
		if op.Kind.Base() == models.KindElemwise {
			b = max(op.ActivationReadBytes, op.ActivationWriteBytes)
		}
		biggest = max(biggest, b)
	}
	return float64(g.Tokens)*float64(t.Model.Hidden)*t.Prec.Activations.Bytes() + biggest
}
