package hw

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/llmsim/llmsim/dtype"
)

// validateDevice checks a decoded device and normalises the dtype keys of
// its compute peaks to canonical names ("bfloat16" -> "bf16").
func validateDevice(p *problems, d *Device) {
	if strings.TrimSpace(d.Name) == "" {
		p.add("name", "required: a non-empty device name")
	}
	switch {
	case d.Kind == "":
		p.add("kind", "required: one of %s", kindList())
	case !knownKind(d.Kind):
		p.add("kind", "unknown kind %q (known: %s)", d.Kind, kindList())
	}
	validateCompute(p, d)
	if len(d.Memory) == 0 {
		p.add("memory", "required: at least one [[memory]] tier with capacity_bytes and bytes_per_second")
	}
	for i, m := range d.Memory {
		k := "memory[" + strconv.Itoa(i) + "]"
		positive(p, k+".capacity_bytes", m.CapacityBytes)
		positive(p, k+".bytes_per_second", m.BytesPerSecond)
		nonNegative(p, k+".latency_seconds", m.LatencySeconds)
	}
	for i, b := range d.Buffers {
		k := "buffer[" + strconv.Itoa(i) + "]"
		positive(p, k+".bytes", b.Bytes)
		nonNegative(p, k+".bytes_per_second", b.BytesPerSecond)
	}
	validateEfficiency(p, d.Efficiency)
	nonNegative(p, "overhead.kernel_seconds", d.Overhead.KernelSeconds)
	nonNegative(p, "overhead.step_seconds", d.Overhead.StepSeconds)
	nonNegative(p, "overhead.attention_item_seconds", d.Overhead.AttentionItemSeconds)
	nonNegative(p, "overhead.attention_tile_seconds", d.Overhead.AttentionTileSeconds)
	if d.Overhead.AttentionItemSeconds > 0 && d.Compute.Units <= 0 {
		p.add("overhead.attention_item_seconds", "needs compute.units: the work items spread over the compute units")
	}
	if d.Overhead.AttentionTileSeconds > 0 && d.Compute.Units <= 0 {
		p.add("overhead.attention_tile_seconds", "needs compute.units: the query tiles spread over the compute units")
	}
	validatePower(p, d.Power)
	nonNegative(p, "price.usd_per_hour", d.Price.USDPerHour)
	nonNegative(p, "price.usd", d.Price.USD)
	validateSections(p, d)
	if c := d.Calibration; c != nil && c.Date != "" {
		if _, err := time.Parse("2006-01-02", c.Date); err != nil {
			p.add("calibration.date", "must be a date YYYY-MM-DD, got %q", c.Date)
		}
	}
}

func validateCompute(p *problems, d *Device) {
	peaks := d.Compute.FLOPSPerSecond
	if len(peaks) == 0 && d.Kind != Flash && d.Kind != SSD {
		p.add("compute.flops_per_second", "required: at least one dense peak, e.g. bf16 = 989.4e12 (only flash and ssd devices may omit it)")
	}
	norm := make(map[string]float64, len(peaks))
	names := make([]string, 0, len(peaks))
	for name := range peaks {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		k := "compute.flops_per_second." + name
		t, err := dtype.Parse(name)
		if err != nil {
			p.add(k, "%v", err)
			continue
		}
		if _, dup := norm[string(t)]; dup {
			p.add(k, "duplicate peak: %q is another name for %s", name, t)
			continue
		}
		positive(p, k, peaks[name])
		norm[string(t)] = peaks[name]
	}
	if len(peaks) > 0 {
		d.Compute.FLOPSPerSecond = norm
	}
	if d.Compute.Units < 0 {
		p.add("compute.units", "must be >= 0, got %d", d.Compute.Units)
	}
	nonNegative(p, "compute.clock_hz", d.Compute.ClockHz)
}

var (
	opClasses     = append([]string{ClassGEMM, ClassAttention, ClassVector, "default"}, OpKinds...)
	memoryClasses = append([]string{ClassGEMM, ClassAttention, ClassVector}, OpKinds...) // efficiency.memory is their default
)

func validateEfficiency(p *problems, e Efficiency) {
	validateCurves(p, "efficiency.compute.", opClasses, e.Compute)
	validateCurve(p, "efficiency.memory", e.Memory)
	validateCurves(p, "efficiency.memory_by_class.", memoryClasses, e.MemoryByClass)
	validateCurves(p, "efficiency.compute_by_intensity.", opClasses, e.ComputeByIntensity)
}

// validateCurve checks sizes are positive, finite and strictly increasing,
// and fractions lie in (0, 1].
func validateCurve(p *problems, key string, c Curve) {
	for i, pt := range c.Points {
		k := key + ".points[" + strconv.Itoa(i) + "]"
		size, frac := pt[0], pt[1]
		switch {
		case !finite(size) || size <= 0:
			p.add(k, "size must be a positive finite number, got %s", formatFloat(size))
		case i > 0 && !(size > c.Points[i-1][0]):
			p.add(k, "sizes must be strictly increasing: %s follows %s", formatFloat(size), formatFloat(c.Points[i-1][0]))
		}
		if !finite(frac) || frac <= 0 || frac > 1 {
			p.add(k, "fraction must be in (0, 1], got %s", formatFloat(frac))
		}
	}
}

func validatePower(p *problems, w Power) {
	nonNegative(p, "power.idle_watts", w.IdleWatts)
	nonNegative(p, "power.active_watts", w.ActiveWatts)
	nonNegative(p, "power.joules_per_byte", w.JoulesPerByte)
	nonNegative(p, "power.joules_per_flop", w.JoulesPerFLOP)
	if w.ActiveWatts > 0 && w.IdleWatts > w.ActiveWatts {
		p.add("power.idle_watts", "must not exceed active_watts (%s), got %s", formatFloat(w.ActiveWatts), formatFloat(w.IdleWatts))
	}
}

// validateSections checks the kind-specific sections.
func validateSections(p *problems, d *Device) {
	need := func(present bool, section string) bool {
		if !present {
			// The section is absent, so point at the kind that demands it.
			p.addAt(p.ix.line("kind"), section, fmt.Sprintf("required for kind %s: a [%s] section", d.Kind, section), nil)
		}
		return present
	}
	switch d.Kind {
	case PIM:
		need(d.PIM != nil, "pim")
	case FPGA:
		need(d.FPGA != nil, "fpga")
	case CSD:
		need(d.CSD != nil, "csd")
	case Flash, SSD:
		need(d.Flash != nil, "flash")
	}
	if g := d.PIM; g != nil {
		countPositive(p, "pim.channels", g.Channels)
		countPositive(p, "pim.banks_per_channel", g.BanksPerChannel)
		positive(p, "pim.bank_bytes", g.BankBytes)
		positive(p, "pim.bank_bytes_per_second", g.BankBytesPerSecond)
		positive(p, "pim.bank_flops_per_second", g.BankFLOPSPerSecond)
		nonNegative(p, "pim.row_bytes", g.RowBytes)
		nonNegative(p, "pim.row_activate_seconds", g.RowActivateSeconds)
		nonNegative(p, "pim.channel_bytes_per_second", g.ChannelBytesPerSecond)
		nonNegative(p, "pim.command_seconds", g.CommandSeconds)
		if g.DType != "" {
			if t, err := dtype.Parse(g.DType); err != nil {
				p.add("pim.dtype", "%v", err)
			} else {
				g.DType = string(t)
			}
		}
	}
	if f := d.FPGA; f != nil {
		countPositive(p, "fpga.dsps", f.DSPs)
		positive(p, "fpga.clock_hz", f.ClockHz)
		positive(p, "fpga.ops_per_dsp_per_cycle", f.OpsPerDSPPerCycle)
		nonNegative(p, "fpga.onchip_bytes", f.OnChipBytes)
		if f.HBMChannels < 0 {
			p.add("fpga.hbm_channels", "must be >= 0, got %d", f.HBMChannels)
		}
		if !finite(f.SparseEfficiency) || f.SparseEfficiency < 0 || f.SparseEfficiency > 1 {
			p.add("fpga.sparse_efficiency", "must be in [0, 1], got %s", formatFloat(f.SparseEfficiency))
		}
	}
	if c := d.CSD; c != nil {
		countPositive(p, "csd.nand_channels", c.NANDChannels)
		positive(p, "csd.channel_bytes_per_second", c.ChannelBytesPerSecond)
		positive(p, "csd.internal_bytes_per_second", c.InternalBytesPerSecond)
	}
	if f := d.Flash; f != nil {
		validateCurve(p, "flash.read_curve", f.ReadCurve)
		if f.QueueDepth < 0 {
			p.add("flash.queue_depth", "must be >= 0, got %d", f.QueueDepth)
		}
		nonNegative(p, "flash.write_bytes_per_second", f.WriteBytesPerSecond)
	}
}

func positive(p *problems, key string, v float64) {
	if !finite(v) || v <= 0 {
		p.add(key, "must be a positive finite number, got %s", formatFloat(v))
	}
}

func nonNegative(p *problems, key string, v float64) {
	if !finite(v) || v < 0 {
		p.add(key, "must be a finite number >= 0, got %s", formatFloat(v))
	}
}

func countPositive(p *problems, key string, v int) {
	if v <= 0 {
		p.add(key, "must be a positive integer, got %d", v)
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func knownKind(k Kind) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// validateCurves checks every curve of a per-class table under prefix, in
// key order, rejecting classes not in known.
func validateCurves(p *problems, prefix string, known []string, curves map[string]Curve) {
	classes := make([]string, 0, len(curves))
	for c := range curves {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		if !contains(known, c) {
			p.add(prefix+c, "unknown op class %q (known: %s)", c, strings.Join(known, ", "))
			continue
		}
		validateCurve(p, prefix+c, curves[c])
	}
}
