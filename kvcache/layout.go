package kvcache

import (
	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

// format is the byte-format stage: how a kept element is stored.
type format struct {
	// bits per element; scales: scaleBytes per group of group elements
	// (scale and zero point; 0 group: none).
	bits       float64
	group      int
	scaleBytes float64
	// residual: the newest tokens stay in the KV dtype until a group
	// fills (KIVI).
	residual int
	// rank > 0: a rank-r fp16 approximation of the quantisation error per
	// head of K and of V (GEAR): (tokens + head_dim)·r·2 bytes each.
	rank int
	// outliers: fraction of elements kept exactly as fp16 value + int32
	// index (GEAR's sparse matrix, 6 bytes each).
	outliers float64
	// unfused: the attention kernel reads the KV dtype, so every step
	// dequantises the layer's cache into a scratch buffer first.
	unfused bool
	// quantFLOPs per element written, dequantFLOPs per element read.
	quantFLOPs, dequantFLOPs float64
}

// outlierBytes is one sparse outlier: an fp16 value and an int32 index.
const outlierBytes = 6

// elemBytes is the storage of one quantised element, scales included.
func (f *format) elemBytes() float64 {
	b := f.bits / 8
	if f.group > 0 {
		b += f.scaleBytes / float64(f.group)
	}
	return b + f.outliers*outlierBytes
}

// layout is what the cache of one layer costs per token after the channel
// and format stages, for the whole layer (all K/V heads).
type layout struct {
	kvHeads, headDim float64
	kElems, vElems   float64 // elements per token per layer
	base             float64 // bytes per element of the KV dtype
	act              float64 // bytes per activation element
	fmt              *format
	// pairFLOPs is the attention work per query-key pair per query head.
	pairFLOPs, fullPairFLOPs float64
}

// softmaxFLOPs matches models: max, subtract, exp, sum, divide per score.
const softmaxFLOPs = 5

func (p *Plan) layout(m *models.Model, kv, act dtype.DType) layout {
	hd := float64(m.HeadDim)
	kvDim := float64(m.KVDim())
	l := layout{
		kvHeads: float64(m.KVHeads), headDim: hd,
		kElems: kvDim, vElems: kvDim,
		base: kv.Bytes(), act: act.Bytes(), fmt: p.format,
		fullPairFLOPs: 4*hd + softmaxFLOPs,
	}
	l.pairFLOPs = l.fullPairFLOPs
	if c := p.channels; c != nil {
		l.kElems, l.vElems = c.k*kvDim, c.v*kvDim
		if c.lowRank {
			// Attention runs on the compressed features with the
			// up-projections absorbed into the query and output.
			l.pairFLOPs = 2*(l.kElems+l.vElems) + softmaxFLOPs
		} else {
			l.pairFLOPs = 2*hd*(c.k+c.v) + softmaxFLOPs
		}
	}
	return l
}

// bytes is the cache of one layer holding tokens tokens of one sequence.
func (l *layout) bytes(tokens int) float64 {
	if tokens <= 0 {
		return 0
	}
	n := float64(tokens)
	elems := l.kElems + l.vElems
	f := l.fmt
	if f == nil {
		return n * elems * l.base
	}
	res := float64(min(tokens, f.residual))
	b := (n-res)*elems*f.elemBytes() + res*elems*l.base
	if f.rank > 0 {
		// Per head, K and V each: A (tokens × r) and B (head_dim × r).
		perHeadK := l.kElems / l.kvHeads
		perHeadV := l.vElems / l.kvHeads
		b += l.kvHeads * float64(f.rank) * (2*n + perHeadK + perHeadV) * 2
	}
	return b
}

// writeBytes is what one new token writes per layer.
func (l *layout) writeBytes() float64 {
	elems := l.kElems + l.vElems
	if l.fmt == nil {
		return elems * l.base
	}
	return elems * l.fmt.elemBytes()
}
