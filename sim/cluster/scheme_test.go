package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

func scheme(t testing.TB, spec string) kvcache.Scheme {
	t.Helper()
	s, err := kvcache.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A single request through the simulator under a KV-cache scheme costs
// what the estimate says for the same scheme (the graph rewritten by it,
// as `estimate --kv-scheme` builds it).
func TestSingleRequestEqualsEstimateUnderSchemes(t *testing.T) {
	for _, spec := range []string{"h2o", "kivi", "quant:bits=4", "duo", "quest", "window:sink=4,recent=508",
		"snapkv:tokens=256", "duo+quant:bits=4,group=128", "think", "gear", "paged:block=32"} {
		s := scheme(t, spec)
		rc := replicaConfig(t, "h100-sxm", "llama3-8b", "device", func(c *replica.Config) { c.KV.Scheme = s })
		res := run(t, single(rc, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: 1500, OutputTokens: 80}}})
		build := func(g *models.Graph, seqs []models.Seq) {
			rc.Model.GraphInto(g, seqs, rc.Precision, rc.Options)
			s.Rewrite(g, rc.Model, seqs, rc.Precision)
		}
		want := roofline.RequestWith(build, rc.Device, 1, 1500, 80)
		plain := roofline.Request(rc.Model, rc.Device, 1, 1500, 80, rc.Precision, rc.Options)
		if d := res.TTFT.Mean - want.TTFTSeconds; math.Abs(d) > 1e-9 {
			t.Errorf("%s: TTFT %g, estimate %g", spec, res.TTFT.Mean, want.TTFTSeconds)
		}
		if d := res.E2E.Mean - want.E2ESeconds; math.Abs(d) > 1e-9 {
			t.Errorf("%s: E2E %g, estimate %g", spec, res.E2E.Mean, want.E2ESeconds)
		}
		// Only allocation leaves the step graphs alone.
		if changed := want.E2ESeconds != plain.E2ESeconds; changed == (spec == "paged:block=32") {
			t.Errorf("%s: E2E %g vs the full cache's %g", spec, want.E2ESeconds, plain.E2ESeconds)
		}
	}
}

// groupedRequests assigns random requests to prefix groups and sessions:
// half of them share the first min(prompt, 1024·g) tokens of one of 6
// groups, a quarter belong to one of 20 conversations.
func groupedRequests(seed uint64, n int, rate float64, maxPrompt, maxOutput int) []workloads.Request {
	reqs := randomRequests(seed, n, rate, maxPrompt, maxOutput)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range reqs {
		switch x := r.IntN(4); {
		case x < 2:
			g := r.IntN(6) + 1
			reqs[i].PrefixGroup = g
			reqs[i].PrefixTokens = min(reqs[i].PromptTokens, 1024*g)
		case x == 2:
			reqs[i].Session = int64(r.IntN(20) + 1)
		}
	}
	return reqs
}

// Invariants (every request completes or is rejected with a reason, tokens
// conserved, blocks held plus cached never over capacity, nothing held at
// the end, time monotone) under KV schemes and prefix sharing, on random
// workloads with prefix groups and sessions.
func TestInvariantsWithSchemesAndPrefixCaching(t *testing.T) {
	caching := func(spec string, edit func(*replica.Config)) func(*replica.Config) {
		return func(c *replica.Config) {
			tightKV(c)
			c.KV.Scheme = scheme(t, spec)
			c.KV.PrefixCaching = true
			if edit != nil {
				edit(c)
			}
		}
	}
	for _, sc := range []scenario{
		{name: "prefix-caching-chunked", system: "h100-sxm", profile: "vllm-like", edit: caching("full", nil)},
		{name: "prefix-caching-kivi-prefill-first", system: "h100-sxm", profile: "device", edit: caching("kivi", nil)},
		{name: "prefix-caching-paged32-swap", system: "h100-node", profile: "vllm-like", edit: caching("paged:block=32", func(c *replica.Config) {
			c.KV.Preemption, c.KV.SwapBytes = replica.PreemptSwap, 1<<30
		})},
		{name: "prefix-caching-tiny", system: "h100-sxm", profile: "vllm-like", edit: caching("quest", func(c *replica.Config) {
			c.KV.Utilization = 0.208
		})},
		{name: "hydragen", system: "h100-sxm", profile: "vllm-like", edit: func(c *replica.Config) {
			tightKV(c)
			c.KV.Scheme = scheme(t, "hydragen:prefix=1024")
		}},
		{name: "h2o-chunked", system: "h100-sxm", profile: "vllm-like", edit: func(c *replica.Config) {
			tightKV(c)
			c.KV.Scheme = scheme(t, "h2o")
		}},
		{name: "snapkv-static", system: "h100-sxm", profile: "hf-eager-like", edit: func(c *replica.Config) {
			c.KV.Scheme = scheme(t, "snapkv")
		}},
		{name: "contiguous-scheme", system: "h100-sxm", profile: "device", edit: func(c *replica.Config) {
			c.KV.Scheme = scheme(t, "kivi+contiguous:max=4096")
		}},
		{name: "prefix-caching-two-replicas", system: "dgx-h100", profile: "vllm-like", edit: caching("full", nil), replicas: 2, router: "least-kv"},
		{name: "prefix-caching-disaggregated", system: "dgx-h100", profile: "vllm-like", edit: caching("kivi", nil), disaggregate: true},
	} {
		for seed := uint64(1); seed <= 2; seed++ {
			t.Run(fmt.Sprintf("%s/%d", sc.name, seed), func(t *testing.T) {
				checkInvariants(t, sc.config(t), groupedRequests(seed, 300, 30, 12000, 1500))
			})
		}
	}
}

// The hit rate emerges from the workload: the RAG preset (16 groups of
// 2048 shared tokens, 16-128-token questions) hits on every whole block of
// its prefix once a group has been seen, so nearly all prompt tokens are
// skipped; prefill work and TTFT fall with it. Without prefix groups
// nothing hits.
func TestPrefixCachingOnRAG(t *testing.T) {
	rc := replicaConfig(t, "h100-sxm", "llama3-8b", "vllm-like", func(c *replica.Config) { c.KV.PrefixCaching = true })
	base := replicaConfig(t, "h100-sxm", "llama3-8b", "vllm-like", nil)
	rag := func() workloads.Source {
		src, err := workloads.New(workloads.Spec{Arrival: workloads.Poisson{RatePerSecond: 10}, Preset: "rag", NumRequests: 400}, 3)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	with, without := run(t, single(rc, 1), rag()), run(t, single(base, 1), rag())
	p := with.PrefixCache
	if p == nil || without.PrefixCache != nil {
		t.Fatal("prefix_cache reported only with prefix caching")
	}
	// At most 2048 of ~2120 prompt tokens can hit, and each group's first
	// request misses: 16 of 400.
	if p.HitRate < 0.85 || p.HitRate > 2048.0/2064 || p.HitTokens%16 != 0 {
		t.Fatalf("hit rate %g (%d of %d)", p.HitRate, p.HitTokens, p.QueriedTokens)
	}
	if with.TTFT.Mean >= without.TTFT.Mean/2 {
		t.Fatalf("TTFT %g with prefix caching, %g without", with.TTFT.Mean, without.TTFT.Mean)
	}
	chat, err := workloads.New(workloads.Spec{Arrival: workloads.Poisson{RatePerSecond: 10}, Preset: "chat", NumRequests: 100}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if r := run(t, single(rc, 1), chat); r.PrefixCache.HitTokens != 0 || r.PrefixCache.QueriedTokens == 0 {
		t.Fatalf("chat without groups: %+v", r.PrefixCache)
	}
}

// When the cache is full, cached blocks are evicted, and a tighter cache
// evicts more and hits less.
func TestPrefixCacheEvictsUnderPressure(t *testing.T) {
	src := func() workloads.Source {
		pre, _ := workloads.ParsePrefix("groups=64,tokens=4096")
		in, _ := workloads.ParseLength("uniform:16..128")
		src, err := workloads.New(workloads.Spec{Arrival: workloads.Poisson{RatePerSecond: 5}, Prompt: in, Output: in, Prefix: pre, NumRequests: 300}, 1)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	var rates []float64
	for _, util := range []float64{0.9, 0.24} {
		rc := replicaConfig(t, "h100-sxm", "llama3-8b", "vllm-like", func(c *replica.Config) {
			c.KV.PrefixCaching, c.KV.Utilization = true, util
		})
		p := run(t, single(rc, 1), src()).PrefixCache
		rates = append(rates, p.HitRate)
		if util < 0.5 && p.EvictedBlocks == 0 {
			t.Fatalf("64 × 4096-token prefixes in a ~20k-token cache evicted nothing: %+v", p)
		}
	}
	if rates[1] >= rates[0] {
		t.Fatalf("hit rate %g with a large cache, %g with a small one", rates[0], rates[1])
	}
}

// Same seed, same bytes with prefix caching and a scheme; the trace has a
// KV counter per replica whose used + cached + free is the capacity.
func TestDeterminismAndKVCounterWithPrefixCaching(t *testing.T) {
	out := func() (res, tr []byte, blocks int) {
		var traceBuf, jsonBuf bytes.Buffer
		rc := replicaConfig(t, "h100-sxm", "llama3-8b", "vllm-like", func(c *replica.Config) {
			tightKV(c)
			c.KV.Scheme, c.KV.PrefixCaching = scheme(t, "quant:bits=8"), true
		})
		cfg := single(rc, 2)
		cfg.Trace = &traceBuf
		r := run(t, cfg, &sliceSource{reqs: groupedRequests(5, 300, 30, 8000, 500)})
		if err := json.NewEncoder(&jsonBuf).Encode(r); err != nil {
			t.Fatal(err)
		}
		return jsonBuf.Bytes(), traceBuf.Bytes(), r.Replicas[0].KVBlocks
	}
	j1, t1, total := out()
	j2, t2, _ := out()
	if !bytes.Equal(j1, j2) || !bytes.Equal(t1, t2) {
		t.Fatal("two runs with the same seed differ")
	}
	var doc struct {
		TraceEvents []struct {
			Ph   string         `json:"ph"`
			Name string         `json:"name"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
	}
	if err := json.NewDecoder(strings.NewReader(string(t1))).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	counters, cachedSeen := 0, false
	for _, e := range doc.TraceEvents {
		if e.Ph != "C" {
			continue
		}
		counters++
		used, cached, free := e.Args["used"].(float64), e.Args["cached"].(float64), e.Args["free"].(float64)
		if e.Name != "kv blocks" || int(used+cached+free) != total {
			t.Fatalf("counter %+v does not add up to %d blocks", e, total)
		}
		cachedSeen = cachedSeen || cached > 0
	}
	if counters == 0 || !cachedSeen {
		t.Fatalf("%d KV counters, cached blocks seen: %v", counters, cachedSeen)
	}
}
