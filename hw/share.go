package hw

// SharedHost is s as one of members accelerators that share one host: the
// view an offloaded replica has when several replicas run on one machine
// (simulate --host-share). Every group except the accelerator's (the host
// CPU, disks, computational storage, PIM or memory pools) gives each member
// 1/members of its memory capacity, power and rent, and runs at
// 1/share[group] of its compute and memory rates (share[group] >= 1: the
// demand the other members put on it now; a missing group runs at its full
// rate). A link between two such groups runs at 1/max of their shares. The
// accelerator and the links that touch it are the member's own, as each GPU
// of a server has its own PCIe lanes; they are not capped by the host
// memory's share (a server's DRAM feeds all its GPUs' links at once: 8 ×
// 55 GB/s against several hundred GB/s of DDR5). Efficiency curves and
// per-byte and per-FLOP energies are unchanged. s is not modified.
func (s *System) SharedHost(members int, share map[string]float64) *System {
	cp := *s
	cp.Groups = append([]Group(nil), s.Groups...)
	cp.Links = append([]Link(nil), s.Links...)
	acc := s.Primary().Name
	n := float64(max(members, 1))
	rate := func(group string) float64 {
		if f := share[group]; f > 1 {
			return f
		}
		return 1
	}
	for i := range cp.Groups {
		g := &cp.Groups[i]
		if g.Name == acc || g.Device == nil {
			continue
		}
		g.Device = g.Device.shared(n, rate(g.Name))
	}
	for i := range cp.Links {
		l := &cp.Links[i]
		if l.Between[0] == acc || l.Between[1] == acc {
			continue
		}
		l.BytesPerSecond /= max(rate(l.Between[0]), rate(l.Between[1]))
	}
	return &cp
}

// shared is a copy of d holding 1/members of its capacity, power and rent
// and running at 1/share of its rates.
func (d *Device) shared(members, share float64) *Device {
	cp := *d
	cp.Compute.FLOPSPerSecond = make(map[string]float64, len(d.Compute.FLOPSPerSecond))
	for k, v := range d.Compute.FLOPSPerSecond {
		cp.Compute.FLOPSPerSecond[k] = v / share
	}
	cp.Memory = append([]MemoryTier(nil), d.Memory...)
	for i := range cp.Memory {
		m := &cp.Memory[i]
		m.CapacityBytes /= members
		m.ReservedBytes /= members
		m.BytesPerSecond /= share
	}
	cp.Power.IdleWatts /= members
	cp.Power.ActiveWatts /= members
	cp.Price.USDPerHour /= members
	cp.Price.USD /= members
	if d.Flash != nil {
		f := *d.Flash
		f.WriteBytesPerSecond /= share
		cp.Flash = &f
	}
	if d.CSD != nil {
		c := *d.CSD
		c.ChannelBytesPerSecond /= share
		c.InternalBytesPerSecond /= share
		cp.CSD = &c
	}
	if d.PIM != nil {
		p := *d.PIM
		p.BankBytesPerSecond /= share
		p.BankFLOPSPerSecond /= share
		p.ChannelBytesPerSecond /= share
		cp.PIM = &p
	}
	return &cp
}
