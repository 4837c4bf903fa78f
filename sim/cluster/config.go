package cluster

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/sim/metrics"
	"github.com/llmsim/llmsim/sim/replica"
)

// Pool is a set of identical replicas.
type Pool struct {
	Name     string
	Replica  replica.Config // defaults filled in and validated
	Replicas int
}

// Config describes a deployment and what to record.
type Config struct {
	// Pools holds one pool of Mixed replicas, or a Prefill pool and a
	// Decode pool (in that order) for disaggregated serving.
	Pools []Pool
	// Router picks a replica for each request (see Routers).
	Router string
	// KVLink carries KV caches from prefill to decode replicas; nil means
	// the link among the prefill pool's devices (same node). All hand-offs
	// share it (processor sharing), so concurrent transfers contend.
	KVLink *hw.Link
	SLO    metrics.SLO
	// Trace receives a Chrome/Perfetto trace when non-nil.
	Trace io.Writer
	// RequestsCSV receives one row per request when non-nil.
	RequestsCSV io.Writer
}

// Routers lists the routing policies.
var Routers = map[string]string{
	"round-robin":       "replicas in turn",
	"least-outstanding": "the replica holding the fewest requests (waiting + running + swapped)",
	"least-kv":          "join-shortest-queue by KV use: the replica with the smallest fraction of KV blocks in use, then the fewest outstanding",
}

// RouterNames lists the routers, sorted.
func RouterNames() []string {
	out := make([]string, 0, len(Routers))
	for n := range Routers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Disaggregated reports whether the deployment splits prefill and decode.
func (c *Config) Disaggregated() bool { return len(c.Pools) == 2 }

// Validate checks the deployment's shape.
func (c *Config) Validate() error {
	var errs []error
	if _, ok := Routers[c.Router]; !ok {
		errs = append(errs, fmt.Errorf("router %q: want one of %s", c.Router, strings.Join(RouterNames(), ", ")))
	}
	switch len(c.Pools) {
	case 1:
		if c.Pools[0].Replica.Role != replica.Mixed {
			errs = append(errs, errors.New("a single pool must serve both phases"))
		}
	case 2:
		if c.Pools[0].Replica.Role != replica.Prefill || c.Pools[1].Replica.Role != replica.Decode {
			errs = append(errs, errors.New("disaggregated pools must be prefill then decode"))
		}
		for _, p := range c.Pools {
			if p.Replica.Scheduler.Policy != replica.Continuous {
				errs = append(errs, fmt.Errorf("pool %s: disaggregation needs continuous batching", p.Name))
			}
		}
		if c.KVLink == nil && c.kvLink() == nil {
			errs = append(errs, errors.New("no link for KV hand-off: the prefill pool's system has no link among its devices; give one"))
		}
	default:
		errs = append(errs, fmt.Errorf("%d pools: want 1 (mixed) or 2 (prefill, decode)", len(c.Pools)))
	}
	for _, p := range c.Pools {
		if p.Replicas < 1 {
			errs = append(errs, fmt.Errorf("pool %s: %d replicas, want ≥ 1", p.Name, p.Replicas))
		}
		if n := p.Replica.HostShare; n > 1 && p.Replicas%n != 0 {
			errs = append(errs, fmt.Errorf("pool %s: %d replicas do not fill hosts of %d (host share): want a multiple of %d", p.Name, p.Replicas, n, n))
		}
	}
	return errors.Join(errs...)
}

// kvLink is the hand-off link: KVLink, or the prefill system's own.
func (c *Config) kvLink() *hw.Link {
	if c.KVLink != nil {
		return c.KVLink
	}
	sys := c.Pools[0].Replica.System
	g := sys.Primary().Name
	return sys.LinkBetween(g, g)
}
