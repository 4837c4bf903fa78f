package replica

// Request is one request's state while the simulator serves it. The
// exported fields describe the request and its timeline; the rest is the
// replica's bookkeeping.
//
// A request knows PromptTokens + generated tokens. computed of them have
// their keys and values in the KV cache; an iteration processes some of
// the others (a prompt chunk, a recompute after preemption, or the last
// sampled token when decoding) and samples a new token when it reaches the
// end of what is known. Decoding is the case of exactly one pending token.
type Request struct {
	ID           int64
	ArrivalNanos int64
	PromptTokens int
	OutputTokens int
	// ReadyNanos is when the request reached the replica's queue (arrival
	// plus the engine's admission delay).
	ReadyNanos int64
	// ScheduledNanos is when the request first entered a batch.
	ScheduledNanos int64
	// FirstTokenNanos and LastTokenNanos are when the first and the latest
	// output tokens were sampled; FinishNanos when the request completed.
	FirstTokenNanos int64
	LastTokenNanos  int64
	FinishNanos     int64
	// HandoffNanos is when the KV transfer to a decode replica started.
	HandoffNanos int64
	// Preemptions counts evictions (by recompute or swap).
	Preemptions int
	// Replica is the index of the replica that holds the request now;
	// Target is the decode replica it is being handed to, if any.
	Replica, Target int32

	computed  int
	generated int
	blocks    int // device KV blocks of its own
	// chunks are the shared prefix chunks it holds (0..chunks-1), which
	// occupy chunkBlocks blocks (counted once in the pool).
	chunks, chunkBlocks int
	hostBlocks          int // host blocks held while swapped out
	// incomingBlocks are reserved on a decode replica during a hand-off.
	incomingBlocks int
	scheduled      bool
	inFlight       bool // in a batch now
	finished       bool
	handedOff      bool // prefill done on a Prefill-role replica
	slot           int32

	// PrefixGroup (0: none) and PrefixTokens say which prompt tokens the
	// request shares with others of its group; Session (0: none) names
	// its conversation. Prefix sharing keys its blocks on them. (Last:
	// the scheduler's hot fields above share cache lines.)
	PrefixGroup  int
	PrefixTokens int
	Session      int64
}

// Generated is the number of output tokens sampled so far.
func (r *Request) Generated() int { return r.generated }

// Computed is the number of tokens whose KV is in the cache.
func (r *Request) Computed() int { return r.computed }

// Blocks is the number of device KV blocks the request holds, its share
// of prefix chunks included.
func (r *Request) Blocks() int { return r.blocks + r.chunkBlocks }

// known is the number of tokens of the sequence so far.
func (r *Request) known() int { return r.PromptTokens + r.generated }

// pending is the number of known tokens not yet in the KV cache.
func (r *Request) pending() int { return r.known() - r.computed }

// decoding reports whether the next iteration of r is a decode (one token
// after a cached context).
func (r *Request) decoding() bool { return r.generated > 0 && r.pending() == 1 }

// done reports whether r has all its output tokens.
func (r *Request) done() bool { return r.generated >= r.OutputTokens }

// Slot is r's handle in its Pool, for events that refer to a request.
func (r *Request) Slot() int64 { return int64(r.slot) }

// Pool recycles Request values so that the number allocated is bounded by
// the number in flight, not by the number served. Each request has a slot
// number that events can carry.
type Pool struct {
	all  []*Request
	free []int32
}

// Get returns a zeroed Request with its slot set.
func (p *Pool) Get() *Request {
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free = p.free[:n-1]
		r := p.all[s]
		*r = Request{slot: s}
		return r
	}
	r := &Request{slot: int32(len(p.all))}
	p.all = append(p.all, r)
	return r
}

// At returns the request in slot s.
func (p *Pool) At(s int64) *Request { return p.all[s] }

// Put returns r to the pool; r must not be used afterwards.
func (p *Pool) Put(r *Request) { p.free = append(p.free, r.slot) }

// InUse is the number of requests handed out and not returned.
func (p *Pool) InUse() int { return len(p.all) - len(p.free) }

// fifo is a ring-buffer queue of requests that also takes pushes at the
// front (preempted requests go back ahead of newer ones).
type fifo struct {
	buf        []*Request
	head, size int
}

func (q *fifo) Len() int { return q.size }

func (q *fifo) grow() {
	if q.size < len(q.buf) {
		return
	}
	n := max(16, 2*len(q.buf))
	buf := make([]*Request, n)
	for i := 0; i < q.size; i++ {
		buf[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = buf, 0
}

func (q *fifo) PushBack(r *Request) {
	q.grow()
	q.buf[(q.head+q.size)%len(q.buf)] = r
	q.size++
}

func (q *fifo) PushFront(r *Request) {
	q.grow()
	q.head = (q.head - 1 + len(q.buf)) % len(q.buf)
	q.buf[q.head] = r
	q.size++
}

// At returns the i-th request from the front.
func (q *fifo) At(i int) *Request { return q.buf[(q.head+i)%len(q.buf)] }

func (q *fifo) PopFront() *Request {
	r := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.size--
	return r
}
