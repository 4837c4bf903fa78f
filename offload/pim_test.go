package offload

import (
	"testing"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

func TestPIMGEMVByHand(t *testing.T) {
	// One Aquabolt-XL stack: 16 pseudo-channels × 16 banks; a 4096×4096
	// fp16 GEMV puts 131,072 B in each bank = 128 rows of 1 KiB.
	// Bank: 128 × 28 ns activations + 131,072 B / 4.8 GB/s = 3.584 + 27.307 µs.
	// Command bus: 128 + 131,072 / (4.8e9 × 3.33e-9 B) commands × 3.33 ns.
	d, err := hw.LoadDevice("hbm-pim")
	if err != nil {
		t.Fatal(err)
	}
	a := newPIMArray(&hw.Group{Name: "pim", Count: 1, Device: d})
	op := a.gemv(4096*4096, 2, 4096*2, 4096*2)
	if op.RowActivations != 128 {
		t.Errorf("rows per bank %g, want 128", op.RowActivations)
	}
	bank := 128*2.8e-8 + 131072/4.8e9
	if !near(op.BankSeconds, bank, 1e-12) {
		t.Errorf("bank time %g, want %g", op.BankSeconds, bank)
	}
	cmd := (128 + 131072/(4.8e9*3.33e-9)) * 3.33e-9
	if !near(op.CmdSec, cmd, 1e-12) || !near(op.Core, max(bank, cmd), 1e-12) {
		t.Errorf("command time %g (want %g), core %g", op.CmdSec, cmd, op.Core)
	}
	// Input broadcast to each channel plus a 16th of the output back.
	if want := (8192 + 8192.0/16) / 19.2e9; !near(op.IO, want, 1e-12) {
		t.Errorf("io %g, want %g", op.IO, want)
	}
	// Spread over twice the banks, the in-bank time halves (rows and
	// streaming), the input still goes to every channel.
	two := newPIMArray(&hw.Group{Name: "pim", Count: 2, Device: d}).gemv(4096*4096, 2, 8192, 8192)
	if !near(two.BankSeconds, bank/2, 1e-12) {
		t.Errorf("two stacks: bank time %g, want %g", two.BankSeconds, bank/2)
	}
}

func TestBlockedPIMSerialisesDualOverlaps(t *testing.T) {
	// In blocked mode the accelerator and the banks share one resource: a
	// step takes the sum of both; with dual row buffers and sub-batches it
	// takes less, never less than the busier side.
	sys, err := hw.Load("neupims-node")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := models.Load("llama3-8b")
	tg := NewTarget(sys, m, models.Precision{})
	step := func(mode string) (Run, *Graph) {
		s, _ := Parse("neupims:mode=" + mode)
		np := s.(*NeuPIMs)
		pg, ag, _ := pimNode(sys)
		plan, _ := newAttnLayers("neupims", m)
		st := &npStep{s: np, t: tg, arr: newPIMArray(pg), acc: ag, batch: 384, plan: plan}
		g := &Graph{}
		st.accR = g.AddResource(Resource{Name: "npu", Kind: Serial})
		st.pimR = st.accR
		if mode == "neupims" {
			st.pimR = g.AddResource(Resource{Name: "pim", Kind: Serial})
		}
		st.build(g, 480, 1)
		return Execute(g, false), g
	}
	blocked, _ := step("naive")
	if blocked.MakespanNanos != blocked.BusyNanos[0] {
		t.Errorf("blocked step %d ns, busy %d ns: should be the sum", blocked.MakespanNanos, blocked.BusyNanos[0])
	}
	dual, _ := step("neupims")
	if dual.MakespanNanos >= dual.BusyNanos[0]+dual.BusyNanos[1] || dual.MakespanNanos < max(dual.BusyNanos[0], dual.BusyNanos[1]) {
		t.Errorf("dual step %d ns with busy %d + %d ns", dual.MakespanNanos, dual.BusyNanos[0], dual.BusyNanos[1])
	}
}

func TestInstInferIsNANDBound(t *testing.T) {
	// Long contexts: a decode step on the CSDs cannot beat reading every
	// drive's KV shard at its internal rate (4 drives × 3.5 GB/s).
	sys, err := hw.Load("a6000-csd")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := models.Load("llama2-13b")
	s, _ := Parse("instinfer:gbs=16,ngb=4")
	tg := NewTarget(sys, m, models.Precision{})
	r, err := s.Run(tg, Workload{Prompt: 3968, Output: 3})
	if err != nil {
		t.Fatal(err)
	}
	kv := 64 * 3968.5 * tg.sizes().KVPerTokenLayer * 40 // mean context over the two decode steps
	floor := kv / (4 * 3.5e9)
	if r.DecodeSeconds/2 < floor {
		t.Errorf("decode step %g s below the NAND floor %g s", r.DecodeSeconds/2, floor)
	}
	if r.DecodeSeconds/2 > 1.5*floor {
		t.Errorf("decode step %g s far above the NAND floor %g s", r.DecodeSeconds/2, floor)
	}
}
