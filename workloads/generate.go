package workloads

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Prefix gives generated requests shared prefixes, as in retrieval-augmented
// generation or a common system prompt: each request joins one of Groups
// groups, numbered 1..Groups, whose members share their first Tokens prompt
// tokens. The request's prompt is the prefix plus its own suffix drawn from
// the prompt length distribution.
type Prefix struct {
	Groups int
	Tokens int
	// Zipf is 0 for equally popular groups; an exponent s > 1 makes group k
	// drawn with probability ∝ k^−s.
	Zipf float64
}

func (p Prefix) String() string {
	s := "groups=" + strconv.Itoa(p.Groups) + ",tokens=" + strconv.Itoa(p.Tokens)
	if p.Zipf != 0 {
		s += ",zipf=" + formatFloat(p.Zipf)
	}
	return s
}

// Validate reports fewer than one group, a bad prefix length or a Zipf
// exponent that is neither 0 nor in (1, 100].
func (p Prefix) Validate() error {
	if p.Groups < 1 || p.Groups > maxTokens {
		return fmt.Errorf("groups: must be in [1, %d], got %d", maxTokens, p.Groups)
	}
	if err := checkTokens("tokens", p.Tokens); err != nil {
		return err
	}
	if p.Zipf != 0 && !(p.Zipf > 1 && p.Zipf <= 100) {
		return fmt.Errorf("zipf: must be 0 (uniform) or in (1, 100], got %g", p.Zipf)
	}
	return nil
}

// generator makes requests: IDs, lengths and prefixes, each from its own
// random stream. Arrival times come from its caller.
type generator struct {
	prompt, output         Length
	prefix                 Prefix
	promptRand, outputRand *rand.Rand
	prefixRand             *rand.Rand
	zipf                   *rand.Zipf // nil for uniform groups
	nextID                 int64
	limit                  int64 // 0: unbounded
}

func newGenerator(spec Spec, seed uint64) (*generator, error) {
	g := &generator{prompt: spec.Prompt, output: spec.Output, prefix: spec.Prefix, limit: spec.NumRequests}
	if spec.Preset != "" {
		p, err := ParsePreset(spec.Preset)
		if err != nil {
			return nil, fmt.Errorf("workload: %w", err)
		}
		if g.prompt == nil {
			g.prompt = p.Prompt
		}
		if g.output == nil {
			g.output = p.Output
		}
		if g.prefix == (Prefix{}) {
			g.prefix = p.Prefix
		}
	}
	if g.prompt == nil || g.output == nil {
		return nil, fmt.Errorf("workload: need prompt and output lengths, or a preset (%s)", presetList())
	}
	for _, c := range []struct {
		what string
		v    any
	}{{"arrival", spec.Arrival}, {"prompt length", g.prompt}, {"output length", g.output}} {
		if err := validate(c.v); err != nil {
			return nil, fmt.Errorf("workload: %s %s: %w", c.what, c.v, err)
		}
	}
	g.promptRand, g.outputRand = stream(seed, streamPrompt), stream(seed, streamOutput)
	if g.prefix != (Prefix{}) {
		if err := g.prefix.Validate(); err != nil {
			return nil, fmt.Errorf("workload: prefix %s: %w", g.prefix, err)
		}
		g.prefixRand = stream(seed, streamPrefix)
		if g.prefix.Zipf != 0 {
			g.zipf = rand.NewZipf(g.prefixRand, g.prefix.Zipf, 1, uint64(g.prefix.Groups-1))
		}
	}
	return g, nil
}

func (g *generator) exhausted() bool { return g.limit > 0 && g.nextID >= g.limit }

// make returns the next request, arriving at arrivalNanos.
func (g *generator) make(arrivalNanos int64) Request {
	r := Request{
		ID:           g.nextID,
		ArrivalNanos: arrivalNanos,
		PromptTokens: g.prompt.Sample(g.promptRand),
		OutputTokens: g.output.Sample(g.outputRand),
	}
	g.nextID++
	if g.prefixRand != nil {
		if g.zipf != nil {
			r.PrefixGroup = 1 + int(g.zipf.Uint64())
		} else {
			r.PrefixGroup = 1 + g.prefixRand.IntN(g.prefix.Groups)
		}
		r.PrefixTokens = g.prefix.Tokens
		r.PromptTokens += g.prefix.Tokens
	}
	return r
}

// openLoop draws arrivals from a Process: the first at time 0.
type openLoop struct {
	gen         *generator
	process     Process
	arrivalRand *rand.Rand
	nowNanos    int64
	endOfTime   bool // the next arrival would overflow int64 nanoseconds
}

func (o *openLoop) Next() (Request, bool) {
	if o.gen.exhausted() || o.endOfTime {
		return Request{}, false
	}
	if o.gen.nextID > 0 {
		gap := o.process.GapNanos(o.arrivalRand)
		if o.nowNanos > math.MaxInt64-gap {
			o.endOfTime = true
			return Request{}, false
		}
		o.nowNanos += gap
	}
	return o.gen.make(o.nowNanos), true
}

// closedLoop keeps at most Clients requests outstanding. Clients are
// interchangeable, so it tracks only when each idle client issues next.
type closedLoop struct {
	gen        *generator
	thinkNanos int64
	// ready is a ring of the arrival times of requests due to be issued,
	// in issue order; at most Clients long.
	ready       []int64
	head, count int
	inflight    map[int64]int64 // outstanding request ID → its arrival
	scheduled   int64           // requests issued or in ready
	lastFinish  int64
}

// maxClients bounds a closed loop's population (and its memory).
const maxClients = 1 << 20

func newClosedLoop(g *generator, c ClosedLoop) *closedLoop {
	l := &closedLoop{
		gen:        g,
		thinkNanos: secondsToNanos(c.ThinkSeconds),
		ready:      make([]int64, c.Clients),
		inflight:   make(map[int64]int64, c.Clients),
	}
	for i := 0; i < c.Clients && !l.full(); i++ {
		l.push(0)
	}
	return l
}

func (l *closedLoop) full() bool { return l.gen.limit > 0 && l.scheduled >= l.gen.limit }

func (l *closedLoop) push(arrivalNanos int64) {
	l.ready[(l.head+l.count)%len(l.ready)] = arrivalNanos
	l.count++
	l.scheduled++
}

// Next issues the request of the next ready client, if any.
func (l *closedLoop) Next() (Request, bool) {
	if l.count == 0 {
		return Request{}, false
	}
	arrival := l.ready[l.head]
	l.head = (l.head + 1) % len(l.ready)
	l.count--
	r := l.gen.make(arrival)
	l.inflight[r.ID] = arrival
	return r, true
}

// Complete frees the client of request id; it becomes ready again think
// seconds after finishNanos. Completing a request that is not outstanding,
// before it arrived, or earlier than a previous completion is a simulator
// bug and panics.
func (l *closedLoop) Complete(id int64, finishNanos int64) {
	arrival, ok := l.inflight[id]
	switch {
	case !ok:
		panic(fmt.Sprintf("workloads: Complete(%d): not an outstanding request of this closed loop", id))
	case finishNanos < arrival:
		panic(fmt.Sprintf("workloads: Complete(%d, %d): finishes before its arrival at %d ns", id, finishNanos, arrival))
	case finishNanos < l.lastFinish:
		panic(fmt.Sprintf("workloads: Complete(%d, %d): earlier than the previous completion at %d ns",
			id, finishNanos, l.lastFinish))
	}
	delete(l.inflight, id)
	l.lastFinish = finishNanos
	if !l.full() && finishNanos <= math.MaxInt64-l.thinkNanos {
		l.push(finishNanos + l.thinkNanos)
	}
}
