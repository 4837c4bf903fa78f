package cluster

import (
	"github.com/llmsim/llmsim/sim"
	"github.com/llmsim/llmsim/sim/replica"
)

// handoff moves requests from the prefill pool to the decode pool
// (Splitwise, DistServe). A request whose prompt is done picks a decode
// replica through the router; the decode replica reserves blocks for its
// KV (or the request waits in that replica's queue of incoming hand-offs
// until blocks free up); then the KV crosses the hand-off link, shared by
// all transfers in flight; on delivery the prefill replica frees its copy
// and the decode replica starts decoding.
type handoff struct {
	c          *Cluster
	link       *sim.Link
	incoming   map[int32]*[]*replica.Request // decode replica → waiting hand-offs
	done       []int64
	transfers  int64
	movedBytes float64
	totalNanos int64 // hand-off durations, reservation wait excluded
}

func newHandoff(c *Cluster) *handoff {
	h := &handoff{c: c, link: sim.NewLink(c.cfg.kvLink()), incoming: map[int32]*[]*replica.Request{}}
	for _, d := range c.pools[1] {
		h.incoming[d.Index] = new([]*replica.Request)
	}
	return h
}

// start hands r (first token sampled on a prefill replica) to a decode
// replica.
func (h *handoff) start(r *replica.Request, now int64) {
	pool := h.c.pools[1]
	d := pool[h.c.routers[1].pick(pool)]
	r.Target = d.Index
	q := h.incoming[d.Index]
	if len(*q) > 0 || !d.Reserve(r, now) {
		*q = append(*q, r)
		return
	}
	h.send(r, now)
}

func (h *handoff) send(r *replica.Request, now int64) {
	r.HandoffNanos = now
	// The KV as the scheme stores it (a full cache: tokens × bytes per token).
	bytes := h.c.all[r.Target].KVBytes(r.Computed())
	h.transfers++
	h.movedBytes += bytes
	h.link.Start(now, r.Slot(), bytes)
	h.link.Reschedule(&h.c.q, kindKVWake, 0)
}

// freed retries the hand-offs waiting for blocks on replica rep.
func (h *handoff) freed(rep int32, now int64) {
	q, ok := h.incoming[rep]
	if !ok {
		return
	}
	d := h.c.all[rep]
	sent := 0
	for _, r := range *q {
		if !d.Reserve(r, now) {
			break
		}
		h.send(r, now)
		sent++
	}
	if sent > 0 {
		n := copy(*q, (*q)[sent:])
		clear((*q)[n:])
		*q = (*q)[:n]
	}
}

func (h *handoff) handle(e sim.Event) {
	if e.Kind == kindKVWake {
		h.done = h.link.Wake(&h.c.q, e, h.done[:0])
		for _, slot := range h.done {
			h.c.q.Push(e.AtNanos+h.link.LatencyNanos, kindKVDone, 0, slot)
		}
		return
	}
	r := h.c.reqs.At(e.Arg)
	h.totalNanos += e.AtNanos - r.HandoffNanos
	h.c.all[r.Replica].Release(r, e.AtNanos)
	h.c.all[r.Target].AdmitDecoded(r, e.AtNanos)
}
