package roofline

import (
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// StepCost is the price of one forward step (one models.Graph).
type StepCost struct {
	Seconds        float64 // ops plus the device's per-step overhead (Parallel.Step: through all stages)
	ComputeSeconds float64 // sum over ops
	MemorySeconds  float64 // sum over ops
	FLOPs          float64 // Parallel.Step: all GPUs together
	Bytes          float64 // main memory; Parallel.Step: all GPUs together
	Bound          Bound   // the bound of the ops that take most of the time
	Seqs           int
	Tokens         int
	Ops            []OpCost

	// Set by Parallel.Step (zero on one GPU):
	StageSeconds      []float64 // each pipeline stage, its collectives included
	SendSeconds       float64   // one hand-off between two stages
	CollectiveSeconds float64   // tensor-parallel all-reduces and all-gather, all stages
	// IntervalSeconds is the time between two micro-batches' completions
	// when PP of them are in flight: max(slowest stage, Seconds / PP).
	IntervalSeconds float64
}

// Step prices every op of g on dev and adds the per-step overhead.
func Step(g *models.Graph, dev *hw.Device) StepCost {
	s := StepCost{Seqs: g.Seqs, Tokens: g.Tokens, Ops: make([]OpCost, 0, len(g.Ops))}
	byBound := map[Bound]float64{}
	for i := range g.Ops {
		c := Cost(&g.Ops[i], dev)
		s.Ops = append(s.Ops, c)
		s.Seconds += c.Seconds
		s.ComputeSeconds += c.ComputeSeconds
		s.MemorySeconds += c.MemorySeconds
		s.FLOPs += c.FLOPs
		s.Bytes += c.Bytes
		byBound[c.Bound] += c.Seconds
	}
	s.Seconds += dev.Overhead.StepSeconds
	s.Bound = MemoryBound
	for _, b := range []Bound{ComputeBound, OverheadBound} {
		if byBound[b] > byBound[s.Bound] {
			s.Bound = b
		}
	}
	return s
}

// StepSeconds is Step(g, dev).Seconds without building the per-op table; the
// simulator calls it in its hot loop.
func StepSeconds(g *models.Graph, dev *hw.Device) float64 {
	seconds := dev.Overhead.StepSeconds
	for i := range g.Ops {
		seconds += Cost(&g.Ops[i], dev).Seconds
	}
	return seconds
}
