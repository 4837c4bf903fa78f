package offload

import (
	"math"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/models"
)

// runCoE runs a CoE spec with Llama2-7B experts on a system.
func runCoE(t *testing.T, spec, system string, w Workload) *Result {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(NewTarget(mustSystem(t, system), mustModel(t, "llama2-7b"), models.Precision{}), w)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func withinRel(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

// A Llama2-7B expert is 6.74e9 parameters × 2 bytes = 13.48 GB: at the
// DGX A100's stated 32 GB/s it takes 0.421 s to copy in, at the SN40L
// node's 8 × 125 GB/s of DDR 13.5 ms (the paper's 31× switching).
func TestCoESwitchSeconds(t *testing.T) {
	w := Workload{Batch: 1, Prompt: 128, Output: 20}
	for _, c := range []struct {
		spec, system  string
		copyBytesPerS float64
		switchSeconds float64
	}{
		{"coe:resident=0,copy_bytes_per_second=32e9", "dgx-a100", 32e9, 0.4211},
		{"coe:resident=0,copy_bytes_per_second=64e9", "dgx-h100", 64e9, 0.2106},
		{"coe:resident=0", "sn40l-node", 1e12, 0.01348},
	} {
		e := runCoE(t, c.spec, c.system, w).Extra
		if e["copy_bytes_per_second"] != c.copyBytesPerS || !withinRel(e["switch_seconds"], c.switchSeconds, 0.002) {
			t.Errorf("%s on %s: copy %g B/s, switch %.5f s; want %g, %.5f", c.spec, c.system, e["copy_bytes_per_second"], e["switch_seconds"], c.copyBytesPerS, c.switchSeconds)
		}
	}
}

// Without an override a DGX copies each GPU's shard over its own PCIe
// link at the pageable rate: DGX A100 8 × 32e9 × 0.8 × 20/55 = 74.5 GB/s.
func TestCoEDerivedCopyRate(t *testing.T) {
	e := runCoE(t, "coe:resident=0", "dgx-a100", Workload{Batch: 1, Prompt: 128, Output: 20}).Extra
	if want := 8 * 32e9 * 0.8 * 20 / 55; !withinRel(e["copy_bytes_per_second"], want, 1e-9) {
		t.Errorf("derived copy rate %g B/s, want %g", e["copy_bytes_per_second"], want)
	}
}

// With resident=0 every request copies its expert; with resident=fit a DGX
// A100 keeps floor(0.9 × 640 GiB / 13.48 GB) = 45 of 150 experts, so 10
// requests miss at the rate 105/150: 7 copies. Serial (overlap=0) serving
// takes requests × (copy + run).
func TestCoESwitchCount(t *testing.T) {
	w := Workload{Batch: 10, Prompt: 128, Output: 20}
	res := runCoE(t, "coe:resident=0,overlap=0,copy_bytes_per_second=32e9", "dgx-a100", w)
	e := res.Extra
	if e["switches"] != 10 || e["hit_rate"] != 0 {
		t.Errorf("resident=0: %g switches, hit rate %g; want 10, 0", e["switches"], e["hit_rate"])
	}
	if want := 10 * (e["switch_seconds"] + e["request_seconds"]); !withinRel(res.Seconds, want, 1e-6) {
		t.Errorf("serial makespan %.4f s, want 10 × (copy + run) = %.4f", res.Seconds, want)
	}
	e = runCoE(t, "coe:overlap=0", "dgx-a100", w).Extra
	if e["cached_experts"] != 45 || e["switches"] != 7 {
		t.Errorf("resident=fit: %g experts kept, %g switches; want 45, 7", e["cached_experts"], e["switches"])
	}
}

// With a router, a group of 8 prompts costs one router run at batch 8 plus
// 8 × (copy + run); the router at batch 8 is dearer than one at batch 1
// but far from 8 times (decode streams the weights once per step).
func TestCoERouterGroup(t *testing.T) {
	w := Workload{Batch: 8, Prompt: 128, Output: 20}
	res := runCoE(t, "coe:resident=0,overlap=0,router=1,group=8", "sn40l-node", w)
	e := res.Extra
	if want := e["router_seconds"] + 8*(e["switch_seconds"]+e["request_seconds"]); !withinRel(res.Seconds, want, 1e-6) {
		t.Errorf("group makespan %.4f s, want router + 8 × (copy + run) = %.4f", res.Seconds, want)
	}
	if r, one := e["router_seconds"], e["request_seconds"]; r <= one || r >= 2*one {
		t.Errorf("router at batch 8 %.4f s vs one request %.4f s: want between 1× and 2×", r, one)
	}
	one := runCoE(t, "coe:resident=0,overlap=0,router=1", "sn40l-node", w)
	if want := 8 * (2*e["request_seconds"] + e["switch_seconds"]); !withinRel(one.Seconds, want, 1e-6) {
		t.Errorf("group=1 makespan %.4f s, want 8 × (router + copy + run) = %.4f", one.Seconds, want)
	}
	for _, m := range res.Memory {
		if !m.Fits {
			t.Errorf("tier %s: %g of %g bytes", m.Tier, m.TotalBytes, m.CapacityBytes)
		}
	}
}

func TestCoEParams(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"coe:experts=10,resident=11", "resident: 11 experts kept but only 10 exist"},
		{"coe:resident=-1", "resident: want fit or a count"},
		{"coe:resident=some", "resident: want fit or a count"},
		{"coe:copy_bytes_per_second=5", "copy_bytes_per_second: want 0 (from the hardware) or at least 1e6"},
		{"coe:copy_bytes_per_second=-1", "copy_bytes_per_second: want a number"},
		{"coe:group=8", "group: 8 prompts per group batches only the router; set router=1"},
		{"coe:router=2", "router: want 0, 1, true or false"},
		{"coe:copy=32e9", "unknown parameter copy"},
	} {
		if _, err := Parse(c.spec); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", c.spec, err, c.want)
		}
	}
	for _, spec := range []string{"coe:experts=150,overlap=1", "coe:experts=150,overlap=0,resident=0,copy_bytes_per_second=3.2e+10,router=1,group=8"} {
		s, err := Parse(spec)
		if err != nil || s.String() != spec {
			t.Errorf("Parse(%q).String() = %v, %v", spec, s, err)
		}
	}
	// More resident experts than fast memory holds is an error, not a
	// silent clamp.
	s, _ := Parse("coe:resident=100")
	_, err := s.Run(NewTarget(mustSystem(t, "dgx-a100"), mustModel(t, "llama2-7b"), models.Precision{}), Workload{Batch: 1, Prompt: 128, Output: 20})
	if err == nil || !strings.Contains(err.Error(), "resident=100") {
		t.Errorf("resident=100 on dgx-a100: %v", err)
	}
}
