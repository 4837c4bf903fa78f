package cluster

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmsim/llmsim/workloads"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Golden outputs for the workload presets: 40 requests each on one H100
// with the vllm-like engine. A change to the simulator, the H100 or
// Llama-3-8B descriptions, or the presets shows up here; after checking
// the new numbers make sense, refresh with go test ./sim/cluster -run
// Golden -update.
func TestGoldenPresets(t *testing.T) {
	rc := replicaConfig(t, "h100-sxm", "llama3-8b", "vllm-like", nil)
	for _, preset := range []string{"chat", "summarization", "reasoning", "rag"} {
		t.Run(preset, func(t *testing.T) {
			src, err := workloads.New(workloads.Spec{Arrival: workloads.Poisson{RatePerSecond: 4}, Preset: preset, NumRequests: 40}, 1)
			if err != nil {
				t.Fatal(err)
			}
			cfg := single(rc, 1)
			cfg.SLO.TTFTSeconds, cfg.SLO.TPOTSeconds = 0.5, 0.05
			var got bytes.Buffer
			enc := json.NewEncoder(&got)
			enc.SetIndent("", "  ")
			if err := enc.Encode(run(t, cfg, src)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden_"+preset+".json")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from %s; if the change is intended, rerun with -update\n%s", preset, path, got.String())
			}
		})
	}
}
