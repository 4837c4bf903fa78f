package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/hw"
)

// The built-in H100 description, calibrated on llama2-7b steps and kernel
// microbenchmarks, must predict the held-out llama3-8b and qwen2.5-14b
// steps measured on a real H100 within the 10% MAPE target.
func TestH100HeldOutSteps(t *testing.T) {
	dev, err := hw.LoadDevice("h100-sxm")
	if err != nil {
		t.Fatal(err)
	}
	held := heldOutSteps(t, "gpu/data/h100")
	c, err := NewPredictor(dev).CompareSteps(held)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d held-out steps: MAPE %.1f%%, worst %+.1f%%", len(held), c.MAPE, c.Worst)
	if c.MAPE > 10 {
		t.Errorf("held-out MAPE %.1f%% > 10%%", c.MAPE)
	}
	if c.Worst > 30 || c.Worst < -30 {
		t.Errorf("worst held-out error %+.1f%% beyond ±30%%", c.Worst)
	}
}

func TestReadKernelsSkipsL2AndOtherBackends(t *testing.T) {
	all, _, err := ReadKernels("gpu/data/h100/kernels.csv", "")
	if err != nil {
		t.Fatal(err)
	}
	cudnn, skipped, err := ReadKernels("gpu/data/h100/kernels.csv", "cudnn")
	if err != nil {
		t.Fatal(err)
	}
	if len(cudnn) >= len(all) || skipped == 0 {
		t.Errorf("filtering by backend kept %d of %d kernels, skipped %d", len(cudnn), len(all), skipped)
	}
}

func TestReadStepsErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "steps.csv")
	body := "model,phase,batch,prompt,context,mode,seconds\nllama3-8b,decode,8,0,128,cudagraph,0.01\nllama3-8b,decode,x,0,128,cudagraph,0.01\n"
	os.WriteFile(path, []byte(body), 0o644)
	_, err := ReadSteps(path)
	if err == nil || !strings.Contains(err.Error(), "steps.csv:3") || !strings.Contains(err.Error(), "batch") {
		t.Errorf("bad batch on line 3: got %v", err)
	}
	if _, err := parseTable(strings.NewReader(""), "x.csv"); err == nil {
		t.Error("empty input accepted")
	}
}
