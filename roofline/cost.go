package roofline

import (
	"math"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// Bound names what limits an op.
type Bound string

// Bounds.
const (
	ComputeBound  Bound = "compute"
	MemoryBound   Bound = "memory"
	OverheadBound Bound = "overhead" // the fixed kernel cost exceeds both roofs
)

// OpCost is the price of one op on one device. Seconds, FLOPs and Bytes
// cover all Repeat executions; the per-execution values are these divided by
// Repeat.
type OpCost struct {
	Name   string
	Kind   models.OpKind
	Repeat int

	Seconds        float64
	ComputeSeconds float64 // at calibrated efficiency, all repeats
	MemorySeconds  float64 // at calibrated efficiency, all repeats
	FLOPs          float64
	Bytes          float64
	Bound          Bound
}

// Intensity is the op's arithmetic intensity in FLOPs per byte.
func (c OpCost) Intensity() float64 { return Intensity(c.FLOPs, c.Bytes) }

// Intensity is flops/bytes, or 0 when nothing moves.
func Intensity(flops, bytes float64) float64 {
	if bytes <= 0 {
		return 0
	}
	return flops / bytes
}

// OpClass is the efficiency class op runs in: its kind's (Class), except
// that a scan in the chunkwise-parallel form (op.Chunked: the prefill of a
// Mamba-2, RWKV-6, mLSTM or linear-attention layer) runs matrix products
// on tensor cores as attention does. Mamba's selective scan and every
// decode step stay vector work.
func OpClass(op *models.Op) string {
	if op.Kind == models.KindScan && op.Chunked {
		return hw.ClassAttention
	}
	return Class(op.Kind)
}

// Class maps an op kind onto the efficiency class of device descriptions.
func Class(k models.OpKind) string {
	switch k.Base() {
	case models.KindGEMM, models.KindRouter:
		return hw.ClassGEMM
	case models.KindAttention:
		return hw.ClassAttention
	}
	return hw.ClassVector
}

// Peak is the dense FLOP/s a device offers to an op of the given class that
// computes in t. Vector ops run on general-purpose lanes, so they use the
// fp32 (CUDA-core) peak when the device lists one; matrix ops fall back to a
// wider format when the device lacks t (fp8 on a V100 runs as fp16).
func Peak(dev *hw.Device, class string, t dtype.DType) float64 {
	if class == hw.ClassVector {
		if p := dev.DTypePeak(dtype.FP32); p > 0 {
			return p
		}
	}
	for _, c := range []dtype.DType{t, dtype.BF16, dtype.FP16, dtype.FP32} {
		if p := dev.DTypePeak(c); p > 0 {
			return p
		}
	}
	return 0
}

// Cost prices op on dev from the device's main memory. Ops without FLOPs or
// bytes cost only the kernel overhead.
func Cost(op *models.Op, dev *hw.Device) OpCost {
	return CostAt(op, dev, dev.MainMemory().BytesPerSecond)
}

// CostAt prices op on dev as if its traffic moved at memBytesPerSecond peak
// (a memory tier other than the main one, or a share of it under contention).
func CostAt(op *models.Op, dev *hw.Device, memBytesPerSecond float64) OpCost {
	// Curves are looked up under the op's kind, the kind it refines (an
	// activation is priced as elementwise by a description without an
	// activation curve), then its class.
	class, kind, base := OpClass(op), string(op.Kind), string(op.Kind.Base())
	bytes := op.Bytes()
	repeat := float64(op.Repeat)
	c := OpCost{Name: op.Name, Kind: op.Kind, Repeat: op.Repeat, FLOPs: repeat * op.FLOPs, Bytes: repeat * bytes}
	var computeSeconds, memorySeconds float64
	if op.FLOPs > 0 {
		if peak := Peak(dev, class, op.Compute); peak > 0 {
			fraction := dev.Efficiency.ComputeFraction(op.FLOPs, kind, base, class)
			if len(dev.Efficiency.ComputeByIntensity) > 0 {
				fraction *= dev.Efficiency.IntensityFraction(Intensity(op.FLOPs, bytes), kind, base, class)
			}
			computeSeconds = op.FLOPs / (peak * fraction)
		}
	}
	if bytes > 0 && memBytesPerSecond > 0 {
		memorySeconds = bytes / (memBytesPerSecond * dev.Efficiency.MemoryFraction(bytes, kind, base, class))
	}
	kernel := dev.Overhead.KernelSeconds
	roof := max(computeSeconds, memorySeconds)
	items := ItemSeconds(op, dev)
	if items > 0 {
		roof = math.Hypot(roof, items)
	}
	per := roof + kernel
	switch {
	case (kernel > computeSeconds && kernel > memorySeconds) || (items > computeSeconds && items > memorySeconds):
		c.Bound = OverheadBound
	case computeSeconds >= memorySeconds:
		c.Bound = ComputeBound
	default:
		c.Bound = MemoryBound
	}
	c.Seconds = repeat * per
	c.ComputeSeconds = repeat * computeSeconds
	c.MemorySeconds = repeat * memorySeconds
	return c
}

// ItemSeconds is the floor a fused attention op's work items set
// (models.Op.Items): each holds one of the device's compute units for
// hw.Overhead.AttentionItemSeconds, so the op takes at least
// Items × AttentionItemSeconds / Units; 0 without items or an item cost.
//
// CostAt joins the floor to the roofline time t as √(t² + floor²), a smooth
// maximum: an item's fixed part (query load, first-tile latency, softmax
// reduction, output write) overlaps other items' streaming only partly.
// Measured on an H200 (cuDNN decode attention, batch 16-2048, caches of
// 16-1024 tokens; validate/gpu/data/h200-attn-short) the time is flat
// below 32 tokens, then bends into the bandwidth roof by 256-512: over
// those and the longer-cache kernels (196 points) the quadratic join fit
// with MAPE 4.7%, a sum 9.3% and a near-hard maximum 6.6%
// (docs/VALIDATION.md).
//
// Prefill attention has the same kind of floor per query tile
// (models.Op.QueryTiles, hw.Overhead.AttentionTileSeconds); the two add.
func ItemSeconds(op *models.Op, dev *hw.Device) float64 {
	if dev.Compute.Units <= 0 {
		return 0
	}
	o := &dev.Overhead
	return (max(op.Items, 0)*o.AttentionItemSeconds + max(op.QueryTiles, 0)*o.AttentionTileSeconds) / float64(dev.Compute.Units)
}

// Ridge is the arithmetic intensity (FLOPs/byte) at which the device's peak
// compute for t meets its main-memory bandwidth, both at peak.
func Ridge(dev *hw.Device, t dtype.DType) float64 {
	bw := dev.MainMemory().BytesPerSecond
	if bw <= 0 {
		return 0
	}
	return Peak(dev, hw.ClassGEMM, t) / bw
}
