package replica

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/llmsim/llmsim/models"
)

// Offloaded replicas that share one host (Config.HostShare).
//
// Each member prices its iterations on hw.System.SharedHost: its own
// accelerator and links, 1/HostShare of the host's memory, power and rent,
// and the host's groups (CPU, disks, CSDs) slowed by the other members'
// demand. The demand is a fluid one: an iteration priced alone keeps group
// g busy for a fraction u_g of its time (offload.StepCost.HostBusySeconds /
// its seconds). While iterations overlap, member i runs at
//
//	share_g(i) = 1 + Σ_{j ≠ i in flight} u_g(j)
//
// (quantised up to quarters), i.e. group g's rates divided by the expected
// number of members on it, and its iteration progresses at 1/duration at
// those shares. Whenever a member starts or ends an iteration the host
// re-prices every iteration in flight from its remaining fraction and
// moves its end. A member alone runs exactly as an unshared replica on
// the split system. What this leaves out: demand is an iteration's
// average, not its phases (two members whose CPU bursts alternate are
// priced as if they overlapped), and links that touch the accelerator are
// each member's own (hw.System.SharedHost).
type Host struct {
	members []*Replica
	groups  []string // the host's groups, sorted (the share vector's order)
}

// NewHost makes an empty host.
func NewHost() *Host { return &Host{} }

// Join adds r, an offloaded replica whose Config.HostShare > 1, to h.
func (h *Host) Join(r *Replica) {
	h.members = append(h.members, r)
	r.shared = &sharedState{host: h, execs: map[string]*Executor{}}
	sys := r.cfg.hostSystem
	acc := sys.Primary().Name
	for _, g := range sys.Groups {
		if g.Name != acc && !slices.Contains(h.groups, g.Name) {
			h.groups = append(h.groups, g.Name)
		}
	}
	slices.Sort(h.groups)
}

// sharedState is a member's iteration in flight.
type sharedState struct {
	host      *Host
	active    bool
	slot      int
	seqs      []models.Seq
	usage     map[string]float64 // u_g of the iteration, priced alone
	remaining float64            // fraction of the iteration left
	nanos     float64            // its duration at the current shares
	last      int64              // when remaining was last brought up to date
	end       int64
	gen       int64 // generation of the pending StepDone event
	share     []float64
	execs     map[string]*Executor // by share vector
	err       error
}

// stepArg packs a slot and a generation into a StepDone event's Arg.
func stepArg(slot int, gen int64) int64 { return gen<<8 | int64(slot) }

// startShared puts slot s's batch, priced alone as c, in flight at now.
func (r *Replica) startShared(s int, now int64, c *StepCost) {
	st := r.shared
	st.active, st.slot = true, s
	st.seqs = append(st.seqs[:0], r.seqs...)
	total := c.Seconds()
	clear(st.usage)
	if st.usage == nil {
		st.usage = map[string]float64{}
	}
	for g, b := range c.HostBusySeconds {
		if total > 0 {
			st.usage[g] = min(b/total, 1)
		}
	}
	st.remaining, st.last, st.nanos = 1, now, 0
	st.host.rebalance(now)
}

// finishShared ends the member's iteration at now; the others speed up.
func (r *Replica) finishShared(now int64) {
	st := r.shared
	st.active = false
	st.host.rebalance(now)
}

// rebalance brings every iteration in flight up to now and re-prices it
// at the shares the others' demand sets, moving its end.
func (h *Host) rebalance(now int64) {
	for _, m := range h.members {
		st := m.shared
		if st.active && st.nanos > 0 {
			st.remaining = max(st.remaining-float64(now-st.last)/st.nanos, 0)
		}
		st.last = now
	}
	for _, m := range h.members {
		st := m.shared
		if !st.active {
			continue
		}
		share := st.share[:0]
		for _, g := range h.groups {
			f := 1.0
			for _, o := range h.members {
				if o != m && o.shared.active {
					f += o.shared.usage[g]
				}
			}
			share = append(share, math.Ceil(4*f-1e-9)/4)
		}
		st.share = share
		c := m.sharedCost(share)
		nanos := c.Seconds() * 1e9
		var end int64
		if st.nanos == 0 {
			// A start is timed as an unshared launch times it (the
			// replica's rounder carries the fractions of a nanosecond),
			// so a member alone runs exactly as an unshared replica.
			end = now + m.rounder.Nanos(c.OverheadSeconds) + m.rounder.Nanos(c.StageSeconds[0])
		} else {
			end = now + int64(math.Ceil(st.remaining*nanos))
		}
		if st.nanos == 0 || end != st.end {
			st.gen++
			st.end = end
			m.q.Push(end, KindStepDone, m.Index, stepArg(st.slot, st.gen))
		}
		st.nanos = nanos
	}
}

// sharedCost prices the member's iteration at a share vector (one factor
// per host group, Host.groups' order); the result is valid until the next
// pricing by the same executor.
func (r *Replica) sharedCost(share []float64) *StepCost {
	st := r.shared
	if !slices.ContainsFunc(share, func(f float64) bool { return f > 1 }) {
		// Alone on the host: the replica's own executor prices it.
		return r.exec.Price(st.seqs)
	}
	var key strings.Builder
	for i, g := range st.host.groups {
		fmt.Fprintf(&key, "%s=%g,", g, share[i])
	}
	x := st.execs[key.String()]
	if x == nil {
		factors := map[string]float64{}
		for i, g := range st.host.groups {
			factors[g] = share[i]
		}
		c := *r.cfg
		c.System = c.hostSystem.SharedHost(c.HostShare, factors)
		x = NewExecutor(&c)
		st.execs[key.String()] = x
	}
	cost := x.Price(st.seqs)
	if err := x.Err(); err != nil && st.err == nil {
		st.err = err
	}
	return cost
}
