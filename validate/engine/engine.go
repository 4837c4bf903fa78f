package engine

import (
	"fmt"
	"time"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

// Config chooses the model, the weight format and the host resources.
type Config struct {
	Arch models.Arch
	// Weights is the storage format of weight matrices: fp32 (the default),
	// bf16 or int8 with one scale per output channel. Norm weights and
	// biases stay fp32; compute is fp32 throughout.
	Weights dtype.DType
	// Seed makes random weights reproducible: a tensor's values depend only
	// on Seed and its name, not on the thread count or the format.
	Seed uint64
	// Threads is the number of workers; 0 means runtime.NumCPU().
	Threads int
	// Clock, when not nil, is what steps and ops are timed by instead of
	// the wall clock: a one-thread engine can be given its thread's CPU
	// time, so that an op during which another process took the core is not
	// charged for the wait. It must be monotonic on the calling thread.
	Clock     func() time.Duration
	RoPETheta float64 // 0 means 10000
	NormEps   float64 // 0 means 1e-5
}

// Timing is the measured wall time of one step, per op under the canonical
// names of package models (summed over layers) and in total.
type Timing struct {
	Ops    map[string]time.Duration
	Step   time.Duration
	Seqs   int // sequences in the step
	Tokens int // new tokens processed
	// WeightBytes is what the step's matrix products read from the weight
	// matrices (every matrix once per step; routed experts only when chosen)
	// plus the embedding rows looked up.
	WeightBytes int64
}

// OpTime is one op's share of a step.
type OpTime struct {
	Name     string
	Duration time.Duration
}

// opOrder is the order ops run in within a step.
var opOrder = []string{models.OpEmbed, models.OpAttnNorm, models.OpQKV, models.OpRoPE, models.OpAttn,
	models.OpOProj, models.OpResidual, models.OpMLPNorm, models.OpGateUp, models.OpUp, models.OpAct,
	models.OpDown, models.OpRouter, models.OpExperts, models.OpSharedExpert, models.OpFinalNorm,
	models.OpLMHead, models.OpSample}

// List returns the timed ops in the order they run.
func (t Timing) List() []OpTime {
	var out []OpTime
	for _, op := range opOrder {
		if d, ok := t.Ops[op]; ok {
			out = append(out, OpTime{op, d})
		}
	}
	return out
}

// Engine runs forward steps over a batch of sequences, each with its own
// KV cache. It is not safe for concurrent use.
type Engine struct {
	s      shape
	eps    float64
	pool   *Pool
	w      *weights
	ts     []tensor
	rot    *ropeTable
	seqs   []*sequence
	kvFree map[int][][]float32 // released KV buffers by capacity (floats), reused by later sequences
	clock  func() time.Duration
	buf    buffers
	logits []float32 // last step: one row of Vocab per sequence, step order
}

type sequence struct {
	len  int         // tokens in the cache
	k, v [][]float32 // per (layer, kv head): position-major rows of headDim
}

// step describes the tokens of one forward pass: sequence b owns tokens
// [start[b], start[b+1]) at absolute positions pos.
type step struct {
	seqs   []*sequence
	start  []int
	pos    []int
	tokens int
	maxPos int
}

type buffers struct {
	x, h, qkv, att, proj, up, act, mo, sh, rl, lastN []float32
	gx, gup, gact, gout, weight                      []float32
	choice                                           []int
}

// New builds an engine with random weights drawn from cfg.Seed.
func New(cfg Config) (*Engine, error) {
	e, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	randomise(e.pool, e.ts, cfg.Seed)
	return e, nil
}

func newEngine(cfg Config) (*Engine, error) {
	s, err := newShape(cfg.Arch)
	if err != nil {
		return nil, err
	}
	if cfg.Weights == "" {
		cfg.Weights = dtype.FP32
	}
	w, err := s.newWeights(cfg.Weights)
	if err != nil {
		return nil, fmt.Errorf("engine: arch %q: %w", s.Name, err)
	}
	theta, eps := cfg.RoPETheta, cfg.NormEps
	if theta == 0 {
		theta = 10000
	}
	if eps == 0 {
		eps = 1e-5
	}
	e := &Engine{s: s, eps: eps, pool: NewPool(cfg.Threads), w: w, rot: newRopeTable(s.headDim, theta), kvFree: map[int][][]float32{}, clock: cfg.Clock}
	if e.clock == nil {
		start := time.Now()
		e.clock = func() time.Duration { return time.Since(start) }
	}
	e.ts = s.tensors(w)
	return e, nil
}

// Close stops the worker goroutines.
func (e *Engine) Close() { e.pool.Close() }

// Reset drops every sequence; their KV buffers are kept for the next ones.
func (e *Engine) Reset() {
	for _, sq := range e.seqs {
		for _, c := range [][][]float32{sq.k, sq.v} {
			for _, buf := range c {
				if cap(buf) > 0 {
					e.kvFree[cap(buf)] = append(e.kvFree[cap(buf)], buf[:0])
				}
			}
		}
	}
	e.seqs = nil
}

// kvBlockTokens is the granularity, in tokens, in which a sequence's KV
// cache is reserved.
const kvBlockTokens = 256

// reserve makes room in every sequence's cache for its tokens of the next
// step before the step runs, as serving engines do (vLLM's block pool, a
// static cache): the step itself then only writes K and V into place, which
// is what llmsim's graph prices (kv_concat models an engine that instead
// copies its cache every step). Capacity grows in doubling multiples of
// kvBlockTokens, taken from buffers earlier sequences released.
func (e *Engine) reserve(seqs []*sequence, tokens [][]int) {
	d := e.s.headDim
	for b, sq := range seqs {
		need := (sq.len + len(tokens[b])) * d
		for _, c := range [][][]float32{sq.k, sq.v} {
			for i, buf := range c {
				if cap(buf) >= need {
					continue
				}
				size := kvBlockTokens * d
				for size < need {
					size *= 2
				}
				var nb []float32
				if free := e.kvFree[size]; len(free) > 0 {
					nb, e.kvFree[size] = free[len(free)-1], free[:len(free)-1]
				} else {
					nb = make([]float32, 0, size)
				}
				c[i] = append(nb, buf...)
			}
		}
	}
}

// NumSeqs is the number of live sequences.
func (e *Engine) NumSeqs() int { return len(e.seqs) }

// SeqLen is the number of tokens in sequence i's KV cache.
func (e *Engine) SeqLen(i int) int { return e.seqs[i].len }

// Threads is the number of workers.
func (e *Engine) Threads() int { return e.pool.Threads() }

// WeightBytes is the storage size of all weights, scales included.
func (e *Engine) WeightBytes() int64 {
	var n int64
	for _, t := range e.ts {
		if t.mat != nil {
			n += t.mat.Bytes() * int64(t.rows) / int64(t.mat.Rows)
		} else {
			n += 4 * int64(len(t.vec))
		}
	}
	return n
}

// Logits returns the logits of the i-th sequence of the last step (in the
// order the step listed them). The slice is overwritten by the next step.
func (e *Engine) Logits(i int) []float32 {
	v := e.s.Vocab
	return e.logits[i*v : (i+1)*v]
}

// Prefill starts one new sequence per prompt, after the live ones, runs the
// prompts through the model and returns each one's greedy next token.
func (e *Engine) Prefill(prompts [][]int) ([]int, Timing, error) {
	if len(prompts) == 0 {
		return nil, Timing{}, fmt.Errorf("engine: prefill of no prompts")
	}
	seqs := make([]*sequence, len(prompts))
	for i := range seqs {
		seqs[i] = &sequence{k: make([][]float32, e.s.Layers*e.s.KVHeads), v: make([][]float32, e.s.Layers*e.s.KVHeads)}
	}
	if err := e.check(seqs, prompts); err != nil {
		return nil, Timing{}, err
	}
	e.seqs = append(e.seqs, seqs...)
	next, tm := e.forward(seqs, prompts)
	return next, tm, nil
}

// Decode feeds tokens[i] to live sequence i (one token for every sequence)
// and returns each one's greedy next token.
func (e *Engine) Decode(tokens []int) ([]int, Timing, error) {
	if len(tokens) != len(e.seqs) || len(tokens) == 0 {
		return nil, Timing{}, fmt.Errorf("engine: decode of %d tokens for %d sequences", len(tokens), len(e.seqs))
	}
	chunks := make([][]int, len(tokens))
	for i := range tokens {
		chunks[i] = tokens[i : i+1]
	}
	return e.Extend(nil, chunks)
}

// Extend appends tokens[i] to sequence seqs[i] (seqs nil means all live
// sequences in order) and returns each one's greedy next token: a chunk of
// a prompt, or a decode step of several tokens.
func (e *Engine) Extend(seqs []int, tokens [][]int) ([]int, Timing, error) {
	if seqs == nil {
		seqs = make([]int, len(e.seqs))
		for i := range seqs {
			seqs[i] = i
		}
	}
	if len(seqs) != len(tokens) || len(seqs) == 0 {
		return nil, Timing{}, fmt.Errorf("engine: extend of %d sequences with %d token lists", len(seqs), len(tokens))
	}
	batch := make([]*sequence, len(seqs))
	seen := map[int]bool{}
	for i, id := range seqs {
		if id < 0 || id >= len(e.seqs) || seen[id] {
			return nil, Timing{}, fmt.Errorf("engine: extend: sequence %d unknown or listed twice", id)
		}
		seen[id] = true
		batch[i] = e.seqs[id]
	}
	if err := e.check(batch, tokens); err != nil {
		return nil, Timing{}, err
	}
	next, tm := e.forward(batch, tokens)
	return next, tm, nil
}

func (e *Engine) check(seqs []*sequence, tokens [][]int) error {
	for i, toks := range tokens {
		if len(toks) == 0 {
			return fmt.Errorf("engine: sequence %d: no tokens", i)
		}
		for _, t := range toks {
			if t < 0 || t >= e.s.Vocab {
				return fmt.Errorf("engine: sequence %d: token %d outside vocab %d", i, t, e.s.Vocab)
			}
		}
		if n := seqs[i].len + len(toks); e.s.Position == "learned" && n > e.s.MaxContext {
			return fmt.Errorf("engine: sequence %d: %d tokens exceed max_context %d", i, n, e.s.MaxContext)
		}
	}
	return nil
}

// timer charges the time since the previous lap to an op.
type timer struct {
	tm    *Timing
	clock func() time.Duration
	last  time.Duration
}

func (c *timer) lap(op string) {
	now := c.clock()
	c.tm.Ops[op] += now - c.last
	c.last = now
}

func grow[T any](b *[]T, n int) []T {
	if cap(*b) < n {
		*b = make([]T, n)
	}
	*b = (*b)[:n]
	return *b
}

func (e *Engine) newStep(seqs []*sequence, tokens [][]int) *step {
	st := &step{seqs: seqs, start: make([]int, len(seqs)+1)}
	for b, toks := range tokens {
		for i := range toks {
			p := seqs[b].len + i
			st.pos = append(st.pos, p)
			st.maxPos = max(st.maxPos, p)
		}
		st.start[b+1] = st.start[b] + len(toks)
	}
	st.tokens = len(st.pos)
	return st
}
