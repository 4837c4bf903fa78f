package workloads

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// Request is one inference request as the simulator sees it: when it
// arrives and how many tokens it reads and writes.
type Request struct {
	// ID numbers requests from 0 in the order the source returns them.
	ID int64
	// ArrivalNanos is the simulated arrival time in integer nanoseconds.
	ArrivalNanos int64
	PromptTokens int
	OutputTokens int
	// PrefixGroup is 0 for none. Requests of the same group share their
	// first PrefixTokens prompt tokens (the shorter of the two where they
	// differ), which a prefix cache may reuse.
	PrefixGroup  int
	PrefixTokens int
	// Session is 0 for none; requests of one conversation share it.
	Session int64
}

// Source yields requests one at a time, in non-decreasing ArrivalNanos, so
// a workload of any length never sits in memory at once.
type Source interface {
	// Next returns the next request whose arrival is known now. ok is false
	// when the source is exhausted or, for a closed loop, waiting for a
	// Complete; the simulator calls Next again after each Complete.
	Next() (r Request, ok bool)
}

// Completer is implemented by closed-loop sources: the simulator reports
// every finished request so its client can issue the next one.
// Completions must be reported in non-decreasing finishNanos.
type Completer interface {
	Complete(id int64, finishNanos int64)
}

// Spec describes a workload. Exactly one of Trace or Arrival is set.
type Spec struct {
	// Arrival is an open-loop Process (Poisson, Gamma, Constant) or a
	// ClosedLoop.
	Arrival Arrival
	// Prompt and Output are the token-length distributions. They override
	// the preset's; without a preset both are required. With a Prefix,
	// Prompt is the unique suffix after the shared prefix.
	Prompt, Output Length
	// Prefix gives requests shared prefixes; it overrides the preset's.
	Prefix Prefix
	// Preset is a preset spec such as "chat" or "rag:groups=8" (see
	// ParsePreset); it supplies Prompt, Output and Prefix left unset.
	Preset string
	// Trace is the path of a .csv or .jsonl trace to replay (see OpenTrace).
	Trace string
	// NumRequests caps the number of requests; 0 means unbounded for a
	// generated workload and the whole file for a trace.
	NumRequests int64
}

// New returns the source that spec describes. Every random choice derives
// from seed: the same spec and seed give the same requests.
//
// A trace source is a *Trace; close it when done. A ClosedLoop source
// implements Completer.
func New(spec Spec, seed uint64) (Source, error) {
	if spec.NumRequests < 0 {
		return nil, fmt.Errorf("workload: number of requests must be ≥ 0, got %d", spec.NumRequests)
	}
	if spec.Trace != "" {
		if spec.Arrival != nil || spec.Prompt != nil || spec.Output != nil ||
			spec.Preset != "" || spec.Prefix != (Prefix{}) {
			return nil, errors.New("workload: a trace sets arrivals, lengths and prefixes itself; " +
				"drop the arrival, length, prefix and preset options")
		}
		t, err := OpenTrace(spec.Trace)
		if err != nil {
			return nil, err
		}
		t.limit = spec.NumRequests
		return t, nil
	}
	g, err := newGenerator(spec, seed)
	if err != nil {
		return nil, err
	}
	switch a := spec.Arrival.(type) {
	case Process:
		return &openLoop{gen: g, process: a, arrivalRand: stream(seed, streamArrival)}, nil
	case ClosedLoop:
		return newClosedLoop(g, a), nil
	case nil:
		return nil, errors.New("workload: no arrival process (e.g. poisson:rate=10) and no trace")
	default:
		return nil, fmt.Errorf("workload: arrival %s is neither an open-loop process nor a closed loop", a)
	}
}

// Random streams. Each random choice has its own stream so that changing
// one distribution in a sweep leaves the others' draws unchanged (common
// random numbers): a new output distribution keeps arrivals and prompts.
const (
	streamArrival uint64 = iota + 1
	streamPrompt
	streamOutput
	streamPrefix
)

// stream returns the PCG generator for one stream of a seed.
func stream(seed, id uint64) *rand.Rand {
	return rand.New(rand.NewPCG(splitMix64(seed^(id*0x9e3779b97f4a7c15)), splitMix64(seed+id)))
}

// splitMix64 scrambles a seed so that nearby seeds give unrelated states
// (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
// OOPSLA 2014).
func splitMix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
