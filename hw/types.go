package hw

import "github.com/llmsim/llmsim/dtype"

// Kind is the class of a device. It decides which optional sections of a
// description are required (pim, fpga, csd, flash) and how schedulers may use
// it, never a hidden constant.
type Kind string

// Device kinds of the mission.
const (
	GPU   Kind = "gpu"
	CPU   Kind = "cpu"
	NPU   Kind = "npu"
	PIM   Kind = "pim"
	FPGA  Kind = "fpga"
	CSD   Kind = "csd"
	Flash Kind = "flash"
	SSD   Kind = "ssd"
)

// Kinds lists every device kind, in a fixed order.
var Kinds = []Kind{GPU, CPU, NPU, PIM, FPGA, CSD, Flash, SSD}

// Op classes that efficiency curves are keyed by. roofline looks a curve up
// under the op's own kind first (models.OpKind: "norm", "rope",
// "elementwise", "activation", "embedding", "sampling", "router",
// "experts", ...), then under the kind it refines (activation: elementwise;
// experts: gemm), then under one of these general classes, so a calibrated
// device may price a reduction-heavy norm apart from a streaming
// element-wise kernel while an uncalibrated one needs only the three
// general curves.
const (
	ClassGEMM      = "gemm"      // dense matrix multiplies (projections, MLP, LM head)
	ClassAttention = "attention" // fused attention kernels (score, softmax, value)
	ClassVector    = "vector"    // element-wise, norms, RoPE, softmax, sampling
)

// OpKinds are the op kinds of models.OpKind that a curve may be keyed by
// instead of a general class.
var OpKinds = []string{"embedding", "norm", "rope", "elementwise", "activation", "router", "sampling", "experts"}

// Device is one processor or storage device: its compute peaks, memory tiers,
// on-chip buffers, calibrated efficiency, overheads, power and price.
// All rates are per second, all sizes in bytes, all times in seconds.
type Device struct {
	Name        string `toml:"name"`
	Kind        Kind   `toml:"kind"`
	Description string `toml:"description"`
	// Source names where the numbers came from (datasheet, paper, measurement).
	Source string `toml:"source"`

	Compute    Compute      `toml:"compute"`
	Memory     []MemoryTier `toml:"memory"` // Memory[0] is the device's own main memory
	Buffers    []Buffer     `toml:"buffer"` // on-chip: L2, SRAM, BRAM, URAM
	Efficiency Efficiency   `toml:"efficiency"`
	Overhead   Overhead     `toml:"overhead"`
	Power      Power        `toml:"power"`
	Price      Price        `toml:"price"`

	PIM   *PIMGeometry   `toml:"pim"`   // required for kind pim
	FPGA  *FPGAResources `toml:"fpga"`  // required for kind fpga
	CSD   *CSDInternals  `toml:"csd"`   // required for kind csd
	Flash *FlashMedia    `toml:"flash"` // required for kind flash and ssd; optional for csd

	// Calibration records how the efficiency curves were obtained.
	Calibration *Calibration `toml:"calibration"`
}

// Compute holds dense peak arithmetic rates (never the 2:4 sparse figure).
type Compute struct {
	// FLOPSPerSecond maps a dtype name (bf16, fp16, fp32, tf32, fp8, int8,
	// int4, ...) to the dense peak in operations per second. A multiply-add
	// counts as two operations.
	FLOPSPerSecond map[string]float64 `toml:"flops_per_second"`
	// Units is the number of parallel compute units (SMs, cores, PEs), used by
	// wave-quantisation and by calibration records; 0 when unknown.
	Units int `toml:"units"`
	// ClockHz is the clock the peaks were computed at; 0 when unknown.
	ClockHz float64 `toml:"clock_hz"`
}

// MemoryTier is one level of addressable memory attached to a device.
type MemoryTier struct {
	Name           string  `toml:"name"` // e.g. hbm3, ddr5, lpddr5
	CapacityBytes  float64 `toml:"capacity_bytes"`
	BytesPerSecond float64 `toml:"bytes_per_second"` // peak, read+write aggregate
	LatencySeconds float64 `toml:"latency_seconds"`
	// ReservedBytes is capacity the runtime keeps for itself (CUDA context,
	// allocator slack, library workspaces) and is never available to
	// weights, KV or activations.
	ReservedBytes float64 `toml:"reserved_bytes"`
}

// Buffer is an on-chip memory (cache, scratchpad, BRAM/URAM).
type Buffer struct {
	Name           string  `toml:"name"`
	Bytes          float64 `toml:"bytes"`
	BytesPerSecond float64 `toml:"bytes_per_second"` // 0 when unknown
}

// Curve is an efficiency curve: the achieved fraction of a peak as a function
// of problem size. Points are (size, fraction) pairs with strictly increasing
// sizes and fractions in (0, 1]; between points the fraction is interpolated
// linearly in log(size); outside them it is clamped to the end points. An
// empty curve means fraction 1 everywhere.
type Curve struct {
	Points [][2]float64 `toml:"points"`
}

// Efficiency holds the calibrated curves of a device.
type Efficiency struct {
	// Compute maps an op kind or class (ClassGEMM, ClassAttention,
	// ClassVector) to a curve over the op's FLOPs. A missing key falls back
	// to the general class, to "default", then to 1.
	Compute map[string]Curve `toml:"compute"`
	// Memory is a curve over the bytes one kernel moves to or from main
	// memory.
	Memory Curve `toml:"memory"`
	// MemoryByClass overrides Memory for one op kind or class: a GEMV streaming
	// weights, an attention kernel gathering KV blocks and a chain of
	// element-wise kernels reach different fractions of the same bandwidth.
	MemoryByClass map[string]Curve `toml:"memory_by_class"`
	// ComputeByIntensity scales the Compute fraction of one op kind or class
	// by a curve over the op's arithmetic intensity (FLOPs per byte of
	// main-memory traffic; for a matrix product with weights in memory, about
	// M tokens per weight element read). A skinny product reuses each
	// weight it loads M times only, so a GEMV (M = 1) and a batch-of-4
	// decode run below a prefill GEMM of the same FLOPs: the compute curve
	// over FLOPs alone cannot tell them apart. Looked up like Compute (the
	// op's kind, the kind it refines, its class); optional: without a curve
	// the factor is 1, so descriptions without it price exactly as before.
	ComputeByIntensity map[string]Curve `toml:"compute_by_intensity"`
}

// Overhead holds fixed costs that no roofline captures.
type Overhead struct {
	KernelSeconds float64 `toml:"kernel_seconds"` // per op (launch, sync)
	StepSeconds   float64 `toml:"step_seconds"`   // per forward step (framework, scheduler)
	// AttentionItemSeconds is how long one work item of a fused
	// decode-attention kernel (one sequence × KV head, models.Op.Items)
	// holds a compute unit at least, however short its cache: loading the
	// queries, the first K/V tile's memory latency, the softmax reduction
	// and the output write. Items spread over Compute.Units, so attention
	// over short caches at large batch takes at least
	// Items × AttentionItemSeconds / Units (roofline.CostAt). 0: no floor.
	AttentionItemSeconds float64 `toml:"attention_item_seconds"`
	// AttentionTileSeconds is the same for one query tile of a fused
	// prefill-attention kernel (models.Op.QueryTiles: up to 128 queries
	// of one sequence and query head): many short prompts at once take at
	// least tiles × AttentionTileSeconds / Units. 0: no floor.
	AttentionTileSeconds float64 `toml:"attention_tile_seconds"`
}

// Power describes energy use. Average power of a run is
// IdleWatts + (ActiveWatts-IdleWatts)*utilisation, plus the per-byte and
// per-op energies where given.
type Power struct {
	IdleWatts     float64 `toml:"idle_watts"`
	ActiveWatts   float64 `toml:"active_watts"` // board power at full load (TDP)
	JoulesPerByte float64 `toml:"joules_per_byte"`
	JoulesPerFLOP float64 `toml:"joules_per_flop"`
}

// Price is the cost of owning or renting the device.
type Price struct {
	USDPerHour float64 `toml:"usd_per_hour"`
	USD        float64 `toml:"usd"` // purchase price, 0 when unknown
}

// PIMGeometry describes processing-in-memory at bank granularity.
type PIMGeometry struct {
	Channels        int     `toml:"channels"`
	BanksPerChannel int     `toml:"banks_per_channel"`
	BankBytes       float64 `toml:"bank_bytes"`
	// BankBytesPerSecond is the internal read bandwidth of one bank to its
	// processing unit.
	BankBytesPerSecond float64 `toml:"bank_bytes_per_second"`
	// BankFLOPSPerSecond is the multiply-add rate of one bank's unit (2 per MAC).
	BankFLOPSPerSecond float64 `toml:"bank_flops_per_second"`
	RowBytes           float64 `toml:"row_bytes"`
	// RowActivateSeconds is the cost of opening a row (tRCD + tRP).
	RowActivateSeconds float64 `toml:"row_activate_seconds"`
	// ChannelBytesPerSecond is the external data bus of one channel, shared
	// between PIM results and normal accesses.
	ChannelBytesPerSecond float64 `toml:"channel_bytes_per_second"`
	// CommandSeconds is the command-bus time of one PIM command.
	CommandSeconds float64 `toml:"command_seconds"`
	// DualRowBuffer lets normal accesses proceed while banks compute
	// (NeuPIMs); without it, PIM and normal accesses block each other.
	DualRowBuffer bool   `toml:"dual_row_buffer"`
	DType         string `toml:"dtype"` // format the PIM units compute in
}

// FPGAResources describes an FPGA's compute fabric.
type FPGAResources struct {
	DSPs              int     `toml:"dsps"`
	ClockHz           float64 `toml:"clock_hz"`
	OpsPerDSPPerCycle float64 `toml:"ops_per_dsp_per_cycle"`
	OnChipBytes       float64 `toml:"onchip_bytes"` // BRAM + URAM
	HBMChannels       int     `toml:"hbm_channels"`
	// SparseEfficiency is the fraction of DSP slots doing useful work on N:M
	// sparse weights.
	SparseEfficiency float64 `toml:"sparse_efficiency"`
}

// CSDInternals describes a computational storage drive.
type CSDInternals struct {
	NANDChannels int `toml:"nand_channels"`
	// ChannelBytesPerSecond is one NAND channel's read bandwidth.
	ChannelBytesPerSecond float64 `toml:"channel_bytes_per_second"`
	// InternalBytesPerSecond is the aggregate media-to-engine bandwidth.
	InternalBytesPerSecond float64 `toml:"internal_bytes_per_second"`
	// The embedded engine's rate is Device.Compute; its DRAM is Memory[0].
	PeerToPeer bool `toml:"peer_to_peer"`
}

// FlashMedia describes NAND flash as seen by a reader.
type FlashMedia struct {
	// ReadCurve maps read size in bytes to achieved read throughput as a
	// fraction of Memory[0].BytesPerSecond (flash reads are slow when small).
	ReadCurve Curve `toml:"read_curve"`
	// QueueDepth is the number of reads in flight the curve was measured at.
	QueueDepth int `toml:"queue_depth"`
	// WriteBytesPerSecond is the sustained write bandwidth.
	WriteBytesPerSecond float64 `toml:"write_bytes_per_second"`
}

// Calibration is the provenance of a device's efficiency curves.
type Calibration struct {
	Method  string `toml:"method"`  // e.g. "least squares over validate/gpu/h100.csv"
	Date    string `toml:"date"`    // YYYY-MM-DD
	Dataset string `toml:"dataset"` // path or citation
	Machine string `toml:"machine"` // where it was measured
}

// Link connects device groups of a System.
type Link struct {
	Name string `toml:"name"`
	// Between names two device groups of the system (may be the same group,
	// e.g. NVLink among the GPUs).
	Between        [2]string `toml:"between"`
	BytesPerSecond float64   `toml:"bytes_per_second"` // per direction
	LatencySeconds float64   `toml:"latency_seconds"`
	PeerToPeer     bool      `toml:"peer_to_peer"`
	// Topology of a link within one group: "switch" (all-to-all at full
	// rate, NVSwitch), "ring" or "bus"; empty for point-to-point.
	Topology string `toml:"topology"`
	// SizeCurve maps transfer size in bytes to the achieved fraction of
	// BytesPerSecond; empty means 1.
	SizeCurve Curve `toml:"size_curve"`
}

// Group is Count identical devices in a system.
type Group struct {
	Name   string  `toml:"name"`
	Use    string  `toml:"use"` // built-in device name or path, resolved at load
	Count  int     `toml:"count"`
	Device *Device `toml:"-"` // resolved description
}

// System is a node: device groups, the links between them, and which group
// is the host.
type System struct {
	Name        string  `toml:"name"`
	Description string  `toml:"description"`
	Groups      []Group `toml:"device"`
	Links       []Link  `toml:"link"`
	// Host names the group that plays the host CPU; empty when none.
	Host string `toml:"host"`
	// Accelerator names the group that runs the model by default; when
	// empty it is the first group.
	Accelerator string `toml:"accelerator"`
	// File is where the system was loaded from ("builtin:NAME" for embedded).
	File string `toml:"-"`
}

// DTypePeak returns the dense peak of d in FLOP/s, or 0 when the device does
// not list it. Sub-8-bit weight formats fall back to their compute type.
func (d *Device) DTypePeak(t dtype.DType) float64 {
	if v, ok := d.Compute.FLOPSPerSecond[string(t)]; ok {
		return v
	}
	if v, ok := d.Compute.FLOPSPerSecond[string(t.ComputeType())]; ok {
		return v
	}
	return 0
}

// MainMemory is the device's own memory tier (Memory[0]). Loading guarantees
// there is one.
func (d *Device) MainMemory() MemoryTier { return d.Memory[0] }
