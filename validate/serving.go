package validate

import (
	"fmt"
	"path/filepath"
	"sort"
)

// ServedRequest is one request of a measured serving run (requests.csv of
// validate/gpu/serve.py). Times are seconds from the start of its level.
type ServedRequest struct {
	ArrivalSeconds    float64
	PromptTokens      int
	OutputTokens      int
	FirstTokenSeconds float64
	FinishSeconds     float64
}

// ServedIteration is one engine iteration of a measured run
// (iterations.csv): GPUSeconds between CUDA events around its GPU work,
// HostSeconds the rest of its wall time (scheduling, input building,
// launch, the previous iteration's bookkeeping).
type ServedIteration struct {
	Kind        string // "prefill" or "decode"
	Seqs        int
	Tokens      int
	GPUSeconds  float64
	HostSeconds float64
}

// ServingLevel is one load level: a Poisson trace replayed on the server.
type ServingLevel struct {
	Level         int
	RatePerSecond float64
	Requests      []ServedRequest // in arrival order
	Iterations    []ServedIteration
}

// ReadServing reads a directory written by validate/gpu/serve.py
// (trace.csv, requests.csv, iterations.csv), levels in order.
func ReadServing(dir string) ([]ServingLevel, error) {
	tr, err := readTable(filepath.Join(dir, "trace.csv"))
	if err != nil {
		return nil, err
	}
	rq, err := readTable(filepath.Join(dir, "requests.csv"))
	if err != nil {
		return nil, err
	}
	it, err := readTable(filepath.Join(dir, "iterations.csv"))
	if err != nil {
		return nil, err
	}
	for _, c := range []struct {
		t    *table
		cols []string
	}{
		{tr, []string{"level", "rate_per_second", "request"}},
		{rq, []string{"level", "request", "arrival_seconds", "prompt_tokens", "output_tokens", "first_token_seconds", "finish_seconds"}},
		{it, []string{"level", "kind", "seqs", "tokens", "gpu_seconds", "host_seconds"}},
	} {
		if err := c.t.need(c.cols...); err != nil {
			return nil, err
		}
	}
	var levels []ServingLevel
	byLevel := map[int]int{}
	for i := range tr.rows {
		lv, err := tr.int(i, "level")
		if err != nil {
			return nil, err
		}
		if _, ok := byLevel[lv]; !ok {
			rate, err := tr.num(i, "rate_per_second")
			if err != nil {
				return nil, err
			}
			byLevel[lv] = len(levels)
			levels = append(levels, ServingLevel{Level: lv, RatePerSecond: rate})
		}
	}
	for i := range rq.rows {
		lv, err := rq.int(i, "level")
		if err != nil {
			return nil, err
		}
		k, ok := byLevel[lv]
		if !ok {
			return nil, fmt.Errorf("%s:%d: level %d is not in trace.csv", rq.file, rq.line[i], lv)
		}
		var r ServedRequest
		if err := firstErr(
			numInto(rq, i, "arrival_seconds", &r.ArrivalSeconds), intInto(rq, i, "prompt_tokens", &r.PromptTokens),
			intInto(rq, i, "output_tokens", &r.OutputTokens), numInto(rq, i, "first_token_seconds", &r.FirstTokenSeconds),
			numInto(rq, i, "finish_seconds", &r.FinishSeconds)); err != nil {
			return nil, err
		}
		if r.OutputTokens < 2 || r.FirstTokenSeconds < r.ArrivalSeconds || r.FinishSeconds < r.FirstTokenSeconds {
			return nil, fmt.Errorf("%s:%d: want output ≥ 2 and arrival ≤ first token ≤ finish", rq.file, rq.line[i])
		}
		levels[k].Requests = append(levels[k].Requests, r)
	}
	for i := range it.rows {
		lv, err := it.int(i, "level")
		if err != nil {
			return nil, err
		}
		k, ok := byLevel[lv]
		if !ok {
			return nil, fmt.Errorf("%s:%d: level %d is not in trace.csv", it.file, it.line[i], lv)
		}
		x := ServedIteration{Kind: it.str(i, "kind")}
		if err := firstErr(intInto(it, i, "seqs", &x.Seqs), intInto(it, i, "tokens", &x.Tokens),
			numInto(it, i, "gpu_seconds", &x.GPUSeconds), numInto(it, i, "host_seconds", &x.HostSeconds)); err != nil {
			return nil, err
		}
		levels[k].Iterations = append(levels[k].Iterations, x)
	}
	for i := range levels {
		l := &levels[i]
		if len(l.Requests) == 0 || len(l.Iterations) == 0 {
			return nil, fmt.Errorf("%s: level %d has no measured requests or iterations", dir, l.Level)
		}
		sort.SliceStable(l.Requests, func(a, b int) bool { return l.Requests[a].ArrivalSeconds < l.Requests[b].ArrivalSeconds })
	}
	return levels, nil
}

func numInto(t *table, row int, col string, v *float64) (err error) {
	*v, err = t.num(row, col)
	return
}
func intInto(t *table, row int, col string, v *int) (err error) { *v, err = t.int(row, col); return }

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// FitHostOverhead fits host seconds = step + perSeq × sequences to the
// iterations of one level: the median host time at each batch size, then
// a least-squares line through those medians weighted by their counts
// (medians, because a few iterations absorb a garbage collection or an
// OS hiccup). A negative intercept or slope is clamped to zero.
func FitHostOverhead(its []ServedIteration) (stepSeconds, perSeqSeconds float64) {
	bySeqs := map[int][]float64{}
	for _, x := range its {
		bySeqs[x.Seqs] = append(bySeqs[x.Seqs], x.HostSeconds)
	}
	return fitMedianLine(bySeqs)
}

// FitPrefillDispatch fits the eager dispatch of prefill iterations: the
// GPU time a prefill iteration measured beyond what the device description
// predicts for it (predict(seqs, tokens), the roofline step), as
// perLayer + perSeqLayer × prompts per decoder layer, by the same median
// line as FitHostOverhead. Decode iterations (CUDA graphs) take no part.
func FitPrefillDispatch(its []ServedIteration, layers int, predict func(seqs, tokens int) float64) (perLayer, perSeqLayer float64) {
	bySeqs := map[int][]float64{}
	for _, x := range its {
		if x.Kind == "prefill" {
			bySeqs[x.Seqs] = append(bySeqs[x.Seqs], x.GPUSeconds-predict(x.Seqs, x.Tokens))
		}
	}
	a, b := fitMedianLine(bySeqs)
	return a / float64(layers), b / float64(layers)
}

// fitMedianLine fits y = a + b·n through the median y of each n, weighted
// by the number of samples, clamping a and b at zero.
func fitMedianLine(byN map[int][]float64) (a, b float64) {
	var sw, sx, sy, sxx, sxy float64
	for n, ys := range byN {
		w, x, y := float64(len(ys)), float64(n), medianOf(ys)
		sw, sx, sy, sxx, sxy = sw+w, sx+w*x, sy+w*y, sxx+w*x*x, sxy+w*x*y
	}
	if sw == 0 {
		return 0, 0
	}
	if d := sw*sxx - sx*sx; d > 0 {
		b = (sw*sxy - sx*sy) / d
	}
	b = max(b, 0)
	a = max((sy-b*sx)/sw, 0)
	return a, b
}

// medianOf is the median of xs, which it leaves as they are.
func medianOf(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
