package offload

import (
	"math"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

func mustModel(t *testing.T, name string) *models.Model {
	t.Helper()
	m, err := models.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustSystem(t *testing.T, name string) *hw.System {
	t.Helper()
	s, err := hw.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Jamba's pattern "mmmmammm" repeated 4 times puts attention in layers 4,
// 12, 20 and 28: an attention layer does 32/4 = 8 times the averaged
// attention block. Mamba has nothing to offload.
func TestAttnLayersJamba(t *testing.T) {
	p, err := newAttnLayers("x", mustModel(t, "jamba-v0.1"))
	if err != nil {
		t.Fatal(err)
	}
	var at []int
	for l := range p.attn {
		if p.At(l) {
			at = append(at, l)
		}
	}
	if len(at) != 4 || at[0] != 4 || at[1] != 12 || at[2] != 20 || at[3] != 28 || p.Scale != 8 {
		t.Errorf("attention layers %v, scale %g; want [4 12 20 28], 8", at, p.Scale)
	}
	if _, err := newAttnLayers("lamina", mustModel(t, "mamba-2.8b")); err == nil || !strings.Contains(err.Error(), "no attention layers") {
		t.Errorf("mamba: %v", err)
	}
}

// Tensor-parallel all-reduces per token: two per transformer layer; one
// per Mamba layer (no MLP); two per RWKV layer (time mix, channel mix);
// Jamba's 32 mixers and 32 MLP/MoE blocks.
func TestTPAllReduces(t *testing.T) {
	for _, c := range []struct {
		model string
		want  int
	}{{"llama2-7b", 64}, {"mamba-2.8b", 64}, {"rwkv6-7b", 64}, {"jamba-v0.1", 64}, {"opt-1.3b", 48}} {
		if got := tpAllReduces(mustModel(t, c.model)); got != c.want {
			t.Errorf("%s: %d all-reduces, want %d", c.model, got, c.want)
		}
	}
}

// Lamina on Jamba ships q, k, v (4096 + 2 × 1024 features) and the output
// (4096) in bf16 only in its 4 attention layers: 4 × 10,240 × 2 B =
// 81,920 B per token position, for the 16 prompt and 3 decode positions of
// 2 sequences: 3,112,960 B over the network. The H20s hold the attention
// K/V (4 layers × 2 × 1024 × 2 B = 16 KiB per token, 20 tokens, 2
// sequences = 655,360 B); the Mamba state (28 layers × 8192 × (4 + 16) ×
// 2 B = 9,175,040 B per sequence) stays on the H100.
func TestLaminaHybrid(t *testing.T) {
	s, _ := Parse("lamina:microbatches=2")
	r, err := s.Run(NewTarget(mustSystem(t, "lamina-node"), mustModel(t, "jamba-v0.1"), models.Precision{}), Workload{Batch: 2, Prompt: 16, Output: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, ru := range r.Resources {
		if ru.Name == "network" && ru.Bytes != 3112960 {
			t.Errorf("network %g B, want 3112960", ru.Bytes)
		}
	}
	if got := r.Memory[1].KVBytes; got != 655360 {
		t.Errorf("memory devices' KV %g B, want 655360", got)
	}
	if got := r.Memory[0].KVBytes; got != 2*9175040 {
		t.Errorf("accelerator state %g B, want %d", got, 2*9175040)
	}
}

// InstInfer on Jamba reads, per decode step and drive, each sequence's K/V
// of 4 attention layers only: at context c that is 16 KiB × c per
// sequence over all drives. Two decode steps at contexts 16 and 17, 2
// sequences, 4 drives (a6000-csd): 2 × 16,384 × 33 = 1,081,344 B read from
// NAND in total, one drive's quarter on the modelled drive.
func TestInstInferHybrid(t *testing.T) {
	s, _ := Parse("instinfer:gbs=2,ngb=1")
	r, err := s.Run(NewTarget(mustSystem(t, "a6000-csd"), mustModel(t, "jamba-v0.1"), models.Precision{}), Workload{Prompt: 16, Output: 3})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ru := range r.Resources {
		if strings.HasSuffix(ru.Name, "nand read") {
			found = true
			if ru.Bytes != 1081344.0/4 {
				t.Errorf("%s %g B, want %g", ru.Name, ru.Bytes, 1081344.0/4)
			}
		}
	}
	if !found {
		t.Fatal("no nand read resource")
	}
	if got := r.Memory[0].KVBytes; got != 2*9175040 {
		t.Errorf("GPU state %g B, want %d", got, 2*9175040)
	}
}

// Schedules written for attention-only transformers refuse other models
// with the reason.
func TestRecurrentRefused(t *testing.T) {
	jamba := mustModel(t, "jamba-v0.1")
	pim, _ := Parse("pimgpt")
	if _, err := pim.Run(NewTarget(mustSystem(t, "pim-gpt"), jamba, models.Precision{}), Workload{Batch: 1, Prompt: 8, Output: 2}); err == nil || !strings.Contains(err.Error(), "recurrent layers") {
		t.Errorf("pimgpt on jamba: %v", err)
	}
	fg, _ := Parse("flexgen:w=0/100/0,c=0/100/0,a=0/100/0,gbs=2,ngb=1,cpuattn=1")
	if _, err := fg.Run(NewTarget(toySystem(), jamba, models.Precision{}), Workload{Batch: 2, Prompt: 8, Output: 2}); err == nil || !strings.Contains(err.Error(), "recurrent layers") {
		t.Errorf("flexgen cpuattn on jamba: %v", err)
	}
	np, _ := Parse("neupims")
	if _, err := np.Run(NewTarget(mustSystem(t, "neupims-node"), mustModel(t, "mamba-2.8b"), models.Precision{}), Workload{Batch: 2, Prompt: 8, Output: 2}); err == nil || !strings.Contains(err.Error(), "no attention layers") {
		t.Errorf("neupims on mamba: %v", err)
	}
}

// Decode energy on the toy system: the GPU is busy through every decode
// step (70 W) and the unused CPU draws its 50 W idle, so each generated
// token costs 120 W × decode seconds / (batch × (output − 1)); prefill and
// decode energies add up to the run's (both power models are linear in
// busy time).
func TestDecodeEnergy(t *testing.T) {
	s, _ := Parse("gpu")
	r, err := s.Run(NewTarget(toySystem(), toyModel(t), models.Precision{}), Workload{Batch: 2, Prompt: 32, Output: 5})
	if err != nil {
		t.Fatal(err)
	}
	want := 120 * r.DecodeSeconds / 8
	if got := r.Energy.DecodeJoulesPerToken; math.Abs(got-want) > 1e-9*want {
		t.Errorf("decode %g J/token, want %g", got, want)
	}
	if total := 120*r.PrefillSeconds + want*8; math.Abs(total-r.Energy.Joules) > 1e-6*r.Energy.Joules {
		t.Errorf("prefill + decode %g J, run %g J", total, r.Energy.Joules)
	}
}

// The U280 opts into per-byte and per-op energy: 30 W static over the run
// plus 33.7 pJ per HBM byte plus 5.3 pJ per DSP operation.
func TestFPGAPhysicalEnergy(t *testing.T) {
	s, _ := Parse("flightllm:bits=6,sparsity=0")
	r, err := s.Run(NewTarget(mustSystem(t, "alveo-u280"), mustModel(t, "llama2-7b"), models.Precision{Weights: "fp16"}), Workload{Batch: 1, Prompt: 16, Output: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := 30*r.Seconds + 3.37e-11*r.Resources[0].Bytes + 5.3e-12*r.FLOPs
	if math.Abs(r.Energy.Joules-want) > 1e-9*want {
		t.Errorf("energy %g J, want %g", r.Energy.Joules, want)
	}
}
