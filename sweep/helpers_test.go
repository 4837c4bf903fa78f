package sweep

import (
	"bytes"
	"context"
	"testing"
)

// estimateParams mirrors the flags of `llmsim estimate` (cmd/llmsim checks
// that the real flag set produces the same list).
func estimateParams() []Param {
	return []Param{
		{Name: "hw", Kind: String, Default: "h100-sxm", Column: true},
		{Name: "model", Kind: String, Default: "llama3-8b", Column: true},
		{Name: "dtype", Kind: String, Default: "bf16", Column: true},
		{Name: "act-dtype", Kind: String, Default: "", Column: true},
		{Name: "kv-dtype", Kind: String, Default: "", Column: true},
		{Name: "kv-scheme", Kind: String, Default: "full", Column: true},
		{Name: "eager-attention", Kind: Bool, Default: "false", Column: true},
		{Name: "concat-kv-cache", Kind: Bool, Default: "false", Column: true},
		{Name: "phase", Kind: String, Default: "decode", Column: true},
		{Name: "batch", Kind: Int, Default: "1", Column: true},
		{Name: "prompt", Kind: Int, Default: "512", Column: true},
		{Name: "context", Kind: Int, Default: "1024", Column: true},
		{Name: "output", Kind: Int, Default: "128", Column: true},
	}
}

// estimateSpace expands specs (flag → value spec) into a space.
func estimateSpace(t testing.TB, specs map[string]string) (*Mode, *Space) {
	t.Helper()
	params := estimateParams()
	given := map[string][]string{}
	for _, p := range params {
		if spec, ok := specs[p.Name]; ok {
			v, err := ParseValues(p.Name, p.Kind, spec)
			if err != nil {
				t.Fatal(err)
			}
			given[p.Name] = v
		}
	}
	s, err := NewSpace(params, given)
	if err != nil {
		t.Fatal(err)
	}
	return EstimateMode(params, &Loader{}), s
}

func runToBytes(t testing.TB, m *Mode, s *Space, opt Options) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Run(context.Background(), m, s, &buf, opt)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), st
}
