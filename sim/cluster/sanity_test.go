package cluster

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

// Same inputs and seed give byte-identical JSON, CSV and trace.
func TestDeterminism(t *testing.T) {
	out := func() (res, rows, tr []byte) {
		var csvBuf, traceBuf, jsonBuf bytes.Buffer
		cfg := single(replicaConfig(t, "h100-sxm", "llama3-8b", "vllm-like", tightKV), 2)
		cfg.Router = "least-kv"
		cfg.RequestsCSV, cfg.Trace = &csvBuf, &traceBuf
		r := run(t, cfg, blisSource(t, 400, 7))
		if err := json.NewEncoder(&jsonBuf).Encode(r); err != nil {
			t.Fatal(err)
		}
		return jsonBuf.Bytes(), csvBuf.Bytes(), traceBuf.Bytes()
	}
	j1, c1, t1 := out()
	j2, c2, t2 := out()
	if !bytes.Equal(j1, j2) || !bytes.Equal(c1, c2) || !bytes.Equal(t1, t2) {
		t.Fatal("two runs with the same seed differ")
	}
	var doc map[string]any
	if err := json.Unmarshal(t1, &doc); err != nil {
		t.Fatalf("trace is not JSON: %v", err)
	}
}

// At a very low load every request runs alone, so the mean latency is the
// single-request latency.
func TestLowLoadApproachesSingleRequest(t *testing.T) {
	rc := replicaConfig(t, "h100-sxm", "llama3-8b", "device", nil)
	src, err := workloads.New(workloads.Spec{
		Arrival: workloads.Poisson{RatePerSecond: 0.01}, Prompt: workloads.Fixed{Tokens: 512},
		Output: workloads.Fixed{Tokens: 128}, NumRequests: 20,
	}, 3)
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, single(rc, 1), src)
	want := roofline.Request(rc.Model, rc.Device, 1, 512, 128, rc.Precision, rc.Options)
	if math.Abs(res.E2E.Mean-want.E2ESeconds) > 1e-8 || math.Abs(res.TTFT.Mean-want.TTFTSeconds) > 1e-8 {
		t.Fatalf("E2E %g TTFT %g, single request %g / %g", res.E2E.Mean, res.TTFT.Mean, want.E2ESeconds, want.TTFTSeconds)
	}
	if res.Queue.Max > 0 {
		t.Fatalf("requests queued (%g s) at 0.01 req/s", res.Queue.Max)
	}
}

// Under load, latency grows with the arrival rate and throughput follows
// the offered load until the replica saturates.
func TestLoadRaisesLatency(t *testing.T) {
	rc := replicaConfig(t, "h100-sxm", "llama3-8b", "vllm-like", nil)
	var prev *Result
	for _, rate := range []float64{1, 10, 40} {
		src, err := workloads.New(workloads.Spec{
			Arrival: workloads.Poisson{RatePerSecond: rate}, Prompt: workloads.Fixed{Tokens: 512},
			Output: workloads.Fixed{Tokens: 256}, NumRequests: 500,
		}, 5)
		if err != nil {
			t.Fatal(err)
		}
		res := run(t, single(rc, 1), src)
		if prev != nil && (res.E2E.Mean <= prev.E2E.Mean || res.Throughput.RequestsPerSecond <= prev.Throughput.RequestsPerSecond) {
			t.Fatalf("rate %g: E2E %g (was %g), throughput %g (was %g)", rate, res.E2E.Mean, prev.E2E.Mean,
				res.Throughput.RequestsPerSecond, prev.Throughput.RequestsPerSecond)
		}
		prev = res
	}
}

// Requests that cannot be served are reported with their reason.
func TestRejectionsHaveReasons(t *testing.T) {
	rc := replicaConfig(t, "h100-sxm", "llama3-8b", "device", func(c *replica.Config) { c.KV.Utilization = 0.208 })
	reqs := []workloads.Request{
		{ID: 0, PromptTokens: 8000, OutputTokens: 500}, // 8500 > 8192: context
		{ID: 1, PromptTokens: 100, OutputTokens: 10},
	}
	blocks := func() int {
		c, _ := newCluster(single(rc, 1), &sliceSource{})
		return c.all[0].KV().Total()
	}()
	tokens := blocks * rc.KV.BlockTokens
	reqs = append(reqs, workloads.Request{ID: 2, PromptTokens: tokens - 10, OutputTokens: 20}) // over the cache: kv
	res := run(t, single(rc, 1), &sliceSource{reqs: reqs})
	if res.Requests.Completed != 1 || res.Requests.RejectedByReason["context"] != 1 || res.Requests.RejectedByReason["kv"] != 1 {
		t.Fatalf("%+v (cache %d tokens)", res.Requests, tokens)
	}
}
