package offload

import "github.com/llmsim/llmsim/sim"

// stepBuilder appends to g (whose Resources are set and Tasks empty) the
// task graph of one forward step in which every sequence holds cached
// tokens and processes newTokens (the prompt, or 1 when decoding).
type stepBuilder func(g *Graph, cached, newTokens int)

// runSteps executes the prefill step and every decode step, each as its own
// graph starting when the previous one has finished (a forward step ends
// with a synchronisation in every engine modelled here). With fast set,
// only the first and last decode steps are executed and the others
// interpolated: a step's cost is linear in its context, so the trapezoid
// is exact up to efficiency-curve bends — what a policy search needs.
func runSteps(res []Resource, w Workload, fast bool, build stepBuilder) (prefillSeconds, decodeSeconds float64, u *usage) {
	u = newUsage(res)
	g := &Graph{Resources: res}
	exec := func(cached, newTokens int, weight float64) float64 {
		g.Tasks = g.Tasks[:0]
		build(g, cached, newTokens)
		r := Execute(g, false)
		u.add(r, weight)
		return sim.Seconds(r.MakespanNanos)
	}
	if p := w.step; p != nil {
		p.done = true
		return exec(p.cached, p.newTokens, 1), 0, u
	}
	prefillSeconds = exec(0, w.Prompt, 1)
	u.markPrefill()
	n := w.Output - 1
	if n <= 0 {
		return prefillSeconds, 0, u
	}
	if fast && n > 2 {
		half := float64(n) / 2
		first := exec(w.Prompt, 1, half)
		last := exec(w.Prompt+n-1, 1, half)
		return prefillSeconds, half * (first + last), u
	}
	for i := 0; i < n; i++ {
		decodeSeconds += exec(w.Prompt+i, 1, 1)
	}
	return prefillSeconds, decodeSeconds, u
}

// flops is the arithmetic executed over all resources.
func (u *usage) totalFLOPs() float64 {
	var f float64
	for _, v := range u.flops {
		f += v
	}
	return f
}
