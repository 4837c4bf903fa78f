package cluster

import "github.com/llmsim/llmsim/sim/replica"

// router picks a replica of a pool for a request.
type router interface {
	pick(pool []*replica.Replica) int
}

func newRouter(name string) router {
	switch name {
	case "least-outstanding":
		return leastOutstanding{}
	case "least-kv":
		return leastKV{}
	}
	return &roundRobin{}
}

type roundRobin struct{ next int }

func (r *roundRobin) pick(pool []*replica.Replica) int {
	i := r.next % len(pool)
	r.next++
	return i
}

type leastOutstanding struct{}

func (leastOutstanding) pick(pool []*replica.Replica) int {
	best := 0
	for i, rep := range pool {
		if rep.Outstanding() < pool[best].Outstanding() {
			best = i
		}
	}
	return best
}

// leastKV joins the replica whose KV cache is least used, counting the
// prompts still waiting as if admitted; ties go to fewer outstanding.
type leastKV struct{}

func kvLoad(rep *replica.Replica) float64 {
	kv := rep.KV()
	return float64(kv.Used()+rep.WaitingBlocks()) / float64(kv.Total())
}

func (leastKV) pick(pool []*replica.Replica) int {
	best := 0
	for i, rep := range pool {
		a, b := kvLoad(rep), kvLoad(pool[best])
		if a < b || (a == b && rep.Outstanding() < pool[best].Outstanding()) {
			best = i
		}
	}
	return best
}
