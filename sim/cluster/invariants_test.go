package cluster

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/llmsim/llmsim/sim"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

// randomRequests draws n requests: Poisson arrivals at rate per second,
// log-uniform prompts of 1..maxPrompt tokens and outputs of 1..maxOutput.
func randomRequests(seed uint64, n int, rate float64, maxPrompt, maxOutput int) []workloads.Request {
	r := rand.New(rand.NewPCG(seed, 99))
	out := make([]workloads.Request, n)
	var t float64
	for i := range out {
		t += r.ExpFloat64() / rate
		p := int(float64(maxPrompt)*r.Float64()*r.Float64()) + 1
		out[i] = workloads.Request{ID: int64(i), ArrivalNanos: sim.Nanos(t), PromptTokens: p, OutputTokens: r.IntN(maxOutput) + 1}
	}
	return out
}

type scenario struct {
	name            string
	system, profile string
	edit            func(*replica.Config)
	replicas        int
	router          string
	disaggregate    bool
}

func (s scenario) config(t testing.TB) *Config {
	rc := replicaConfig(t, s.system, "llama3-8b", s.profile, s.edit)
	if !s.disaggregate {
		cfg := single(rc, max(s.replicas, 1))
		if s.router != "" {
			cfg.Router = s.router
		}
		return cfg
	}
	pre := replicaConfig(t, s.system, "llama3-8b", s.profile, func(c *replica.Config) {
		if s.edit != nil {
			s.edit(c)
		}
		c.Role = replica.Prefill
	})
	dec := replicaConfig(t, s.system, "llama3-8b", s.profile, func(c *replica.Config) {
		if s.edit != nil {
			s.edit(c)
		}
		c.Role = replica.Decode
	})
	return &Config{Router: "least-outstanding", Pools: []Pool{
		{Name: "prefill", Replica: pre, Replicas: 1}, {Name: "decode", Replica: dec, Replicas: 2},
	}}
}

// tightKV leaves room for ~20k tokens so that preemption happens.
func tightKV(c *replica.Config) { c.KV.Utilization = 0.24 }

var scenarios = []scenario{
	{name: "vllm-chunked-recompute", system: "h100-sxm", profile: "vllm-like", edit: tightKV},
	{name: "prefill-first-recompute", system: "h100-sxm", profile: "device", edit: tightKV},
	{name: "swap", system: "h100-node", profile: "vllm-like", edit: func(c *replica.Config) {
		tightKV(c)
		c.KV.Preemption = replica.PreemptSwap
		c.KV.SwapBytes = 1 << 30
	}},
	{name: "never-fits", system: "h100-sxm", profile: "vllm-like", edit: func(c *replica.Config) {
		c.KV.Utilization = 0.208 // ~9,000 tokens: the longest requests never fit
	}},
	{name: "static", system: "h100-sxm", profile: "hf-eager-like"},
	{name: "contiguous", system: "h100-sxm", profile: "device", edit: func(c *replica.Config) {
		c.Scheduler.KVAlloc = replica.KVContiguous
	}},
	{name: "reserve", system: "h100-sxm", profile: "trtllm-like", edit: tightKV},
	{name: "tp2-pp2", system: "dgx-h100", profile: "vllm-like", edit: func(c *replica.Config) { c.TP, c.PP = 2, 2 }},
	{name: "two-replicas-least-kv", system: "dgx-h100", profile: "vllm-like", edit: tightKV, replicas: 2, router: "least-kv"},
	{name: "disaggregated", system: "dgx-h100", profile: "vllm-like", edit: tightKV, disaggregate: true},
}

func TestInvariantsOnRandomWorkloads(t *testing.T) {
	for _, sc := range scenarios {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/%d", sc.name, seed), func(t *testing.T) {
				reqs := randomRequests(seed, 300, 30, 12000, 1500)
				checkInvariants(t, sc.config(t), reqs)
			})
		}
	}
}

func checkInvariants(t *testing.T, cfg *Config, reqs []workloads.Request) *Result {
	t.Helper()
	var rows bytes.Buffer
	cfg.RequestsCSV = &rows
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := newCluster(cfg, &sliceSource{reqs: reqs})
	if err != nil {
		t.Fatal(err)
	}
	last := int64(0)
	c.check = func(c *Cluster, e sim.Event) {
		if e.AtNanos < last {
			t.Fatalf("time went backwards: %d after %d", e.AtNanos, last)
		}
		last = e.AtNanos
		for _, rep := range c.all {
			if kv := rep.KV(); kv.Used()+kv.Cached() > kv.Total() || kv.Used() < 0 || kv.Cached() < 0 {
				t.Fatalf("replica %d KV %d used + %d cached of %d blocks", rep.Index, kv.Used(), kv.Cached(), kv.Total())
			}
		}
	}
	if err := c.loop(); err != nil {
		t.Fatal(err)
	}
	res := c.result()
	rq := res.Requests
	if rq.Arrived != uint64(len(reqs)) || rq.Completed+rq.Rejected != rq.Arrived {
		t.Fatalf("arrived %d, completed %d + rejected %d", rq.Arrived, rq.Completed, rq.Rejected)
	}
	// Tokens conserved: every sampled token belongs to a completed request
	// and each completed request got exactly what it asked for.
	wantTokens, completed := requestedOfCompleted(t, rows.Bytes())
	if c.emitted != wantTokens || rq.OutputTokens != wantTokens || completed != rq.Completed {
		t.Fatalf("sampled %d tokens, reported %d, requested by completed requests %d", c.emitted, rq.OutputTokens, wantTokens)
	}
	for _, rep := range c.all {
		if rep.KV().Used() != 0 || rep.Outstanding() != 0 {
			t.Fatalf("replica %d ends with %d blocks and %d requests", rep.Index, rep.KV().Used(), rep.Outstanding())
		}
	}
	if c.reqs.InUse() != 0 {
		t.Fatalf("%d requests never returned to the pool", c.reqs.InUse())
	}
	return res
}

// requestedOfCompleted sums output_tokens over the completed rows of a
// requests CSV and checks every rejected row has a reason.
func requestedOfCompleted(t *testing.T, data []byte) (tokens, completed uint64) {
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		switch row[1] {
		case "completed":
			n, _ := strconv.Atoi(row[6])
			tokens += uint64(n)
			completed++
		case "rejected":
			if row[2] != replica.RejectContext && row[2] != replica.RejectKV {
				t.Fatalf("rejected without a known reason: %v", row)
			}
		default:
			t.Fatalf("bad status %v", row)
		}
	}
	return tokens, completed
}
