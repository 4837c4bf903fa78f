package replica

import (
	"strings"
	"testing"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/offload"
)

// offloadCfg is an unvalidated replica of model on system under spec, with
// a short context so that the sizing prefill stays cheap.
func offloadCfg(t *testing.T, system, model, spec string, edit func(*Config)) Config {
	t.Helper()
	sys, err := hw.Load(system)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	s, err := offload.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := LookupProfile("device")
	c := Config{Model: m, System: sys, Device: sys.Primary().Device, Precision: bf16, Profile: p, Offload: s,
		MaxModelLen: 512, Scheduler: Scheduler{MaxBatchedTokens: 512}}
	if edit != nil {
		edit(&c)
	}
	return c.Defaults()
}

// Every scheme the help lists as working with simulate validates, sizes
// its KV cache and serves a small batch on a system that has its tiers;
// every registered scheme is either listed or refused with a reason, so a
// new scheme cannot slip through unclassified.
func TestOffloadSchemesThatServe(t *testing.T) {
	cases := map[string]struct{ system, model, spec string }{
		"accelerate":  {"t4-flexgen-paper", "opt-1.3b", "accelerate:tier=cpu"},
		"a2ats":       {"a100-node", "llama3.1-8b", "a2ats"},
		"expertflow":  {"a100-node", "mixtral-8x7b", "expertflow:cache=2,predict=0.9"},
		"flash":       {"m1-max-flash", "opt-6.7b", "flash:mode=bundle"},
		"flexgen":     {"t4-flexgen-paper", "opt-1.3b", "flexgen:w=50/50/0,c=0/100/0,a=100/0/0,gbs=4,ngb=2"},
		"flightllm":   {"alveo-u280", "llama2-7b", "flightllm:bits=6,sparsity=0"},
		"gpu":         {"h100-sxm", "llama3-8b", "gpu"},
		"instinfer":   {"a6000-csd", "llama2-13b", "instinfer:ngb=1"},
		"kvswap":      {"a100-node", "llama3.1-8b", "kvswap"},
		"lamina":      {"lamina-node", "llama2-13b", "lamina:microbatches=1"},
		"neupims":     {"neupims-node", "llama3-8b", "neupims:mode=npu"},
		"pimgpt":      {"pim-gpt", "opt-1.3b", "pimgpt"},
		"powerinfer2": {"oneplus12", "mixtral-8x7b", "powerinfer2:activity=0.1,hit=0.92"},
		"shadowkv":    {"a100-node", "llama3.1-8b", "shadowkv"},
		"tpi":         {"edge-cluster", "llama2-70b", "tpi:window=4"},
		"zero":        {"t4-flexgen-paper", "opt-1.3b", "zero:tier=cpu"},
	}
	listed := map[string]bool{}
	for _, s := range offloadServing {
		name := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ' ' })[0]
		listed[name] = true
		if _, ok := cases[name]; !ok {
			t.Errorf("%s is listed as serving but has no case here", name)
		}
	}
	for _, n := range offload.Names() {
		if _, refused := offloadNotServing[n]; !listed[n] && !refused {
			t.Errorf("offload scheme %s is neither listed as serving nor refused with a reason", n)
		}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := offloadCfg(t, tc.system, tc.model, tc.spec, func(c *Config) {
				if name == "pimgpt" {
					c.Scheduler.MaxNumSeqs = 1
				}
			})
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			r, rec := drive(t, &c, []*Request{req(0, 0, 40, 3), req(1, 0, 30, 4)})
			if len(rec.finished) != 2 || rec.tokens != 7 || r.KV().Used() != 0 || r.Err() != nil {
				t.Fatalf("%d finished, %d tokens, %d blocks left, err %v", len(rec.finished), rec.tokens, r.KV().Used(), r.Err())
			}
			if r.KVTier() == "" || r.KV().Total() < 1 {
				t.Fatalf("KV %d blocks on %q", r.KV().Total(), r.KVTier())
			}
		})
	}
}

// Settings without a serving meaning are refused, naming what to change.
func TestOffloadRefusals(t *testing.T) {
	for _, tc := range []struct {
		system, model, spec string
		edit                func(*Config)
		want                string
	}{
		{"t4-flexgen-paper", "opt-1.3b", "flexgen:search=1", nil, "chooses its own policy and batch"},
		{"dgx-a100", "llama2-7b", "coe", nil, "does not work with simulate"},
		{"t4-flexgen-paper", "opt-1.3b", "zero:tier=cpu", func(c *Config) { c.KV.Preemption = PreemptSwap }, "use recompute"},
		{"dgx-h100", "llama3-8b", "gpu", func(c *Config) { c.TP = 2 }, "not combined with TP/PP"},
		{"pim-gpt", "opt-1.3b", "pimgpt", nil, "one sequence at a time (schemes that work with simulate:"},
		{"lamina-node", "llama2-13b", "lamina", nil, "not a multiple of 2 micro-batches"},
		{"h100-sxm", "llama3-8b", "zero:tier=cpu", nil, "needs a host CPU"},
		{"t4-flexgen-paper", "opt-30b", "gpu", nil, "does not fit: tier gddr6"},
	} {
		c := offloadCfg(t, tc.system, tc.model, tc.spec, tc.edit)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s on %s: %v, want %q", tc.spec, tc.system, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "offload scheme") {
			t.Errorf("%s: error does not name the offload scheme: %v", tc.spec, err)
		}
	}
}

// The step memo keys on the batch's shape alone: the scheme is fixed per
// replica, so a memo hit returns exactly what pricing again would.
func TestOffloadMemoEqualsFreshPricing(t *testing.T) {
	c := offloadCfg(t, "t4-flexgen-paper", "opt-1.3b", "zero:tier=cpu", nil)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	x := NewExecutor(&c)
	seqs := []models.Seq{{Cached: 100, New: 1}, {Cached: 0, New: 64}, {Cached: 300, New: 1}}
	first := *x.Price(seqs)
	again := *x.Price([]models.Seq{seqs[2], seqs[0], seqs[1]})
	fresh := NewExecutor(&c)
	want := *fresh.Price(seqs)
	if x.memo.hits != 1 || first.StageSeconds[0] != want.StageSeconds[0] || again.StageSeconds[0] != want.StageSeconds[0] ||
		again.FLOPs != want.FLOPs || again.Bytes != want.Bytes {
		t.Fatalf("hits %d: first %+v, memo %+v, fresh %+v", x.memo.hits, first, again, want)
	}
}
