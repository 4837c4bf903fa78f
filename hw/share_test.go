package hw

import "testing"

// SharedHost on h200-node (H200 + Xeon host + NVMe) for one of 4
// accelerators, with the host CPU at share 2: the CPU group keeps a
// quarter of its memory, idle and active power and rent, and runs at half
// its FLOP/s and memory bandwidth; the NVMe group keeps a quarter of its
// capacity at full rate; the NVMe↔CPU link runs at half (its busier end);
// the GPU and its PCIe link are untouched; the original is not modified.
func TestSharedHost(t *testing.T) {
	sys, err := Load("h200-node")
	if err != nil {
		t.Fatal(err)
	}
	s := sys.SharedHost(4, map[string]float64{"cpu": 2})
	cpu0, cpu := sys.Group("cpu").Device, s.Group("cpu").Device
	if cpu.MainMemory().CapacityBytes != cpu0.MainMemory().CapacityBytes/4 || cpu.MainMemory().BytesPerSecond != cpu0.MainMemory().BytesPerSecond/2 {
		t.Errorf("cpu memory %g B at %g B/s, want %g at %g", cpu.MainMemory().CapacityBytes, cpu.MainMemory().BytesPerSecond,
			cpu0.MainMemory().CapacityBytes/4, cpu0.MainMemory().BytesPerSecond/2)
	}
	for k, v := range cpu0.Compute.FLOPSPerSecond {
		if cpu.Compute.FLOPSPerSecond[k] != v/2 {
			t.Errorf("cpu %s peak %g, want %g", k, cpu.Compute.FLOPSPerSecond[k], v/2)
		}
	}
	if cpu.Power.IdleWatts != cpu0.Power.IdleWatts/4 || cpu.Power.ActiveWatts != cpu0.Power.ActiveWatts/4 || cpu.Price.USDPerHour != cpu0.Price.USDPerHour/4 {
		t.Errorf("cpu power %g/%g W, rent %g $/h: want a quarter of %g/%g, %g", cpu.Power.IdleWatts, cpu.Power.ActiveWatts, cpu.Price.USDPerHour,
			cpu0.Power.IdleWatts, cpu0.Power.ActiveWatts, cpu0.Price.USDPerHour)
	}
	nv0, nv := sys.Group("nvme").Device, s.Group("nvme").Device
	if nv.MainMemory().CapacityBytes != nv0.MainMemory().CapacityBytes/4 || nv.MainMemory().BytesPerSecond != nv0.MainMemory().BytesPerSecond {
		t.Errorf("nvme %g B at %g B/s, want a quarter of the capacity at full rate", nv.MainMemory().CapacityBytes, nv.MainMemory().BytesPerSecond)
	}
	if s.Group("gpu").Device != sys.Group("gpu").Device {
		t.Error("the accelerator was copied or changed")
	}
	if l, l0 := s.LinkBetween("gpu", "cpu"), sys.LinkBetween("gpu", "cpu"); l.BytesPerSecond != l0.BytesPerSecond {
		t.Errorf("GPU link %g B/s, want its own %g", l.BytesPerSecond, l0.BytesPerSecond)
	}
	if l, l0 := s.LinkBetween("nvme", "cpu"), sys.LinkBetween("nvme", "cpu"); l.BytesPerSecond != l0.BytesPerSecond/2 {
		t.Errorf("NVMe link %g B/s, want half of %g", l.BytesPerSecond, l0.BytesPerSecond)
	}
	if sys.Group("cpu").Device.MainMemory().CapacityBytes != cpu0.MainMemory().CapacityBytes || sys.Links[1].BytesPerSecond != 16e9 {
		t.Error("the original system changed")
	}
	// No share: capacity and power split, rates whole.
	if d := sys.SharedHost(2, nil).Group("cpu").Device; d.MainMemory().BytesPerSecond != cpu0.MainMemory().BytesPerSecond {
		t.Errorf("unshared rate %g, want %g", d.MainMemory().BytesPerSecond, cpu0.MainMemory().BytesPerSecond)
	}
}
