package cluster

import (
	"encoding/csv"
	"fmt"

	"github.com/llmsim/llmsim/sim"
	"github.com/llmsim/llmsim/sim/metrics"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/sim/trace"
	"github.com/llmsim/llmsim/workloads"
)

// Event kinds of the cluster, after the replicas' own.
const (
	kindArrival sim.Kind = replica.KindLast + iota // the source's next request arrives
	kindReady                                      // Arg: slot; admission delay over
	kindKVWake                                     // the hand-off link has a transfer to finish
	kindKVDone                                     // Arg: slot; a hand-off delivered
)

// Cluster is one simulation run. Use Run.
type Cluster struct {
	cfg      *Config
	q        sim.Queue
	pools    [][]*replica.Replica
	all      []*replica.Replica
	routers  []router
	reqs     replica.Pool
	src      workloads.Source
	closed   workloads.Completer
	next     workloads.Request
	hasNext  bool
	arrived  uint64
	metrics  metrics.Collector
	trace    *trace.Writer
	kvTraced [][2]int // per replica: KV used and cached blocks last traced
	csv      *csv.Writer
	row      []string
	pd       *handoff
	endNanos int64
	emitted  uint64 // output tokens sampled, for conservation checks
	// check, when set (by tests), runs after every event.
	check func(c *Cluster, e sim.Event)
}

// Run simulates cfg serving every request of src and returns the result.
func Run(cfg *Config, src workloads.Source) (*Result, error) {
	c, err := newCluster(cfg, src)
	if err != nil {
		return nil, err
	}
	if err := c.loop(); err != nil {
		return nil, err
	}
	// A trace that fails part-way ends its stream early; say so rather
	// than report a shorter run.
	if e, ok := src.(interface{ Err() error }); ok && e.Err() != nil {
		return nil, fmt.Errorf("workload: %w", e.Err())
	}
	return c.result(), nil
}

// loop runs events until none is left.
func (c *Cluster) loop() error {
	c.pull()
	for {
		e, ok := c.q.Pop()
		if !ok {
			break
		}
		if (e.Kind < replica.KindLast && c.all[e.Target].Stale(e)) || (e.Kind == kindKVWake && c.pd.link.Stale(e)) {
			continue // superseded: an iteration end a shared host moved, a link wake
		}
		c.endNanos = e.AtNanos
		c.dispatch(e)
		if e.Kind < replica.KindLast {
			if err := c.all[e.Target].Err(); err != nil {
				return fmt.Errorf("replica %d: %w", e.Target, err)
			}
		}
		if c.check != nil {
			c.check(c, e)
		}
	}
	return c.flush()
}

func newCluster(cfg *Config, src workloads.Source) (*Cluster, error) {
	c := &Cluster{cfg: cfg, src: src, metrics: metrics.Collector{SLO: cfg.SLO}}
	c.closed, _ = src.(workloads.Completer)
	for pi := range cfg.Pools {
		p := &cfg.Pools[pi]
		var reps []*replica.Replica
		for i := 0; i < p.Replicas; i++ {
			r, err := replica.New(int32(len(c.all)), &p.Replica, &c.q, c)
			if err != nil {
				return nil, fmt.Errorf("pool %s: %w", p.Name, err)
			}
			reps = append(reps, r)
			c.all = append(c.all, r)
		}
		if n := p.Replica.HostShare; n > 1 {
			// Consecutive replicas share a host (replica.Host).
			for i := 0; i < len(reps); i += n {
				h := replica.NewHost()
				for _, r := range reps[i:min(i+n, len(reps))] {
					h.Join(r)
				}
			}
		}
		c.pools = append(c.pools, reps)
		c.routers = append(c.routers, newRouter(cfg.Router))
	}
	if cfg.Trace != nil {
		c.trace = trace.New(cfg.Trace)
		c.kvTraced = make([][2]int, len(c.all))
		for i := range c.kvTraced {
			c.kvTraced[i] = [2]int{-1, -1}
		}
		for pi, pool := range c.pools {
			for _, r := range pool {
				c.trace.ProcessName(r.Index, fmt.Sprintf("replica %d (%s, %s)", r.Index, cfg.Pools[pi].Name, r.Config().Device.Name))
			}
		}
	}
	if cfg.RequestsCSV != nil {
		c.csv = csv.NewWriter(cfg.RequestsCSV)
		c.csv.Write(csvHeader)
	}
	if cfg.Disaggregated() {
		c.pd = newHandoff(c)
	}
	return c, nil
}

func (c *Cluster) dispatch(e sim.Event) {
	switch {
	case e.Kind < replica.KindLast:
		c.all[e.Target].HandleEvent(e)
	case e.Kind == kindArrival:
		c.arrive(e.AtNanos)
	case e.Kind == kindReady:
		r := c.reqs.At(e.Arg)
		c.all[r.Replica].Enqueue(r, e.AtNanos)
	case e.Kind == kindKVWake, e.Kind == kindKVDone:
		c.pd.handle(e)
	default:
		panic("cluster: unknown event kind")
	}
}

// pull schedules the source's next request, if it has one now.
func (c *Cluster) pull() {
	if c.hasNext {
		return
	}
	r, ok := c.src.Next()
	if !ok {
		return
	}
	c.next, c.hasNext = r, true
	c.q.Push(max(r.ArrivalNanos, c.q.NowNanos()), kindArrival, 0, 0)
}

// arrive routes the pending request to the first pool, and with it every
// further request that arrives at the same instant: all of them are queued
// before any replica's deferred launch runs, so a burst starts as one batch.
func (c *Cluster) arrive(now int64) {
	for {
		w := c.next
		c.hasNext = false
		if r, ok := c.src.Next(); ok {
			c.next, c.hasNext = r, true
		}
		fetched := c.hasNext
		c.route(w, now)
		if !fetched {
			// A closed-loop client may have issued one while w was
			// rejected; pull scheduled it.
			return
		}
		if c.next.ArrivalNanos > now {
			c.q.Push(c.next.ArrivalNanos, kindArrival, 0, 0)
			return
		}
	}
}

// route sends the request w, arriving at now, to a replica of the first
// pool (or rejects it).
func (c *Cluster) route(w workloads.Request, now int64) {
	c.arrived++
	r := c.reqs.Get()
	r.ID, r.ArrivalNanos = w.ID, now
	// Every request reads at least one token and samples at least one.
	r.PromptTokens, r.OutputTokens = max(w.PromptTokens, 1), max(w.OutputTokens, 1)
	r.PrefixGroup, r.PrefixTokens, r.Session = w.PrefixGroup, min(w.PrefixTokens, r.PromptTokens), w.Session
	pool := c.pools[0]
	rep := pool[c.routers[0].pick(pool)]
	r.Replica = rep.Index
	if reason := c.fits(rep, r); reason != "" {
		c.reject(r, rep.Index, reason, now)
	} else if d := rep.AdmitDelayNanos(r); d > 0 {
		c.q.Push(now+d, kindReady, rep.Index, r.Slot())
	} else {
		rep.Enqueue(r, now)
	}
}

// fits checks r against the first pool and, when disaggregated, the
// decode pool (all replicas of a pool are alike).
func (c *Cluster) fits(rep *replica.Replica, r *replica.Request) string {
	if reason := rep.Fits(r); reason != "" {
		return reason
	}
	if c.pd != nil {
		return c.pools[1][0].Fits(r)
	}
	return ""
}

func (c *Cluster) reject(r *replica.Request, rep int32, reason string, now int64) {
	c.metrics.Reject(reason)
	c.trace.Instant("rejected: "+reason, rep, now)
	c.writeRow(r, "rejected", reason)
	c.complete(r, now)
}

// complete recycles r and lets a closed-loop client issue its next request.
func (c *Cluster) complete(r *replica.Request, now int64) {
	id := r.ID
	c.reqs.Put(r)
	if c.closed != nil {
		c.closed.Complete(id, now)
		c.pull()
	}
}

func (c *Cluster) flush() error {
	for _, r := range c.all {
		kv := r.KV()
		if c.trace != nil && c.kvTraced[r.Index] != [2]int{kv.Used(), kv.Cached()} {
			c.trace.KVBlocks(r.Index, c.endNanos, kv.Used(), kv.Cached(), kv.Free()-kv.Cached())
		}
	}
	if c.csv != nil {
		c.csv.Flush()
		if err := c.csv.Error(); err != nil {
			return fmt.Errorf("requests CSV: %w", err)
		}
	}
	if err := c.trace.Close(); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	return nil
}
