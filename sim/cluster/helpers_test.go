package cluster

import (
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

// sliceSource replays a fixed list of requests.
type sliceSource struct {
	reqs []workloads.Request
	i    int
}

func (s *sliceSource) Next() (workloads.Request, bool) {
	if s.i >= len(s.reqs) {
		return workloads.Request{}, false
	}
	s.i++
	return s.reqs[s.i-1], true
}

var bf16 = models.Precision{Weights: dtype.BF16, Activations: dtype.BF16, KV: dtype.BF16}

// target loads a built-in system and model.
func target(t testing.TB, system, model string) (*hw.System, *models.Model) {
	t.Helper()
	sys, err := hw.Load(system)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	return sys, m
}

// replicaConfig makes a validated replica config with the given engine
// profile, adjusted by edit.
func replicaConfig(t testing.TB, system, model, profile string, edit func(*replica.Config)) replica.Config {
	t.Helper()
	sys, m := target(t, system, model)
	p, err := replica.LookupProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	c := replica.Config{Model: m, System: sys, Device: sys.Primary().Device, Precision: bf16, Profile: p}
	if edit != nil {
		edit(&c)
	}
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// single is a one-pool deployment of n replicas.
func single(rc replica.Config, n int) *Config {
	return &Config{Pools: []Pool{{Name: "main", Replica: rc, Replicas: n}}, Router: "round-robin"}
}

func run(t testing.TB, cfg *Config, src workloads.Source) *Result {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	res, err := Run(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
