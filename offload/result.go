package offload

import (
	"math"
	"sort"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/sim"
)

// Result is what a scheme run produces. JSON names are the CLI's output
// fields (docs/OFFLOAD.md explains each).
type Result struct {
	Scheme string `json:"scheme"`
	System string `json:"hardware"`
	Model  string `json:"model"`
	Batch  int    `json:"batch"`
	Prompt int    `json:"prompt"`
	Output int    `json:"output"`

	PrefillSeconds float64 `json:"prefill_seconds"`
	DecodeSeconds  float64 `json:"decode_seconds"`
	Seconds        float64 `json:"seconds"`
	// TokensPerSecond is generated tokens (batch × output) over the whole
	// run, prefill included (FlexGen's "generation throughput").
	TokensPerSecond float64 `json:"tokens_per_second"`
	// DecodeTokensPerSecond is batch × (output-1) over the decode time.
	DecodeTokensPerSecond float64 `json:"decode_tokens_per_second"`
	// FLOPs is the model arithmetic of the whole run.
	FLOPs float64 `json:"flops"`

	Memory []TierUse `json:"memory"`
	Fits   bool      `json:"fits"`

	Resources []ResourceUse      `json:"resources"`
	Breakdown map[string]float64 `json:"breakdown_seconds"`
	Energy    Energy             `json:"energy"`
	// Extra holds scheme-specific metrics (e.g. hit rates, bytes read per
	// token); scenarios may check them by name.
	Extra map[string]float64 `json:"extra,omitempty"`
	Notes []string           `json:"notes,omitempty"`
}

// TierUse is the memory one tier holds at its peak.
type TierUse struct {
	Group           string  `json:"group"`
	Device          string  `json:"device"`
	Tier            string  `json:"tier"`
	WeightsBytes    float64 `json:"weights_bytes"`
	KVBytes         float64 `json:"kv_bytes"`
	ActivationBytes float64 `json:"activation_bytes"`
	// WorkingBytes are staging buffers: streamed weights, KV of the batch
	// being computed, reserves.
	WorkingBytes  float64 `json:"working_bytes"`
	TotalBytes    float64 `json:"total_bytes"`
	CapacityBytes float64 `json:"capacity_bytes"`
	Fits          bool    `json:"fits"`
}

func (u *TierUse) close() {
	u.TotalBytes = u.WeightsBytes + u.KVBytes + u.ActivationBytes + u.WorkingBytes
	u.Fits = u.TotalBytes <= u.CapacityBytes*(1+1e-9)
}

// ResourceUse is how busy one resource of the executed graphs was.
type ResourceUse struct {
	Name        string  `json:"name"`
	Group       string  `json:"group,omitempty"`
	BusySeconds float64 `json:"busy_seconds"`
	Utilisation float64 `json:"utilisation"`
	Bytes       float64 `json:"bytes"`
}

// Energy is the energy and cost of a run over every device of the system.
type Energy struct {
	Joules              float64 `json:"joules"`
	JoulesPerToken      float64 `json:"joules_per_token"`
	AverageWatts        float64 `json:"average_watts"`
	USD                 float64 `json:"usd"`
	USDPerMillionTokens float64 `json:"usd_per_million_tokens"`
	// PurchaseUSD is the price of buying every device (0 where unknown).
	PurchaseUSD float64 `json:"purchase_usd"`
	// DecodeJoulesPerToken is the energy of the decode steps alone (every
	// device over the decode seconds) per token they generate; 0 when the
	// run has no separate decode phase.
	DecodeJoulesPerToken float64 `json:"decode_joules_per_token,omitempty"`
	// Devices lists each group's share.
	Devices []DeviceEnergy `json:"devices"`
}

// DeviceEnergy is one group's energy and rent.
type DeviceEnergy struct {
	Group        string  `json:"group"`
	Device       string  `json:"device"`
	Count        int     `json:"count"`
	Utilisation  float64 `json:"utilisation"`
	Joules       float64 `json:"joules"`
	AverageWatts float64 `json:"average_watts"`
	USD          float64 `json:"usd"`
}

// Metric returns a named number of the result, for scenarios: batch,
// tokens_per_second, decode_tokens_per_second, seconds, prefill_seconds,
// decode_seconds, seconds_per_token (decode time per step), tflops,
// joules_per_token, tokens_per_joule, decode_joules_per_token (decode
// steps only), average_watts, usd,
// usd_per_million_tokens, tokens_per_second_per_usd_hour and
// decode_tokens_per_second_per_usd_hour (rent of all devices),
// decode_tokens_per_second_per_kusd (purchase price), or an Extra key.
func (r *Result) Metric(name string) (float64, bool) {
	switch name {
	case "tokens_per_second":
		return r.TokensPerSecond, true
	case "batch":
		return float64(r.Batch), true
	case "decode_tokens_per_second":
		return r.DecodeTokensPerSecond, true
	case "seconds":
		return r.Seconds, true
	case "prefill_seconds":
		return r.PrefillSeconds, true
	case "decode_seconds":
		return r.DecodeSeconds, true
	case "seconds_per_token":
		if r.Output <= 1 {
			return r.PrefillSeconds, true
		}
		return r.DecodeSeconds / float64(r.Output-1), true
	case "tflops":
		return r.FLOPs / r.Seconds / 1e12, r.Seconds > 0
	case "joules_per_token":
		return r.Energy.JoulesPerToken, true
	case "tokens_per_joule":
		return 1 / r.Energy.JoulesPerToken, r.Energy.JoulesPerToken > 0
	case "decode_joules_per_token":
		return r.Energy.DecodeJoulesPerToken, r.Energy.DecodeJoulesPerToken > 0
	case "average_watts":
		return r.Energy.AverageWatts, true
	case "usd":
		return r.Energy.USD, true
	case "usd_per_million_tokens":
		return r.Energy.USDPerMillionTokens, true
	case "tokens_per_second_per_usd_hour":
		h := r.Energy.USD / r.Seconds * 3600
		return r.TokensPerSecond / h, h > 0
	case "decode_tokens_per_second_per_usd_hour":
		h := r.Energy.USD / r.Seconds * 3600
		return r.DecodeTokensPerSecond / h, h > 0
	case "decode_tokens_per_second_per_kusd":
		return r.DecodeTokensPerSecond / (r.Energy.PurchaseUSD / 1000), r.Energy.PurchaseUSD > 0
	}
	v, ok := r.Extra[name]
	return v, ok
}

// usage accumulates executed graphs over the steps of a run.
type usage struct {
	resources []Resource
	busyNanos []float64
	bytes     []float64
	flops     []float64
	tagSecs   [nTags]float64
	// prefill holds busy time, bytes and FLOPs after the prefill step
	// (markPrefill), so that the decode steps can be priced alone.
	prefill *usage
}

// markPrefill records the usage so far as the prefill step's.
func (u *usage) markPrefill() {
	u.prefill = &usage{resources: u.resources, busyNanos: append([]float64(nil), u.busyNanos...),
		bytes: append([]float64(nil), u.bytes...), flops: append([]float64(nil), u.flops...)}
}

// decode is the usage of the steps after the prefill mark.
func (u *usage) decode() *usage {
	d := newUsage(u.resources)
	for i := range u.busyNanos {
		d.busyNanos[i] = u.busyNanos[i] - u.prefill.busyNanos[i]
		d.bytes[i] = u.bytes[i] - u.prefill.bytes[i]
		d.flops[i] = u.flops[i] - u.prefill.flops[i]
	}
	return d
}

// busyByGroup is each group's busiest resource's busy seconds.
func (u *usage) busyByGroup() map[string]float64 {
	busy := map[string]float64{}
	for i, res := range u.resources {
		if res.Group != "" {
			busy[res.Group] = max(busy[res.Group], u.busyNanos[i]/sim.NanosPerSecond)
		}
	}
	return busy
}

func (u *usage) add(r Run, weight float64) {
	for i := range r.BusyNanos {
		u.busyNanos[i] += weight * float64(r.BusyNanos[i])
		u.bytes[i] += weight * r.Bytes[i]
		u.flops[i] += weight * r.FLOPs[i]
	}
	for i := range r.TagSeconds {
		u.tagSecs[i] += weight * r.TagSeconds[i]
	}
}

func newUsage(res []Resource) *usage {
	n := len(res)
	return &usage{resources: res, busyNanos: make([]float64, n), bytes: make([]float64, n), flops: make([]float64, n)}
}

// finish fills the timing, resource, breakdown and energy fields of r.
func (u *usage) finish(r *Result, sys *hw.System, w Workload) {
	r.Seconds = r.PrefillSeconds + r.DecodeSeconds
	r.Batch, r.Prompt, r.Output = w.Batch, w.Prompt, w.Output
	if r.Seconds > 0 {
		r.TokensPerSecond = w.Tokens() / r.Seconds
	}
	if r.DecodeSeconds > 0 {
		r.DecodeTokensPerSecond = float64(w.Batch*(w.Output-1)) / r.DecodeSeconds
	}
	r.Breakdown = map[string]float64{}
	for i, s := range u.tagSecs {
		if s > 0 && Tag(i) != TagSync {
			r.Breakdown[Tag(i).String()] = s
		}
	}
	for i, res := range u.resources {
		busy := u.busyNanos[i] / sim.NanosPerSecond
		ru := ResourceUse{Name: res.Name, Group: res.Group, BusySeconds: busy, Bytes: u.bytes[i]}
		if r.Seconds > 0 {
			ru.Utilisation = math.Min(1, busy/r.Seconds)
		}
		r.Resources = append(r.Resources, ru)
	}
	r.Energy = systemEnergy(sys, u, u.busyByGroup(), r.Seconds, w.Tokens())
	if u.prefill != nil && r.DecodeSeconds > 0 {
		d := u.decode()
		r.Energy.DecodeJoulesPerToken = systemEnergy(sys, d, d.busyByGroup(), r.DecodeSeconds, float64(w.Batch*(w.Output-1))).JoulesPerToken
	}
	fits := true
	for _, t := range r.Memory {
		fits = fits && t.Fits
	}
	r.Fits = fits
}

// systemEnergy prices a run of seconds on every group of sys. A group's
// utilisation is the busiest of its resources; a device with per-byte or
// per-FLOP energies draws idle power plus those, else idle power plus its
// active-minus-idle swing times utilisation (the hw.Power convention).
func systemEnergy(sys *hw.System, u *usage, busyByGroup map[string]float64, seconds, tokens float64) Energy {
	var e Energy
	if seconds <= 0 {
		return e
	}
	groups := make([]string, 0, len(sys.Groups))
	for _, g := range sys.Groups {
		groups = append(groups, g.Name)
	}
	sort.Strings(groups)
	for _, name := range groups {
		g := sys.Group(name)
		d, n := g.Device, float64(g.Count)
		util := math.Min(1, busyByGroup[name]/seconds)
		var joules float64
		p := d.Power
		if p.JoulesPerByte > 0 || p.JoulesPerFLOP > 0 {
			var bytes, flops float64
			for i, res := range u.resources {
				if res.Group == name {
					bytes += u.bytes[i]
					flops += u.flops[i]
				}
			}
			joules = n*p.IdleWatts*seconds + p.JoulesPerByte*bytes + p.JoulesPerFLOP*flops
		} else {
			joules = n * (p.IdleWatts + (p.ActiveWatts-p.IdleWatts)*util) * seconds
		}
		usd := n * d.Price.USDPerHour * seconds / 3600
		e.Devices = append(e.Devices, DeviceEnergy{Group: name, Device: d.Name, Count: g.Count, Utilisation: util,
			Joules: joules, AverageWatts: joules / seconds, USD: usd})
		e.Joules += joules
		e.USD += usd
		e.PurchaseUSD += n * d.Price.USD
	}
	e.AverageWatts = e.Joules / seconds
	if tokens > 0 {
		e.JoulesPerToken = e.Joules / tokens
		e.USDPerMillionTokens = e.USD / tokens * 1e6
	}
	return e
}

// IdleWatts is the power every device of sys draws while idle: what
// systemEnergy charges each group for the seconds of a run whatever its
// utilisation.
func IdleWatts(sys *hw.System) float64 {
	var w float64
	for _, g := range sys.Groups {
		w += float64(g.Count) * g.Device.Power.IdleWatts
	}
	return w
}

// USDPerHour is the rent of every device of sys, which systemEnergy
// charges for the seconds of a run.
func USDPerHour(sys *hw.System) float64 {
	var usd float64
	for _, g := range sys.Groups {
		usd += float64(g.Count) * g.Device.Price.USDPerHour
	}
	return usd
}

// JoulesAboveIdle is r's energy beyond the idle power of every device of
// sys (the system r ran on) over r.Seconds: the devices' active swing by
// utilisation and their per-byte and per-FLOP energies.
func (r *Result) JoulesAboveIdle(sys *hw.System) float64 {
	return r.Energy.Joules - IdleWatts(sys)*r.Seconds
}
