package workloads

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// FuzzSpecs: --arrival and --prompt-tokens/--output-tokens texts either
// fail with an error or parse into a spec whose String parses back, whose
// lengths sample within [1, maxTokens] and whose gaps are finite and
// non-negative. (csv: histograms read files; they have their own tests.)
func FuzzSpecs(f *testing.F) {
	for _, s := range []string{"poisson:rate=20", "gamma:rate=20,cv=2", "constant:rate=10", "closed:clients=64,think=0.5",
		"512", "fixed:512", "uniform:128..1024", "uniform:min=1,max=9", "normal:mean=512,std=128,max=900", "lognormal:mean=512,std=256",
		"lognormal:mu=6,sigma=0.5,max=4000", "poisson:rate=0", "gamma:rate=1,cv=-1", "normal:mean=nan,std=1", "uniform:9..1", "x:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r := rand.New(rand.NewPCG(1, 2))
		if a, err := ParseArrival(text); err == nil {
			b, err := ParseArrival(a.String())
			if err != nil || b.String() != a.String() {
				t.Fatalf("arrival %q → %q does not parse back (%v)", text, a.String(), err)
			}
			if p, ok := a.(Process); ok {
				for range 100 {
					if g := p.GapNanos(r); g < 0 {
						t.Fatalf("arrival %q: gap %d ns", text, g)
					}
				}
			}
		}
		if strings.HasPrefix(strings.TrimSpace(text), "csv:") {
			return
		}
		if l, err := ParseLength(text); err == nil {
			m, err := ParseLength(l.String())
			if err != nil || m.String() != l.String() {
				t.Fatalf("length %q → %q does not parse back (%v)", text, l.String(), err)
			}
			for range 100 {
				if n := l.Sample(r); n < 1 || n > maxTokens {
					t.Fatalf("length %q: sample %d outside [1, %d]", text, n, maxTokens)
				}
			}
		}
	})
}
