package report

import (
	"encoding/json"
	"fmt"
	"sort"

	"gonum.org/v1/plot/plotter"
)

// traceEvent is the part of a Chrome trace event a timeline needs.
type traceEvent struct {
	Ph   string  `json:"ph"`
	Name string  `json:"name"`
	Pid  int     `json:"pid"`
	Ts   float64 `json:"ts"`  // µs
	Dur  float64 `json:"dur"` // µs
	Args struct {
		Seqs          float64 `json:"seqs"`
		PrefillTokens float64 `json:"prefill_tokens"`
		Name          string  `json:"name"`
		// Used, Cached and Free are a "kv blocks" counter's blocks.
		Used   float64 `json:"used"`
		Cached float64 `json:"cached"`
		Free   float64 `json:"free"`
	} `json:"args"`
}

// timelineBins is the resolution of utilisation timelines.
const timelineBins = 300

// traceSection draws per-replica timelines from a simulate --trace file:
// the fraction of time a replica is running an iteration and its mean
// batch size, in time bins.
func traceSection(data []byte, name string) (*Section, error) {
	var doc struct {
		TraceEvents []traceEvent `json:"traceEvents"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	names := map[int]string{}
	its := map[int][]traceEvent{}
	kvs := map[int][]traceEvent{}
	end := 0.0
	for _, e := range doc.TraceEvents {
		switch {
		case e.Ph == "M" && e.Name == "process_name":
			names[e.Pid] = e.Args.Name
		case e.Ph == "C" && e.Name == "kv blocks":
			kvs[e.Pid] = append(kvs[e.Pid], e)
		case e.Ph == "X" && e.Name == "iteration":
			its[e.Pid] = append(its[e.Pid], e)
			end = max(end, e.Ts+e.Dur)
		}
	}
	s := &Section{Title: name + ": timelines"}
	if len(its) == 0 || end <= 0 {
		s.Note("The trace holds no iterations.")
		return s, nil
	}
	pids := make([]int, 0, len(its))
	for p := range its {
		pids = append(pids, p)
	}
	sort.Ints(pids)
	width := end / timelineBins
	var busy, batch []Series
	for i, pid := range pids {
		if i == maxSeries {
			s.Note("Timelines of %d more replicas are not drawn.", len(pids)-maxSeries)
			break
		}
		busyUs := make([]float64, timelineBins)
		seqSum := make([]float64, timelineBins)
		seqN := make([]float64, timelineBins)
		for _, e := range its[pid] {
			addBusy(busyUs, e.Ts, e.Ts+e.Dur, width)
			b := min(int(e.Ts/width), timelineBins-1)
			seqSum[b] += e.Args.Seqs
			seqN[b]++
		}
		label := names[pid]
		if label == "" {
			label = fmt.Sprintf("replica %d", pid)
		}
		bs, sq := Series{Name: label}, Series{Name: label}
		for b := range busyUs {
			t := (float64(b) + 0.5) * width / 1e6
			bs.XY = append(bs.XY, plotter.XY{X: t, Y: busyUs[b] / width})
			if seqN[b] > 0 {
				sq.XY = append(sq.XY, plotter.XY{X: t, Y: seqSum[b] / seqN[b]})
			}
		}
		busy, batch = append(busy, bs), append(batch, sq)
	}
	p, err := LineChart(Axes{Title: "replica utilisation", X: "time (s)", Y: "fraction of time in an iteration", Lines: true}, busy)
	if err == nil {
		p.Y.Min, p.Y.Max = 0, 1.05
	}
	s.AddPlot(fmt.Sprintf("utilisation timeline: busy fraction in %.3g s bins", width/1e6), p, err)
	p, err = LineChart(Axes{Title: "batch size", X: "time (s)", Y: "sequences per iteration (mean)", Lines: true}, batch)
	s.AddPlot("batch-size timeline: mean sequences per iteration in each bin", p, err)
	if len(kvs) == 0 {
		s.Note("The trace holds no KV counters; KV use per replica is in the simulation's JSON (kv_mean_used, kv_peak_used, kv_timeline).")
		return s, nil
	}
	var kvLines []Series
	for i, pid := range pids {
		if i == maxSeries {
			break
		}
		label := names[pid]
		if label == "" {
			label = fmt.Sprintf("replica %d", pid)
		}
		kvLines = append(kvLines, kvSeries(label, kvs[pid], end, width))
	}
	p, err = LineChart(Axes{Title: "KV-cache use", X: "time (s)", Y: "fraction of KV blocks in use", Lines: true}, kvLines)
	if err == nil {
		p.Y.Min, p.Y.Max = 0, 1.05
	}
	s.AddPlot(fmt.Sprintf("KV timeline: time-weighted share of blocks held by running requests in %.3g s bins (cached prefix blocks count as free)", width/1e6), p, err)
	return s, nil
}

// kvSeries is the time-weighted used fraction of a replica's KV blocks in
// bins of width µs, from its "kv blocks" counter events (a step function
// that holds each value until the next event).
func kvSeries(label string, evs []traceEvent, end, width float64) Series {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Ts < evs[j].Ts })
	used := make([]float64, timelineBins)
	covered := make([]float64, timelineBins)
	for i, e := range evs {
		to := end
		if i+1 < len(evs) {
			to = evs[i+1].Ts
		}
		total := e.Args.Used + e.Args.Cached + e.Args.Free
		if total <= 0 || to <= e.Ts {
			continue
		}
		frac := e.Args.Used / total
		for b := int(e.Ts / width); b < timelineBins && float64(b)*width < to; b++ {
			if us := min(to, float64(b+1)*width) - max(e.Ts, float64(b)*width); us > 0 {
				used[b] += frac * us
				covered[b] += us
			}
		}
	}
	s := Series{Name: label}
	for b := range used {
		if covered[b] > 0 {
			s.XY = append(s.XY, plotter.XY{X: (float64(b) + 0.5) * width / 1e6, Y: used[b] / covered[b]})
		}
	}
	return s
}

// addBusy spreads the interval [from, to) µs over bins of width µs.
func addBusy(bins []float64, from, to, width float64) {
	for b := int(from / width); b < len(bins) && float64(b)*width < to; b++ {
		lo, hi := max(from, float64(b)*width), min(to, float64(b+1)*width)
		if hi > lo {
			bins[b] += hi - lo
		}
	}
}
