package replica

import (
	"fmt"
	"math"

	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/sim"
	"github.com/llmsim/llmsim/sim/kv"
)

// Event kinds of replicas. Owners of other kinds number theirs from
// KindLast on.
const (
	KindStepDone  sim.Kind = iota + 1 // Arg: the batch slot that finished
	KindStageFree                     // pipeline stage 0 is free for the next micro-batch
	KindSwapWake                      // the host link has a transfer to finish
	KindKick                          // new work arrived: try to launch
	KindLast
)

// Sink receives what a replica learns about its requests.
type Sink interface {
	// Token is called for every sampled output token, the first included;
	// gapNanos is the time since the request's previous token (-1 for the
	// first).
	Token(r *Request, nowNanos, gapNanos int64)
	// Finished is called when r has all its tokens and the replica has let
	// go of it; r may be recycled at once.
	Finished(r *Request, nowNanos int64)
	// Prefilled is called by a Prefill-role replica when r's prompt is done
	// and its first token sampled; r keeps its KV blocks here until
	// Release.
	Prefilled(r *Request, nowNanos int64)
	// Iteration is called when an iteration is launched, with the time it
	// will end; it.Cost is valid only during the call.
	Iteration(replica int32, startNanos, endNanos int64, it *Iteration)
}

// Iteration summarises one iteration for traces and statistics.
type Iteration struct {
	Seqs, PrefillTokens, DecodeSeqs int
	// KVUsedBlocks are held by requests, KVCachedBlocks by cached prefix
	// chunks no request holds, when the iteration starts.
	KVUsedBlocks, KVCachedBlocks int
	Cost                         *StepCost
}

// Stats are a replica's running totals.
type Stats struct {
	Iterations      int64
	PrefillTokens   int64 // prompt (and recomputed) tokens processed
	DecodeTokens    int64
	Preemptions     int64
	SwapOuts        int64
	SwappedBytes    float64
	BusyNanos       int64 // time with an iteration in progress
	GPUNanos        int64 // time the GPUs compute (overhead excluded), mean over stages
	FLOPs, Bytes    float64
	MemoHits, Steps uint64
	// PrefixQueriedTokens are the tokens admitted requests had to
	// prefill before the prefix lookup, PrefixHitTokens those found
	// cached (their prefill skipped). Zero without prefix sharing.
	PrefixQueriedTokens, PrefixHitTokens int64
	// PrefixEvictedBlocks are cached blocks evicted to make room.
	PrefixEvictedBlocks int64
	// JoulesAboveIdle is, under an offloading scheme, the energy of every
	// device of the system beyond its idle power, over the iterations.
	JoulesAboveIdle float64
}

// Replica is one model instance on TP×PP GPUs.
type Replica struct {
	Index int32
	cfg   *Config
	q     *sim.Queue
	sink  Sink
	exec  *Executor
	sched scheduler

	kv       *kv.Blocks
	host     *kv.Blocks // swap space, nil without a host link
	hostLink *sim.Link
	// blockBytes is the size of one block over all the replica's GPUs.
	blockBytes float64
	size       kvSizer
	paged      bool // KVAlloc is KVPaged
	// stateOnly: the model has no attention layers, so a sequence's one
	// block (its recurrent state) never grows after admission.
	stateOnly bool
	// kvTier is the memory tier whose room bounds the KV cache under an
	// offloading scheme ("" without one).
	kvTier string
	// reserveTokens is what a contiguous allocation reserves per request.
	reserveTokens int
	// waitingBlocks are the blocks of the waiting requests' pending
	// tokens, request by request (schemes whose blocks are not linear in
	// tokens).
	waitingBlocks int

	waiting       fifo
	waitingTokens int // pending tokens of the waiting requests
	running       []*Request
	swapped       fifo

	slots          []slot
	stageFreeNanos []int64
	// forming is the slot whose batch waits for swap transfers, or -1.
	forming          int
	pendingTransfers int
	seqs             []models.Seq
	transfersDone    []int64
	rounder          sim.Rounder
	busyUntilNanos   int64
	kickPending      bool
	stats            Stats
	it               Iteration
	// shared is the replica's state on a host it shares with other
	// offloaded replicas (Host.Join); nil otherwise.
	shared *sharedState
}

// slot is one batch in flight (up to PP of them with pipeline parallelism).
type slot struct {
	entries    []entry
	busy       bool
	startNanos int64
}

// entry is one sequence's part in an iteration.
type entry struct {
	req       *Request
	cached    int
	newTokens int
	samples   bool // the iteration samples a token for req
}

// New makes a replica from c (defaults filled in and validated). It fails
// when the model leaves no room for the KV cache.
func New(index int32, c *Config, q *sim.Queue, sink Sink) (*Replica, error) {
	r := &Replica{Index: index, cfg: c, q: q, sink: sink, forming: -1}
	r.exec = NewExecutor(c)
	sk := kvcache.ForSimulator(c.KV.Scheme)
	r.size = newSizer(c, sk.Sizing, &r.exec.par.Parallel)
	r.stateOnly = c.Model.AttentionLayers() == 0
	gpus := float64(max(c.TP, 1) * max(c.PP, 1))
	var blocks int
	if c.Offload != nil {
		kvBytes, tier, err := c.offloadKV(r.exec.off.target)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", c.Model.Name, c.System.Name, err)
		}
		if blocks = int(math.Floor(kvBytes / r.size.blockBytes)); blocks < 1 {
			return nil, fmt.Errorf("%s on %s: offload scheme %s leaves %.3g B for the KV cache on %s, less than one block (%.3g B)",
				c.Model.Name, c.System.Name, c.Offload, kvBytes, tier, r.size.blockBytes)
		}
		r.kvTier, r.blockBytes = tier, r.size.blockBytes
	} else {
		budget := c.Budget(r.exec)
		var err error
		if blocks, err = budget.Blocks(); err != nil {
			if budget.ActivationBytes > budget.WeightsBytes {
				// Usually a model without a context limit (2^20 tokens) on an
				// engine that profiles a whole-context prefill.
				err = fmt.Errorf("%w; the activations are those of the largest iteration, %d tokens: lower max-num-batched-tokens or max-model-len, or chunk the prefill",
					err, c.maxStepTokens())
			}
			return nil, fmt.Errorf("%s on %s: %w", c.Model.Name, c.Device.Name, err)
		}
		r.blockBytes = budget.BlockBytes() * gpus
	}
	r.kv = kv.NewBlocks(blocks, c.KV.BlockTokens)
	r.paged = c.Scheduler.KVAlloc == KVPaged
	r.reserveTokens = c.MaxModelLen
	if sk.ReserveTokens > 0 {
		r.reserveTokens = sk.ReserveTokens
	}
	if c.KV.sharing() {
		r.kv.EnableSharing(c.KV.PrefixCaching)
	}
	if l := c.hostLink(); l != nil && c.KV.Preemption == PreemptSwap {
		r.hostLink = sim.NewLink(l)
		r.hostLink.BytesPerSecond *= gpus // each GPU moves its share on its own link
		r.host = kv.NewBlocks(int(c.KV.SwapBytes/r.blockBytes), c.KV.BlockTokens)
	}
	r.slots = make([]slot, max(c.PP, 1))
	r.stageFreeNanos = make([]int64, max(c.PP, 1))
	r.sched = newScheduler(c)
	return r, nil
}

// Config is the replica's configuration.
func (r *Replica) Config() *Config { return r.cfg }

// KVBytes is the KV cache of a sequence of tokens tokens under the
// replica's scheme, over all layers (what a hand-off moves).
func (r *Replica) KVBytes(tokens int) float64 { return r.size.bytes(tokens) }

// KVTier is the memory tier (group and tier name) whose room bounds the
// KV cache under an offloading scheme, or "" without one.
func (r *Replica) KVTier() string { return r.kvTier }

// Err is why the replica stopped: an iteration its offloading scheme could
// not price, or nil. The cluster ends the run with it.
func (r *Replica) Err() error {
	if r.shared != nil && r.shared.err != nil {
		return r.shared.err
	}
	return r.exec.Err()
}

// KV is the replica's device block pool.
func (r *Replica) KV() *kv.Blocks { return r.kv }

// Stats returns the running totals.
func (r *Replica) Stats() Stats {
	s := r.stats
	s.MemoHits, s.Steps = r.exec.memo.hits, r.exec.memo.hits+r.exec.memo.misses
	s.PrefixEvictedBlocks = r.kv.EvictedBlocks()
	return s
}

// Outstanding is the number of requests the replica holds (waiting,
// running, swapped).
func (r *Replica) Outstanding() int { return r.waiting.Len() + len(r.running) + r.swapped.Len() }

// Waiting is the number of requests queued and not yet started.
func (r *Replica) Waiting() int { return r.waiting.Len() }

// Reject reasons.
const (
	RejectContext = "context" // prompt + output exceed the max model length
	RejectKV      = "kv"      // the request's KV alone exceeds the cache
)

// Fits says why r can never be served here, or "" when it can.
func (r *Replica) Fits(req *Request) string {
	total := req.PromptTokens + req.OutputTokens
	if total > r.cfg.MaxModelLen {
		return RejectContext
	}
	if r.reserveBlocks(req) > r.kv.Total() || r.size.blocks(total) > r.kv.Total() {
		return RejectKV
	}
	return ""
}

// reserveBlocks is what an admission takes at once under the allocation
// mode; paged allocation grows later.
func (r *Replica) reserveBlocks(req *Request) int {
	switch r.cfg.Scheduler.KVAlloc {
	case KVReserve:
		return r.size.blocks(req.PromptTokens + req.OutputTokens)
	case KVContiguous:
		return r.size.blocks(max(r.reserveTokens, req.PromptTokens+req.OutputTokens))
	}
	return 0
}

// AdmitDelayNanos is the engine's delay between a request's arrival and
// its entry into the queue.
func (r *Replica) AdmitDelayNanos(req *Request) int64 {
	return sim.Nanos(r.cfg.Profile.AdmitDelaySeconds(req.PromptTokens))
}

// Enqueue adds a request (which Fits) to the waiting queue at nowNanos.
func (r *Replica) Enqueue(req *Request, nowNanos int64) {
	req.Replica = r.Index
	req.ReadyNanos = nowNanos
	r.pushWaiting(req, false)
	r.kick(nowNanos)
}

// idle reports whether no batch is in flight or being formed.
func (r *Replica) idle() bool {
	for i := range r.slots {
		if r.slots[i].busy {
			return false
		}
	}
	return r.forming < 0
}

// kick schedules a launch attempt at now, after the other events of the
// same instant: requests that arrive together start together.
func (r *Replica) kick(now int64) {
	if !r.kickPending {
		r.kickPending = true
		r.q.Push(now, KindKick, r.Index, 0)
	}
}

// Stale reports whether e is an event that no longer means anything: an
// iteration end that a shared host has moved since, or a host-link wake
// that a later transfer superseded. The owner drops it without letting
// time reach it (a run must not end at a stale, later event).
func (r *Replica) Stale(e sim.Event) bool {
	switch e.Kind {
	case KindStepDone:
		return r.shared != nil && (!r.shared.active || e.Arg>>8 != r.shared.gen)
	case KindSwapWake:
		return r.hostLink != nil && r.hostLink.Stale(e)
	}
	return false
}

// HandleEvent processes one of the replica's events.
func (r *Replica) HandleEvent(e sim.Event) {
	now := e.AtNanos
	switch e.Kind {
	case KindStepDone:
		if r.shared != nil {
			if r.Stale(e) {
				return
			}
			st := r.shared
			sl := &r.slots[st.slot]
			r.stats.BusyNanos += now - sl.startNanos
			r.sink.Iteration(r.Index, sl.startNanos, now, &r.it)
			r.finishShared(now)
			r.finishSlot(st.slot, now)
			break
		}
		r.finishSlot(int(e.Arg), now)
	case KindSwapWake:
		r.transfersDone = r.hostLink.Wake(r.q, e, r.transfersDone[:0])
		r.pendingTransfers -= len(r.transfersDone)
		if r.pendingTransfers == 0 && r.forming >= 0 {
			s := r.forming
			r.forming = -1
			r.launch(s, now)
		}
	case KindStageFree:
	case KindKick:
		r.kickPending = false
	default:
		panic("replica: unknown event kind")
	}
	r.tryLaunch(now)
}

// tryLaunch starts the next iteration if a slot and stage 0 are free and
// the scheduler finds work.
func (r *Replica) tryLaunch(now int64) {
	if r.forming >= 0 || r.stageFreeNanos[0] > now {
		return
	}
	s := -1
	for i := range r.slots {
		if !r.slots[i].busy {
			s = i
			break
		}
	}
	if s < 0 {
		return
	}
	sl := &r.slots[s]
	sl.entries = sl.entries[:0]
	r.sched.fill(r, sl, now)
	if len(sl.entries) == 0 {
		if r.pendingTransfers > 0 {
			r.hostLink.Reschedule(r.q, KindSwapWake, r.Index)
		} else if r.idle() && r.Outstanding() > 0 && r.kv.Used() == 0 {
			// Fits admits only requests that can run alone in an empty
			// cache, so an idle, empty replica with work is a scheduler
			// bug. (Blocks held by hand-offs in transit free up later.)
			panic(fmt.Sprintf("replica %d: %d requests but nothing schedulable", r.Index, r.Outstanding()))
		}
		return
	}
	sl.busy = true
	for _, e := range sl.entries {
		e.req.inFlight = true
		if !e.req.scheduled {
			e.req.scheduled = true
			e.req.ScheduledNanos = now
		}
	}
	if r.pendingTransfers > 0 {
		r.forming = s
		r.hostLink.Reschedule(r.q, KindSwapWake, r.Index)
		return
	}
	r.launch(s, now)
}
