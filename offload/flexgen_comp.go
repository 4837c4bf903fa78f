package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
)

// FlexGen's group-wise 4-bit compression (--compress-weight,
// --compress-cache; flexgen/compression.py, TorchCompressedDevice): every
// weight matrix (1-D tensors stay fp16) and the KV cache are stored as
// 4-bit codes with an fp16 scale and minimum per group of 64 values, move
// between tiers in that form, and are expanded back to fp16 on the GPU by
// unfused PyTorch kernels each time they are used:
//
//   - a compressed weight is decompressed for every GPU batch that runs its
//     layer (the MLP, attention, input and output embeddings call
//     decompress on each forward);
//   - a compressed cache is decompressed whole — the buffer of
//     prompt + output − 1 positions, not only the filled part — by every
//     decode step of every layer, and the step's new keys and values are
//     compressed before they are stored.
//
// Decompress runs six kernels per tensor (two shifts/masks of the packed
// bytes, two strided stores of those into alternate fp16 slots, an
// in-place divide by the scale, an in-place add of the minimum); compress
// about twelve (min, max, subtract, multiply, clamp, round, cast, shift,
// or). Their streaming traffic would be 15 and 25 bytes per value, but the
// strided uint8→fp16 stores and the broadcast divide run far below the
// streaming rate: timed on an H200 (validate/gpu/flexgen_comp.py, data in
// validate/gpu/data/h200-kernels-offload), decompressing takes as long as
// copying 41-45 bytes per value for weight and cache shapes of OPT-6.7B to
// OPT-175B (37 for the smallest), and compressing a cache 90-102. The
// model charges those effective bytes (42 and 100) as element-wise
// traffic at the GPU's memory rate, assuming the kernels' ratio to a
// streaming copy carries over to other GPUs.
//
// With attention on the CPU (--cpu-cache-compute) the compressed cache
// stays on the host and mha_gen decompresses it there, whole, with the same
// PyTorch ops on fp16 CPU tensors, before converting it to fp32 as the
// uncompressed path does; the step's new keys and values are compressed on
// the GPU and stored compressed. Timed on the H200 machine's 16-vCPU Xeon
// host (flexgen_comp.py --cpu, data in validate/gpu/data/h200-kernels-offload):
// decompressing OPT-6.7B's and OPT-30B's cache buffers (160 and 249 million
// values) takes as long as copying 32-40 bytes per value over two runs
// (35 and 32, then 35 and 40: the VM's host is shared); the model charges
// their mean, 35, at the CPU's memory rate.
const (
	fgCompBits         = 4
	fgCompGroup        = 64
	fgDecompBytes      = 42.0
	fgDecompKernels    = 6
	fgCompBytes        = 100.0
	fgCompKernels      = 12
	fgCPUDecompBytes   = 35.0
	fgCPUDecompKernels = fgDecompKernels
)

// FlexGenCompressedRatio is the stored size of a FlexGen-compressed 16-bit
// tensor over its uncompressed size: 4-bit codes plus two fp16 values per
// group of 64 (0.28125).
const FlexGenCompressedRatio = (fgCompBits/8.0 + 2*2.0/fgCompGroup) / 2

// checkCompression refuses what FlexGen's compressed device cannot hold.
func (f *FlexGen) checkCompression(t *Target) error {
	if f.CompressWeights && t.Prec.Weights.Bytes() != 2 {
		return fmt.Errorf("flexgen: cw compresses 16-bit weights (FlexGen asserts fp16); weights are %s", t.Prec.Weights)
	}
	if !f.CompressCache {
		return nil
	}
	switch {
	case t.Prec.KV.Bytes() != 2:
		return fmt.Errorf("flexgen: cc compresses a 16-bit cache; the KV format is %s", t.Prec.KV)
	case t.Scheme != nil && t.Scheme.String() != (kvcache.Full{}).String():
		return fmt.Errorf("flexgen: cc compresses FlexGen's dense cache; it does not combine with a KV-cache scheme (use the scheme's own quantisation)")
	}
	return nil
}

// weightRatio and kvRatio scale stored and moved bytes.
func (f *FlexGen) weightRatio() float64 {
	if f.CompressWeights {
		return FlexGenCompressedRatio
	}
	return 1
}

func (f *FlexGen) kvRatio() float64 {
	if f.CompressCache {
		return FlexGenCompressedRatio
	}
	return 1
}

// elementwise is n kernels that together read and write the given bytes.
func elementwise(name string, kernels int, read, write float64, d dtype.DType) models.Op {
	k := float64(kernels)
	return models.Op{Name: name, Kind: models.KindElemwise, Repeat: kernels,
		ActivationReadBytes: read / k, ActivationWriteBytes: write / k, Compute: d}
}

// decompressOps expands values spread over tensors tensors.
func decompressOps(name string, values float64, tensors int) models.Op {
	return elementwise(name, tensors*fgDecompKernels, fgDecompBytes*values/2, fgDecompBytes*values/2, dtype.FP16)
}

// cpuDecompressOps is decompressOps on the host CPU.
func cpuDecompressOps(name string, values float64, tensors int) models.Op {
	return elementwise(name, tensors*fgCPUDecompKernels, fgCPUDecompBytes*values/2, fgCPUDecompBytes*values/2, dtype.FP16)
}

func compressOps(name string, values float64, tensors int) models.Op {
	return elementwise(name, tensors*fgCompKernels, fgCompBytes*values/2, fgCompBytes*values/2, dtype.FP16)
}

// fgExtra is work FlexGen's kernels add around the model's ops: on the
// GPU, and (attnCPU) on the host next to CPU attention.
type fgExtra struct {
	embed, attn, mlp, head cost
	attnCPU                cost
}

// extras prices, for one GPU batch at the step's context, the
// decompression of compressed weights and the cache's decompression and
// compression. (FlexGen's mha_gen permutes the past keys and values into
// bmm layouts; those are strided views that bmm reads in place, no copy —
// checked on the H200, validate/gpu/flexgen_comp.py.)
func (s *fgStep) extras() fgExtra {
	var e fgExtra
	gpu := s.n.gpu.Device
	if s.f.CompressWeights {
		per := s.t.Prec.Weights.Bytes()
		mlp := 2
		if s.t.Model.Gated() {
			mlp = 3
		}
		if m := s.t.Model.MoE; m != nil {
			mlp *= m.Experts
		}
		embed := 1
		if s.sz.EmbedWeights > s.sz.HeadStream {
			embed = 2 // token table and learned positions
		}
		e.embed = priceOn([]models.Op{decompressOps("decompress_embed", s.sz.EmbedWeights/per, embed)}, gpu)
		e.attn = priceOn([]models.Op{decompressOps("decompress_attn", s.sz.AttnWeights/per, 4)}, gpu)
		e.mlp = priceOn([]models.Op{decompressOps("decompress_mlp", s.sz.MLPWeights/per, mlp)}, gpu)
		e.head = priceOn([]models.Op{decompressOps("decompress_head", s.sz.HeadStream/per, 1)}, gpu)
	}
	if !s.f.CompressCache {
		return e
	}
	// K and V values of one token in one (average) layer.
	perToken := s.sz.KVPerTokenLayer / s.t.Prec.KV.Bytes()
	gbs := float64(s.gbs)
	ops := []models.Op{compressOps("compress_kv", gbs*float64(s.newToks)*perToken, 2)}
	if s.cached > 0 {
		whole := gbs * float64(s.alloc) * perToken
		if s.cpuAttn() {
			e.attnCPU = priceOn([]models.Op{cpuDecompressOps("decompress_kv_cpu", whole, 2)}, s.cpuDevice())
		} else {
			ops = append(ops, decompressOps("decompress_kv", whole, 2))
		}
	}
	e.attn = e.attn.plus(priceOn(ops, gpu))
	return e
}
