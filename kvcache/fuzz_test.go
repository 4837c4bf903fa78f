package kvcache

import (
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

// FuzzParse: any --kv-scheme text either fails with an error or gives a
// scheme that prices a decode step and sizes a cache without panicking,
// with finite non-negative bytes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"full", "bfp:mantissa=3,block=32", "contiguous:max=4096", "cskv:keep=0.3", "d2o:budget=0.2,skew=0.5",
		"doublesparsity:tokens=0.0625,channels=0.0625,label=4", "duo:retrieval=0.5,sink=128,recent=256", "gear:bits=4,group=64,rank=4,outliers=0.02",
		"h2o:heavy=0.1,recent=0.1", "hybrid:full=0.25,recent=4096", "hydragen:prefix=1024,share=64", "keyformer:budget=0.5",
		"kivi:bits=2,group=32,residual=128", "locret:tokens=6000", "longgen:full=0.33,sink=64,recent=4032",
		"lserve:streaming=0.5,tokens=4096", "paged:block=32", "quant:bits=4,group=64", "quest:tokens=4096,page=16,dense=2",
		"razor:retrieval=0.15", "scissorhands:budget=0.2", "snapkv:tokens=1024,window=32,pool=7", "squeezed:ratio=0.1,cluster=64",
		"think:keys=0.4", "tokenselect:tokens=2048,miss=0.5", "vattention:page=65536", "window:sink=4,recent=1020",
		"duo:retrieval=0.25+kivi:bits=2", "scissorhands:budget=0.2+quant:bits=4", "h2o:heavy=-1", "kivi:bits=0", ":", "x:y=z,,", "duo:retrieval=nan"} {
		f.Add(s)
	}
	m, err := models.Load("llama3-8b")
	if err != nil {
		f.Fatal(err)
	}
	p := m.Resolve(models.Precision{Weights: dtype.BF16})
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec)
		if err != nil {
			return
		}
		seqs := []models.Seq{{Cached: 3000, New: 1}, {Cached: 0, New: 700}}
		var g models.Graph
		m.GraphInto(&g, seqs, p, models.Options{})
		s.Rewrite(&g, m, seqs, p)
		for _, op := range g.Ops {
			if b := op.Bytes(); b < 0 || b != b || op.FLOPs < 0 || op.FLOPs != op.FLOPs {
				t.Fatalf("%s: op %s has %g bytes, %g FLOPs", spec, op.Name, b, op.FLOPs)
			}
		}
		if b := s.StoredBytes(m, 4096, p.KV); b < 0 || b != b {
			t.Fatalf("%s: stored bytes %g", spec, b)
		}
	})
}
