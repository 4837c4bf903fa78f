package roofline

import "github.com/llmsim/llmsim/hw"

// Energy is the energy and money a piece of work costs on one device.
type Energy struct {
	Joules       float64
	AverageWatts float64
	USD          float64 // rented time at the device's price per hour
}

// EnergyOf prices seconds of work that did flops operations and moved bytes
// on dev. With per-byte and per-FLOP energies in the description, energy is
// idle power over the time plus those dynamic energies; otherwise the device
// draws idle power plus its active-minus-idle swing scaled by how busy the
// busier of its two roofs was (utilisation = achieved / peak rate).
func EnergyOf(dev *hw.Device, seconds, flops, bytes, peakFLOPS float64) Energy {
	if seconds <= 0 {
		return Energy{}
	}
	p := dev.Power
	var joules float64
	if p.JoulesPerByte > 0 || p.JoulesPerFLOP > 0 {
		joules = p.IdleWatts*seconds + p.JoulesPerByte*bytes + p.JoulesPerFLOP*flops
	} else {
		util := 0.0
		if peakFLOPS > 0 {
			util = flops / (peakFLOPS * seconds)
		}
		if bw := dev.MainMemory().BytesPerSecond; bw > 0 {
			util = max(util, bytes/(bw*seconds))
		}
		util = min(util, 1)
		joules = (p.IdleWatts + (p.ActiveWatts-p.IdleWatts)*util) * seconds
	}
	return Energy{Joules: joules, AverageWatts: joules / seconds, USD: dev.Price.USDPerHour * seconds / 3600}
}
