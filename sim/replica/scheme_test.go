package replica

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

func withScheme(t testing.TB, spec string, edit func(*Config)) func(*Config) {
	t.Helper()
	s, err := kvcache.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) {
		c.KV.Scheme = s
		if edit != nil {
			edit(c)
		}
	}
}

// Blocks per request follow StoredBytes. Llama-3-8B in bf16 stores
// 2 × 32 layers × 1024 × 2 B = 131,072 B per token, so a 16-token block is
// 2,097,152 B. Hand checks:
//   - full, 1000 tokens: ⌈1000/16⌉ = 63;
//   - kivi (2 bits, groups of 32 with fp16 scale + zero: 0.375 B per element,
//     newest 128 tokens in bf16), 1000 tokens: per layer 872 × 2048 × 0.375 +
//     128 × 2048 × 2 = 1,193,984 B, × 32 = 38,207,488 B → ⌈18.22⌉ = 19;
//   - h2o (20% of the tokens): 1000 → 200 tokens → ⌈12.5⌉ = 13; 2000 → 25;
//   - snapkv (1024 tokens): 5000 → 1024 tokens = exactly 64 blocks, and no
//     more however long the sequence (eviction stops the growth).
func TestSchemeBlocksWorkedExample(t *testing.T) {
	for _, tc := range []struct {
		spec   string
		tokens int
		blocks int
	}{
		{"full", 1000, 63},
		{"kivi", 1000, 19},
		{"h2o", 1000, 13},
		{"h2o", 2000, 25},
		{"snapkv", 5000, 64},
		{"snapkv", 8000, 64},
		{"snapkv", 1000, 63},
	} {
		c := config(t, "h100-sxm", "llama3-8b", "vllm-like", withScheme(t, tc.spec, nil))
		r, err := New(0, &c, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.size.blocks(tc.tokens); got != tc.blocks {
			t.Errorf("%s, %d tokens: %d blocks, want %d", tc.spec, tc.tokens, got, tc.blocks)
		}
	}
}

// The alloc stage sets the allocation mode and block size: paged:block=32
// makes 32-token blocks (1000 tokens: 32 blocks); contiguous:max=4096
// reserves 4096 tokens (256 blocks) for any request that fits in them.
func TestSchemeAllocationModes(t *testing.T) {
	c := config(t, "h100-sxm", "llama3-8b", "vllm-like", withScheme(t, "paged:block=32", nil))
	r, _ := New(0, &c, nil, nil)
	if c.KV.BlockTokens != 32 || c.Scheduler.KVAlloc != KVPaged || r.size.blocks(1000) != 32 {
		t.Fatalf("paged: block %d, %s, %d blocks", c.KV.BlockTokens, c.Scheduler.KVAlloc, r.size.blocks(1000))
	}
	c = config(t, "h100-sxm", "llama3-8b", "vllm-like", withScheme(t, "contiguous:max=4096", nil))
	r, _ = New(0, &c, nil, nil)
	if c.Scheduler.KVAlloc != KVContiguous || r.reserveBlocks(req(0, 0, 100, 10)) != 256 {
		t.Fatalf("contiguous: %s, %d blocks", c.Scheduler.KVAlloc, r.reserveBlocks(req(0, 0, 100, 10)))
	}
	// A request longer than the reservation reserves its own length.
	if got := r.reserveBlocks(req(0, 0, 5000, 100)); got != 319 {
		t.Fatalf("5100 tokens reserve %d blocks, want 319", got)
	}
}

func TestSchemeConflictsAreErrors(t *testing.T) {
	for _, tc := range []struct {
		spec string
		edit func(*Config)
		want string
	}{
		{"paged:block=32", func(c *Config) { c.KV.BlockTokens = 16 }, "32-token blocks, but the block size is 16"},
		{"contiguous", func(c *Config) { c.Scheduler.KVAlloc = KVPaged }, "want contiguous"},
		{"vattention", func(c *Config) { c.Scheduler.KVAlloc = KVReserve }, "want paged"},
		{"h2o", func(c *Config) { c.KV.PrefixCaching = true }, "evicts tokens"},
		{"full", func(c *Config) { c.KV.PrefixCaching = true; c.Scheduler.Policy = Static }, "continuous batching with paged"},
		{"hydragen:prefix=1024", func(c *Config) { c.Scheduler.KVAlloc = KVReserve }, "continuous batching with paged"},
	} {
		s, err := kvcache.Parse(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		c := config(t, "h100-sxm", "llama3-8b", "vllm-like", nil)
		c.KV.Scheme = s
		tc.edit(&c)
		c = c.Defaults()
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.spec, err, tc.want)
		}
	}
}

// The memo keys on the batch's shapes; with a scheme it still returns what
// pricing the rewritten graph afresh gives.
func TestMemoMatchesFreshPricingUnderScheme(t *testing.T) {
	spec := "duo:retrieval=0.25+kivi"
	c := config(t, "h100-sxm", "llama3-8b", "device", withScheme(t, spec, nil))
	x := NewExecutor(&c)
	r := rand.New(rand.NewPCG(2, 2))
	var g models.Graph
	for round := 0; round < 2; round++ {
		r2 := rand.New(rand.NewPCG(3, 3))
		for i := 0; i < 100; i++ {
			b := make([]models.Seq, r2.IntN(4)+1)
			for j := range b {
				b[j] = models.Seq{Cached: r2.IntN(3) * 500, New: 1 + r2.IntN(2)*r2.IntN(300)}
			}
			r.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
			c.Model.GraphInto(&g, b, c.Precision, c.Options)
			c.KV.Scheme.Rewrite(&g, c.Model, b, c.Precision)
			if got, want := x.Price(b).Seconds(), roofline.StepSeconds(&g, c.Device); got != want {
				t.Fatalf("%v: memo %g, fresh %g", b, got, want)
			}
		}
	}
	if x.memo.hits == 0 {
		t.Fatal("repeated shapes never hit the memo")
	}
}

func grouped(r *Request, group, prefix int) *Request {
	r.PrefixGroup, r.PrefixTokens = group, prefix
	return r
}

// Prefix caching, by hand: A (group 1, 2048 shared of 2100 prompt tokens)
// computes and registers 2048/16 = 128 chunks and finishes; B of the same
// group arrives later, finds all 128 cached and prefills only its
// 2200 − 2048 = 152 own tokens, priced as a step with 2048 cached tokens.
// The cached chunks survive both requests.
func TestPrefixCachingSkipsCachedPrefill(t *testing.T) {
	c := config(t, "h100-sxm", "llama3-8b", "device", func(c *Config) { c.KV.PrefixCaching = true })
	a := grouped(req(0, 0, 2100, 2), 1, 2048)
	b := grouped(req(1, 10e9, 2200, 2), 1, 2048)
	r, rec := drive(t, &c, []*Request{a, b})
	st := r.Stats()
	if st.PrefixQueriedTokens != 4300 || st.PrefixHitTokens != 2048 {
		t.Fatalf("queried %d hit %d, want 4300 and 2048", st.PrefixQueriedTokens, st.PrefixHitTokens)
	}
	// Iterations: A prefill, A decode, B prefill, B decode.
	if len(rec.iterations) != 4 || rec.iterations[2].PrefillTokens != 152 {
		t.Fatalf("iterations %+v", rec.iterations)
	}
	var g models.Graph
	c.Model.GraphInto(&g, []models.Seq{{Cached: 2048, New: 152}}, c.Precision, c.Options)
	want := roofline.StepSeconds(&g, c.Device)
	if got := float64(rec.ends[2]-rec.starts[2]) / 1e9; got-want > 1e-9 || want-got > 1e-9 {
		t.Fatalf("B's prefill %g s, want %g s", got, want)
	}
	if r.kv.Used() != 0 || r.kv.Cached() != 128 {
		t.Fatalf("used %d cached %d, want 0 and 128", r.kv.Used(), r.kv.Cached())
	}
}

// Two requests of one group that start together both compute the prefix
// (neither is cached yet); when their chunks are identified the second
// drops its copy for the first's. Each holds ⌈2101/16⌉ = 132 blocks for
// its first decode, so 264 without sharing and 128 + 2 × 4 = 136 with.
func TestConcurrentPrefixIsDeduplicated(t *testing.T) {
	for _, tc := range []struct {
		caching bool
		want    int
	}{{false, 264}, {true, 136}} {
		c := config(t, "h100-sxm", "llama3-8b", "device", func(c *Config) { c.KV.PrefixCaching = tc.caching })
		reqs := []*Request{grouped(req(0, 0, 2100, 3), 1, 2048), grouped(req(1, 0, 2100, 3), 1, 2048)}
		r, rec := drive(t, &c, reqs)
		if got := rec.iterations[1].KVUsedBlocks; got != tc.want {
			t.Errorf("prefix caching %v: %d blocks at the first decode, want %d", tc.caching, got, tc.want)
		}
		if tc.caching && r.Stats().PrefixHitTokens != 0 {
			t.Errorf("hits %d, want 0", r.Stats().PrefixHitTokens)
		}
	}
}

// A conversation's next turn finds the earlier turn's prompt and answer:
// turn 1 computes 100 + 49 tokens (the last sampled token is never
// computed), 9 whole chunks = 144 tokens, which turn 2 skips.
func TestSessionTurnsShareTheirHistory(t *testing.T) {
	c := config(t, "h100-sxm", "llama3-8b", "device", func(c *Config) { c.KV.PrefixCaching = true })
	t1, t2 := req(0, 0, 100, 50), req(1, 10e9, 300, 10)
	t1.Session, t2.Session = 5, 5
	r, _ := drive(t, &c, []*Request{t1, t2})
	if hit := r.Stats().PrefixHitTokens; hit != 144 {
		t.Fatalf("hit %d tokens, want 144", hit)
	}
}

// Hydragen shares a group's prefix while requests hold it, but keeps
// nothing after the last one: a later request of the group misses.
func TestHydragenSharesOnlyWhileHeld(t *testing.T) {
	c := config(t, "h100-sxm", "llama3-8b", "device", withScheme(t, "hydragen:prefix=2048", nil))
	a := grouped(req(0, 0, 2100, 2), 1, 2048)
	b := grouped(req(1, 10e9, 2200, 2), 1, 2048)
	r, _ := drive(t, &c, []*Request{a, b})
	if st := r.Stats(); st.PrefixHitTokens != 0 || r.kv.Cached() != 0 || r.kv.Used() != 0 {
		t.Fatalf("hit %d, cached %d, used %d", st.PrefixHitTokens, r.kv.Cached(), r.kv.Used())
	}
	// Held together, the prefix is stored once (as in the test above).
	reqs := []*Request{grouped(req(0, 0, 2100, 3), 1, 2048), grouped(req(1, 0, 2100, 3), 1, 2048)}
	if _, rec := drive(t, &c, reqs); rec.iterations[1].KVUsedBlocks != 136 {
		t.Fatalf("%d blocks at the first decode, want 136", rec.iterations[1].KVUsedBlocks)
	}
}

// A hybrid's constant state is reserved with its attention K/V: a
// 768-token Jamba sequence in fp8 holds 4 attention layers × 2 × 1024 ×
// 768 B = 6,291,456 B of K/V plus 28 × (8192×4 + 8192×16) B = 4,587,520 B
// of state, 10,878,976 B in all, in 16-token blocks of 131,072 B: exactly
// 83 blocks, not the 48 its attention tokens alone would take.
func TestHybridStateIsReserved(t *testing.T) {
	c := config(t, "h200", "jamba-v0.1", "vllm-like", func(c *Config) {
		c.Precision = models.Precision{Weights: dtype.FP8, Activations: dtype.FP8, KV: dtype.FP8}
	})
	r, err := New(0, &c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.size.blocks(768); got != 83 {
		t.Fatalf("%d blocks (%.0f B), want 83", got, r.size.bytes(768))
	}
}
