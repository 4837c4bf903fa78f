package offload

import (
	"strings"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// The NeuPIMs device as its simulator's configs give it: 8 systolic arrays
// of 128 × 128 MACs at 1 GHz; 32 channels × 32 banks, each bank's MAC unit
// taking 16 fp16 values (32 B) per COMP slot of 2 ns, i.e. 16 × the 32
// channels' external 32 GB/s.
func TestNeuPIMsDeviceByHand(t *testing.T) {
	npu, err := hw.LoadDevice("neupims-npu")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := npu.DTypePeak(dtype.FP16), 8*128*128*2*1e9; got != want {
		t.Errorf("NPU peak %g FLOP/s, want %g (≈ 262 TFLOP/s)", got, want)
	}
	mem, err := hw.LoadDevice("neupims-hbm")
	if err != nil {
		t.Fatal(err)
	}
	p := mem.PIM
	external := mem.MainMemory().BytesPerSecond
	if want := 32 * 32e9; !near(external, want, 1e-12) || !near(float64(p.Channels)*p.ChannelBytesPerSecond, want, 1e-12) {
		t.Errorf("external %g B/s, want %g", external, want)
	}
	internal := float64(p.Channels*p.BanksPerChannel) * p.BankBytesPerSecond
	if want := 1024 * 16e9; !near(internal, want, 1e-12) || !near(internal/external, 16, 1e-12) {
		t.Errorf("in-bank %g B/s (%g × external), want %g (16.4 TB/s, 16 ×)", internal, internal/external, want)
	}
	if perComp := p.BankBytesPerSecond * p.CommandSeconds / 2; !near(perComp, 16, 1e-12) {
		t.Errorf("%g fp16 values per bank per COMP, want pim_comp_coverage 16", perComp)
	}
	// tRP + 3 × tFAW + tRCDRD = 14 + 90 + 14 tCK of 1 ns.
	if !near(p.RowActivateSeconds, 118e-9, 1e-12) || !p.DualRowBuffer {
		t.Errorf("row activation %g s, dual row buffer %v", p.RowActivateSeconds, p.DualRowBuffer)
	}
}

// One request of GPT3-7B's TP4 shard (8 heads of 128) with 300 tokens, one
// layer, on one channel of neupims-hbm:
//
//	K: 300 tokens / 32 banks = 10 tiles × 2 row-wide chunks of 4 heads = 20
//	   rows; 10 × 8 heads COMPS_READRES of 128/16 = 8 COMPs = 9 slots; 2
//	   GWRITEs of 48 slots: 20 × 118 + (720 + 96) × 2 = 3992 ns.
//	V: 8 heads × 128/32 = 4 rows of 300 ≤ 512 tokens = 32 rows; each one
//	   COMPS_READRES of ceil(300/16) = 19 COMPs = 20 slots; 8 GWRITEs:
//	   32 × 118 + (640 + 384) × 2 = 5824 ns.
//
// Without the row activations and GWRITEs K would take 1440 ns: tFAW-bound
// G_ACTs are most of a PIM GEMV at this length.
func TestNeuPIMsGEMVByHand(t *testing.T) {
	mem, err := hw.LoadDevice("neupims-hbm")
	if err != nil {
		t.Fatal(err)
	}
	p := mem.PIM
	k, v := requestAttention(p, 2, 8, 1, 128, 300)
	if k.Rows != 20 || k.Slots != 720 || k.GWrites != 2 {
		t.Errorf("K work %+v, want 20 rows, 720 slots, 2 GWRITEs", k)
	}
	if got := k.seconds(p); !near(got, 3992e-9, 1e-9) {
		t.Errorf("K GEMV %g s, want 3992 ns", got)
	}
	if v.Rows != 32 || v.Slots != 640 || v.GWrites != 8 {
		t.Errorf("V work %+v, want 32 rows, 640 slots, 8 GWRITEs", v)
	}
	if got := v.seconds(p); !near(got, 5824e-9, 1e-9) {
		t.Errorf("V GEMV %g s, want 5824 ns", got)
	}
	// A sub-batch of 256 requests over one device's 32 channels: 8 each.
	sys := mustSystem(t, "neupims-node")
	pg, ag, _ := pimNode(sys)
	tg := NewTarget(sys, mustModel(t, "opt-6.7b"), models.Precision{})
	st := &npStep{t: tg, arr: newPIMArray(pg), acc: ag, tp: 4}
	score, context := st.pimAttention(256, 300)
	if !near(score.Core, 8*3992e-9, 1e-9) || !near(context.Core, 8*5824e-9, 1e-9) {
		t.Errorf("sub-batch score %g s, context %g s; want 8 × 3992 and 8 × 5824 ns", score.Core, context.Core)
	}
	// The KV read in the banks: 256 × 300 tokens × 4096 × 2 B each, K and V.
	if want := 256 * 300 * 4096 * 2.0; score.Bytes != want || context.Bytes != want {
		t.Errorf("bytes %g, %g; want %g", score.Bytes, context.Bytes, want)
	}
}

// Blocked mode serialises the NPU's GEMMs and the banks' attention, so a
// decode step is their sum; dual row buffers with two sub-batches hide the
// attention under the other sub-batch's GEMMs, so the step is faster than
// naive but no faster than the NPU alone needs; PIM beats the NPU reading
// the KV at the external rate.
func TestNeuPIMsModesOrder(t *testing.T) {
	sys := mustSystem(t, "neupims-node")
	tg := NewTarget(sys, mustModel(t, "opt-6.7b"), models.Precision{})
	w := Workload{Batch: 512, Prompt: 296, Output: 3}
	run := func(spec string) *Result {
		s, err := Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Run(tg, w)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Memory[0].Fits {
			t.Errorf("%s: %g B in %g B", spec, r.Memory[0].TotalBytes, r.Memory[0].CapacityBytes)
		}
		return r
	}
	npu, naive, dual := run("neupims:mode=npu"), run("neupims:mode=naive"), run("neupims:mode=neupims,subbatches=2")
	if !(npu.DecodeSeconds > naive.DecodeSeconds && naive.DecodeSeconds > dual.DecodeSeconds) {
		t.Errorf("decode seconds npu %g, naive %g, neupims %g: want decreasing", npu.DecodeSeconds, naive.DecodeSeconds, dual.DecodeSeconds)
	}
	if dual.Extra["tp"] != 4 || dual.Extra["pim_banks"] != 4*1024 || dual.Extra["dual_row_buffer"] != 1 || naive.Extra["dual_row_buffer"] != 0 {
		t.Errorf("extra %v / %v", dual.Extra, naive.Extra)
	}
	// The dual-buffer step cannot beat its busiest engine: the NPU.
	var npuBusy float64
	for _, ru := range dual.Resources {
		if ru.Name == "npu" {
			npuBusy = ru.BusySeconds
		}
	}
	if dual.Seconds < npuBusy*(1-1e-9) {
		t.Errorf("neupims run %g s shorter than its NPU's busy time %g s", dual.Seconds, npuBusy)
	}
}

// tp picks how many of the accelerator group's devices share the model;
// the GPU-only baseline is mode=npu on a system without PIM.
func TestNeuPIMsTP(t *testing.T) {
	m := mustModel(t, "opt-6.7b")
	w := Workload{Batch: 8, Prompt: 64, Output: 2}
	s, err := Parse("neupims:mode=npu,tp=4")
	if err != nil || s.String() != "neupims:mode=npu,subbatches=1,tp=4" {
		t.Fatalf("%v, %v", s, err)
	}
	r, err := s.Run(NewTarget(mustSystem(t, "dgx-a100"), m, models.Precision{}), w)
	if err != nil {
		t.Fatal(err)
	}
	if r.Memory[0].CapacityBytes != 4*80<<30 {
		t.Errorf("capacity %g, want 4 GPUs' 320 GiB", r.Memory[0].CapacityBytes)
	}
	for _, c := range []struct{ spec, system, want string }{
		{"neupims:mode=npu,tp=16", "dgx-a100", "exceeds"},
		{"neupims:mode=naive,tp=4", "dgx-a100", "needs a pim group"},
		{"neupims:mode=neupims,tp=3", "neupims-node", "split evenly"},
	} {
		s, _ := Parse(c.spec)
		if _, err := s.Run(NewTarget(mustSystem(t, c.system), m, models.Precision{}), w); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s on %s: %v, want %q", c.spec, c.system, err, c.want)
		}
	}
}
