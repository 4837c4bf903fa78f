package sweep

import (
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/llmsim/llmsim/hw"
)

// knob is a hardware parameter DSE varies: get reads the base value, set
// writes a new one into a copy of the system (dev is its primary device).
type knob struct {
	doc string
	get func(sys *hw.System, dev *hw.Device) (float64, error)
	set func(sys *hw.System, dev *hw.Device, v float64)
}

// knobs are the hardware parameters DSE can vary, by name. Values are
// absolute (values = [...]) or multipliers of the base device's (scale =
// [...]). Rates per second, sizes in bytes.
var knobs = map[string]knob{
	"memory.bandwidth": {"main-memory bandwidth, bytes/s",
		func(_ *hw.System, d *hw.Device) (float64, error) { return d.Memory[0].BytesPerSecond, nil },
		func(_ *hw.System, d *hw.Device, v float64) { d.Memory[0].BytesPerSecond = v }},
	"memory.capacity": {"main-memory capacity, bytes",
		func(_ *hw.System, d *hw.Device) (float64, error) { return d.Memory[0].CapacityBytes, nil },
		func(_ *hw.System, d *hw.Device, v float64) { d.Memory[0].CapacityBytes = v }},
	"compute": {"every dense compute peak, as a multiple of the base (scale only)",
		func(*hw.System, *hw.Device) (float64, error) { return 1, nil },
		func(_ *hw.System, d *hw.Device, v float64) { scalePeaks(d, v) }},
	"price": {"rental price, USD/hour",
		func(_ *hw.System, d *hw.Device) (float64, error) { return d.Price.USDPerHour, nil },
		func(_ *hw.System, d *hw.Device, v float64) { d.Price.USDPerHour = v }},
	"power": {"board power at full load, W",
		func(_ *hw.System, d *hw.Device) (float64, error) { return d.Power.ActiveWatts, nil },
		func(_ *hw.System, d *hw.Device, v float64) { d.Power.ActiveWatts = v }},
	"overhead.kernel": {"fixed cost per kernel, s",
		func(_ *hw.System, d *hw.Device) (float64, error) { return d.Overhead.KernelSeconds, nil },
		func(_ *hw.System, d *hw.Device, v float64) { d.Overhead.KernelSeconds = v }},
	"overhead.step": {"fixed cost per forward step, s",
		func(_ *hw.System, d *hw.Device) (float64, error) { return d.Overhead.StepSeconds, nil },
		func(_ *hw.System, d *hw.Device, v float64) { d.Overhead.StepSeconds = v }},
	"link.bandwidth": {"every link of the system, bytes/s per direction (tensor parallelism, swapping, KV hand-off: simulate mode)",
		func(s *hw.System, _ *hw.Device) (float64, error) {
			if len(s.Links) == 0 {
				return 0, fmt.Errorf("system %s has no links", s.Name)
			}
			return s.Links[0].BytesPerSecond, nil
		},
		func(s *hw.System, _ *hw.Device, v float64) {
			base := s.Links[0].BytesPerSecond
			for i := range s.Links {
				s.Links[i].BytesPerSecond *= v / base
			}
		}},
	"pim.banks": {"PIM banks per channel; the in-bank compute peaks scale with the bank count",
		pimGet(func(p *hw.PIMGeometry) float64 { return float64(p.BanksPerChannel) }),
		pimSet(func(p *hw.PIMGeometry, v float64) { p.BanksPerChannel = int(v) }, func(p *hw.PIMGeometry) float64 { return float64(p.BanksPerChannel) })},
	"pim.channels": {"PIM channels; the in-bank compute peaks scale with the channel count",
		pimGet(func(p *hw.PIMGeometry) float64 { return float64(p.Channels) }),
		pimSet(func(p *hw.PIMGeometry, v float64) { p.Channels = int(v) }, func(p *hw.PIMGeometry) float64 { return float64(p.Channels) })},
	"fpga.dsps": {"FPGA DSP slices; compute peaks scale with them",
		func(_ *hw.System, d *hw.Device) (float64, error) {
			if d.FPGA == nil {
				return 0, fmt.Errorf("device %s has no [fpga] section", d.Name)
			}
			return float64(d.FPGA.DSPs), nil
		},
		func(_ *hw.System, d *hw.Device, v float64) {
			scalePeaks(d, v/float64(d.FPGA.DSPs))
			d.FPGA.DSPs, d.Compute.Units = int(v), int(v)
		}},
	"csd.channels": {"NAND channels of a computational storage drive; internal and flash-tier bandwidth scale with them",
		func(_ *hw.System, d *hw.Device) (float64, error) {
			if d.CSD == nil {
				return 0, fmt.Errorf("device %s has no [csd] section", d.Name)
			}
			return float64(d.CSD.NANDChannels), nil
		},
		func(_ *hw.System, d *hw.Device, v float64) {
			ratio := v / float64(d.CSD.NANDChannels)
			d.CSD.NANDChannels = int(v)
			d.CSD.InternalBytesPerSecond *= ratio
			for i := 1; i < len(d.Memory); i++ {
				if n := strings.ToLower(d.Memory[i].Name); strings.Contains(n, "nand") || strings.Contains(n, "flash") {
					d.Memory[i].BytesPerSecond *= ratio
				}
			}
		}},
}

// computeKnob matches compute.DTYPE: one peak, absolute or scaled.
func computeKnob(dt string) knob {
	return knob{"dense peak of " + dt + ", FLOP/s",
		func(_ *hw.System, d *hw.Device) (float64, error) {
			v, ok := d.Compute.FLOPSPerSecond[dt]
			if !ok {
				return 0, fmt.Errorf("device %s lists no %s peak", d.Name, dt)
			}
			return v, nil
		},
		func(_ *hw.System, d *hw.Device, v float64) { d.Compute.FLOPSPerSecond[dt] = v }}
}

func lookupKnob(name string) (knob, error) {
	if k, ok := knobs[name]; ok {
		return k, nil
	}
	if dt, ok := strings.CutPrefix(name, "compute."); ok && dt != "" {
		return computeKnob(dt), nil
	}
	return knob{}, fmt.Errorf("unknown knob %q (known: %s, compute.DTYPE)", name, strings.Join(KnobNames(), ", "))
}

// KnobNames lists the DSE knobs.
func KnobNames() []string {
	out := make([]string, 0, len(knobs))
	for k := range knobs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// KnobHelp describes every knob, one per line.
func KnobHelp() string {
	var b strings.Builder
	for _, n := range KnobNames() {
		fmt.Fprintf(&b, "  %-18s %s\n", n, knobs[n].doc)
	}
	fmt.Fprintf(&b, "  %-18s %s\n", "compute.DTYPE", "dense peak of one format (compute.bf16, compute.fp8, ...), FLOP/s")
	return b.String()
}

func scalePeaks(d *hw.Device, factor float64) {
	for k, v := range d.Compute.FLOPSPerSecond {
		d.Compute.FLOPSPerSecond[k] = v * factor
	}
}

func pimGet(f func(*hw.PIMGeometry) float64) func(*hw.System, *hw.Device) (float64, error) {
	return func(_ *hw.System, d *hw.Device) (float64, error) {
		if d.PIM == nil {
			return 0, fmt.Errorf("device %s has no [pim] section", d.Name)
		}
		return f(d.PIM), nil
	}
}

func pimSet(set func(*hw.PIMGeometry, float64), get func(*hw.PIMGeometry) float64) func(*hw.System, *hw.Device, float64) {
	return func(_ *hw.System, d *hw.Device, v float64) {
		scalePeaks(d, v/get(d.PIM))
		set(d.PIM, v)
	}
}

// cloneSystem copies what knobs may change: the primary device (its
// memory tiers, peaks and optional sections) and the links.
func cloneSystem(s *hw.System) (*hw.System, *hw.Device) {
	c := *s
	c.Groups = append([]hw.Group(nil), s.Groups...)
	c.Links = append([]hw.Link(nil), s.Links...)
	g := c.Primary()
	d := *g.Device
	d.Memory = append([]hw.MemoryTier(nil), d.Memory...)
	d.Compute.FLOPSPerSecond = maps.Clone(d.Compute.FLOPSPerSecond)
	if d.PIM != nil {
		p := *d.PIM
		d.PIM = &p
	}
	if d.FPGA != nil {
		f := *d.FPGA
		d.FPGA = &f
	}
	if d.CSD != nil {
		x := *d.CSD
		d.CSD = &x
	}
	g.Device = &d
	return &c, &d
}

// knobValues expands a knob's values = [...] or scale = [...] to absolute
// values.
func knobValues(ks KnobSpec, base float64) ([]string, error) {
	switch {
	case ks.Values != nil && ks.Scale != nil:
		return nil, fmt.Errorf("give values or scale, not both")
	case ks.Values != nil:
		if ks.Name == "compute" {
			return nil, fmt.Errorf("compute takes scale only (use compute.DTYPE for absolute peaks)")
		}
		return FileValues(ks.Name, Float, ks.Values)
	case ks.Scale != nil:
		scales, err := FileValues(ks.Name, Float, ks.Scale)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(scales))
		for i, s := range scales {
			f, _ := strconv.ParseFloat(s, 64)
			out[i] = strconv.FormatFloat(f*base, 'g', -1, 64)
		}
		return out, nil
	}
	return nil, fmt.Errorf("give values = [...] or scale = [...]")
}

// variants counts the hardware variants: the product of the knobs' values.
func (d *DSE) variants(s *Space) int {
	n := 1
	for _, a := range d.knobAxes {
		n *= len(s.Axes[a].Values)
	}
	return n
}

// variantOf is the variant of the point idx.
func (d *DSE) variantOf(s *Space, idx []int) int {
	v := 0
	for _, a := range d.knobAxes {
		v = v*len(s.Axes[a].Values) + idx[a]
	}
	return v
}

// variant builds hardware variant v: a copy of the base system with the
// knobs set and the price and power grown by their exponents.
func (d *DSE) variant(s *Space, v int) (*hw.System, *hw.Device) {
	idx := make([]int, len(s.Axes))
	rest := v
	for k := len(d.knobAxes) - 1; k >= 0; k-- {
		n := len(s.Axes[d.knobAxes[k]].Values)
		idx[d.knobAxes[k]] = rest % n
		rest /= n
	}
	spec := d.Spec
	sys, _ := d.loader.Hardware(spec.HW)
	vs, dev := cloneSystem(sys)
	priceF, powerF := 1.0, 1.0
	for k, a := range d.knobAxes {
		val := s.Num(a, idx)
		d.knobs[k].set(vs, dev, val)
		if d.base[k] > 0 {
			priceF *= math.Pow(val/d.base[k], spec.Knobs[k].PriceExponent)
			powerF *= math.Pow(val/d.base[k], spec.Knobs[k].PowerExponent)
		}
	}
	// An explicit price or power knob wins over the exponents.
	if !d.varies("price") {
		dev.Price.USDPerHour *= priceF
	}
	if !d.varies("power") {
		dev.Power.ActiveWatts *= powerF
	}
	return vs, dev
}

func (d *DSE) varies(knob string) bool {
	for _, k := range d.Spec.Knobs {
		if k.Name == knob {
			return true
		}
	}
	return false
}
