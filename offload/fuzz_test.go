package offload

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// FuzzParse: any --offload text either fails with an error or gives a
// scheme whose String parses back to the same scheme, and that prices a
// decode step on a GPU + host + NVMe system with finite, non-negative
// seconds or refuses it with an error, never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"gpu", "gpu:chunk=512", "zero:tier=cpu", "zero:tier=nvme,fetch=0.5", "accelerate:tier=disk",
		"flexgen:w=20/80/0,c=0/100/0,a=0/100/0,gbs=48,ngb=3,cpuattn=1", "flexgen:w=0/100/0,cw=1,cc=1", "flexgen:w=50/30/20,pin=0,pageable=1",
		"kvswap:overlap=1", "shadowkv:budget=0.02,rank=160", "a2ats:budget=0.03", "expertflow:cache=2,predict=0.9", "flash:mode=bundle,window=5",
		"powerinfer2:activity=0.1,hit=0.92", "tpi:window=4", "instinfer:ngb=1,sparse=0.125", "lamina:microbatches=2", "neupims:mode=neupims",
		"pimgpt", "flightllm:bits=4,sparsity=0.5", "coe:experts=llama2-7b,resident=0", "flexgen:w=101/0/0", "zero:tier=moon", "flexgen:gbs=-1", ":", ",,"} {
		f.Add(s)
	}
	sys, err := hw.Load("h200-node")
	if err != nil {
		f.Fatal(err)
	}
	m, err := models.Load("llama3-8b")
	if err != nil {
		f.Fatal(err)
	}
	tg := NewTarget(sys, m, models.Precision{Weights: dtype.BF16})
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec)
		if err != nil {
			return
		}
		again, err := Parse(s.String())
		if err != nil || again.String() != s.String() {
			t.Fatalf("%q → %q does not parse back (%v, %v)", spec, s.String(), again, err)
		}
		c, err := tg.PriceStep(s, []models.Seq{{Cached: 700, New: 1}, {Cached: 900, New: 1}})
		if err != nil {
			return
		}
		if c.Seconds < 0 || math.IsNaN(c.Seconds) || math.IsInf(c.Seconds, 0) || c.Bytes < 0 || math.IsNaN(c.Bytes) {
			t.Fatalf("%s: step %g s, %g B", s, c.Seconds, c.Bytes)
		}
	})
}
