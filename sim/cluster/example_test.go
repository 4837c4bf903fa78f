package cluster_test

import (
	"fmt"
	"log"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/sim/cluster"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

// Serve 100 chat requests on one H100 with a vLLM-like engine.
func ExampleRun() {
	sys, err := hw.Load("h100-sxm")
	if err != nil {
		log.Fatal(err)
	}
	m, err := models.Load("llama3-8b")
	if err != nil {
		log.Fatal(err)
	}
	engine, _ := replica.LookupProfile("vllm-like")
	rc := replica.Config{
		Model: m, System: sys, Device: sys.Primary().Device, Profile: engine,
		Precision: models.Precision{Weights: dtype.BF16, Activations: dtype.BF16, KV: dtype.BF16},
	}.Defaults()
	if err := rc.Validate(); err != nil {
		log.Fatal(err)
	}
	cfg := &cluster.Config{Router: "round-robin", Pools: []cluster.Pool{{Name: "main", Replica: rc, Replicas: 1}}}
	src, err := workloads.New(workloads.Spec{Arrival: workloads.Poisson{RatePerSecond: 5}, Preset: "chat", NumRequests: 100}, 1)
	if err != nil {
		log.Fatal(err)
	}
	res, err := cluster.Run(cfg, src)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d completed, %d rejected, %d KV blocks of %d tokens\n",
		res.Requests.Completed, res.Requests.Rejected, res.Replicas[0].KVBlocks, res.Replicas[0].KVBlockTokens)
	// Output:
	// 100 completed, 0 rejected, 28837 KV blocks of 16 tokens
}
