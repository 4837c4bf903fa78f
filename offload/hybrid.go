package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/models"
)

// attnLayers says which decoder layers of a model have softmax attention,
// for the schemes that move attention off the accelerator (lamina,
// neupims, instinfer): a hybrid's recurrent layers keep their mixer (and
// its constant state) on the accelerator, and only its attention layers
// ship q, k, v out, read KV where it lives and bring the output back.
type attnLayers struct {
	attn []bool
	// Scale turns the attention-kernel block of target.split, which is
	// averaged over all layers (a/L of one attention layer's work), back
	// into one attention layer: L/a.
	Scale float64
}

// newAttnLayers maps m's layers; scheme names the caller in the error for
// a model without attention layers (nothing to offload).
func newAttnLayers(scheme string, m *models.Model) (attnLayers, error) {
	a := m.AttentionLayers()
	if a == 0 {
		return attnLayers{}, fmt.Errorf("%s: model %s has no attention layers (layer kinds %q): there is no attention or KV cache to offload", scheme, m.Name, m.LayerPattern)
	}
	kinds := m.LayerKinds()
	p := attnLayers{attn: make([]bool, m.Layers), Scale: float64(m.Layers) / float64(a)}
	for l := range p.attn {
		p.attn[l] = kinds[l] == byte(models.LayerAttention)
	}
	return p, nil
}

// At reports whether layer l has attention.
func (p attnLayers) At(l int) bool { return p.attn[l] }

// scaled multiplies a cost by k.
func scaled(c cost, k float64) cost { return cost{c.Seconds * k, c.FLOPs * k, c.Bytes * k} }

// attnKVBytes is the stored cache of one sequence of tokens tokens in the
// attention layers only: the target's KV bytes (a KV-cache scheme's, when
// set) less the constant recurrent state of a hybrid's other layers.
func (t *Target) attnKVBytes(tokens int) float64 {
	if tokens <= 0 {
		return 0
	}
	return max(0, t.kvBytes(tokens)-t.stateBytes())
}

// stateBytes is the recurrent state of one sequence (zero for
// attention-only models).
func (t *Target) stateBytes() float64 { return t.Model.StateBytes(t.Prec.KV) }

// refuseRecurrent is the error of a scheme whose schedule is written for
// attention-only transformers.
func refuseRecurrent(scheme, why string, m *models.Model) error {
	if !m.Recurrent() {
		return nil
	}
	return fmt.Errorf("%s: model %s has recurrent layers (layer kinds %q, %d of %d attention): %s", scheme, m.Name, m.LayerPattern, m.AttentionLayers(), m.Layers, why)
}

// tpAllReduces is the number of all-reduces a tensor-parallel forward pass
// makes per token position: one after each layer's sequence mixer
// (attention or recurrent) and one after each MLP-like block (a dense or
// MoE MLP, RWKV's channel mix) — 2 × layers for a transformer.
func tpAllReduces(m *models.Model) int {
	return m.Layers + m.MLPLayers() + m.LayersOf(models.LayerRWKV)
}
