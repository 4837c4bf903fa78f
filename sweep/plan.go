package sweep

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// PlanSpec says what deployments Plan searches and what they must meet.
type PlanSpec struct {
	HW         []string // hardware candidates (--hw values)
	TP         []int    // tensor-parallel degrees
	MaxNumSeqs []int    // batch limits; 0 keeps the engine's
	// Splits are prefill:decode replica ratios for disaggregated serving
	// ("1:2"); "" is one pool of mixed replicas.
	Splits      []string
	MaxReplicas int
	SLO         SLO
	Workers     int
}

// SLO is a latency objective at a quantile of the requests.
type SLO struct {
	TTFTSeconds, TPOTSeconds   float64 // 0: none
	TTFTQuantile, TPOTQuantile string  // mean, p50, p90 or p99
}

// Measured is what one simulation of a deployment predicts.
type Measured struct {
	TTFT, TPOT                   map[string]float64 // by quantile name: mean, p50, p90, p99
	Arrived, Completed, Rejected float64
	OutputTokensPerSecond        float64
	USDPerHour                   float64 // rent of every device of the deployment
	USDPerMillionOutputTokens    float64
	JoulesPerOutputToken         float64
	GPUs                         float64
}

// Deployment is one configuration a simulator runs.
type Deployment struct {
	HW         string
	TP         int
	MaxNumSeqs int
	Split      string // "" (mixed) or P:D ratio
	Replicas   int    // mixed: replicas; split P:D: the multiplier k of kP:kD
}

// Pools is the --replicas or --disaggregate value of d.
func (d Deployment) Pools() string {
	if d.Split == "" {
		return strconv.Itoa(d.Replicas)
	}
	p, q, _ := strings.Cut(d.Split, ":")
	pn, _ := strconv.Atoi(p)
	qn, _ := strconv.Atoi(q)
	return fmt.Sprintf("%d:%d", pn*d.Replicas, qn*d.Replicas)
}

// Simulator predicts a deployment's metrics under the planned workload.
type Simulator func(d Deployment) (Measured, error)

// Candidate is the cheapest replica count found for one configuration.
type Candidate struct {
	Deployment
	Meets    bool
	Reason   string // why it does not meet the SLO (or failed)
	Measured Measured
	Sims     int // simulations run for it
}

// Quantiles lists the accepted SLO quantiles.
var Quantiles = []string{"mean", "p50", "p90", "p99"}

// CheckSLO validates an SLO.
func (s SLO) Check() error {
	if s.TTFTSeconds <= 0 && s.TPOTSeconds <= 0 {
		return fmt.Errorf("--slo-ttft and --slo-tpot: give at least one objective")
	}
	for _, q := range []struct{ flag, v string }{{"--ttft-quantile", s.TTFTQuantile}, {"--tpot-quantile", s.TPOTQuantile}} {
		ok := false
		for _, k := range Quantiles {
			ok = ok || q.v == k
		}
		if !ok {
			return fmt.Errorf("%s: %q is not one of %s", q.flag, q.v, strings.Join(Quantiles, ", "))
		}
	}
	if s.TTFTSeconds < 0 || s.TPOTSeconds < 0 {
		return fmt.Errorf("--slo-ttft and --slo-tpot: must not be negative")
	}
	return nil
}

// Verdict says whether m meets the SLO, and if not, why.
func (s SLO) Verdict(m Measured) (bool, string) {
	var why []string
	if m.Rejected > 0 {
		why = append(why, fmt.Sprintf("%.0f requests rejected", m.Rejected))
	}
	if m.Completed < m.Arrived {
		why = append(why, fmt.Sprintf("%.0f of %.0f requests unfinished", m.Arrived-m.Completed, m.Arrived))
	}
	if v := m.TTFT[s.TTFTQuantile]; s.TTFTSeconds > 0 && v > s.TTFTSeconds {
		why = append(why, fmt.Sprintf("%s TTFT %.4g s > %.4g s", s.TTFTQuantile, v, s.TTFTSeconds))
	}
	if v := m.TPOT[s.TPOTQuantile]; s.TPOTSeconds > 0 && v > s.TPOTSeconds {
		why = append(why, fmt.Sprintf("%s TPOT %.4g s > %.4g s", s.TPOTQuantile, v, s.TPOTSeconds))
	}
	return len(why) == 0, strings.Join(why, "; ")
}

// Plan finds, for every configuration (hardware × TP × batch limit ×
// split), the fewest replicas that meet the SLO, by doubling the replica
// count until it does and bisecting back; configurations are searched in
// parallel. Candidates come back cheapest first (price per hour, then
// TTFT), those that cannot meet the SLO last. A configuration stops early
// when it fails outright (does not fit, bad TP) or when two doublings in a
// row do not improve the failing latency (a per-request floor, as a TPOT
// objective below one decode step).
func Plan(spec PlanSpec, sim Simulator) ([]Candidate, error) {
	if err := spec.SLO.Check(); err != nil {
		return nil, err
	}
	var configs []Deployment
	for _, h := range spec.HW {
		for _, tp := range spec.TP {
			for _, b := range spec.MaxNumSeqs {
				for _, s := range spec.Splits {
					configs = append(configs, Deployment{HW: h, TP: tp, MaxNumSeqs: b, Split: s})
				}
			}
		}
	}
	if len(configs) == 0 {
		return nil, fmt.Errorf("no configuration to search")
	}
	out := make([]Candidate, len(configs))
	workers := max(1, spec.Workers)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = search(configs[i], spec, sim)
			}
		}()
	}
	for i := range configs {
		next <- i
	}
	close(next)
	wg.Wait()
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Meets != b.Meets {
			return a.Meets
		}
		if a.Meets && a.Measured.USDPerHour != b.Measured.USDPerHour {
			return a.Measured.USDPerHour < b.Measured.USDPerHour
		}
		return a.Measured.TTFT[spec.SLO.TTFTQuantile] < b.Measured.TTFT[spec.SLO.TTFTQuantile]
	})
	return out, nil
}

// search finds the fewest replicas of config d that meet the SLO.
func search(d Deployment, spec PlanSpec, sim Simulator) Candidate {
	c := Candidate{Deployment: d}
	try := func(k int) (Measured, bool, string, error) {
		d.Replicas = k
		c.Sims++
		m, err := sim(d)
		if err != nil {
			return m, false, "", err
		}
		ok, why := spec.SLO.Verdict(m)
		return m, ok, why, nil
	}
	limit := max(1, spec.MaxReplicas)
	lo, hi := 0, 0 // lo fails, hi meets
	var best Measured
	var prev *Measured
	flat := 0 // doublings in a row that did not help
	for k := 1; ; k *= 2 {
		k = min(k, limit)
		m, ok, why, err := try(k)
		if err != nil {
			c.Replicas, c.Reason = k, err.Error()
			return c
		}
		if ok {
			hi, best = k, m
			break
		}
		c.Replicas, c.Measured, c.Reason = k, m, why
		if k == limit {
			c.Reason = fmt.Sprintf("%s with %d replicas (the most tried)", why, k)
			return c
		}
		if prev != nil && !improves(*prev, m, spec.SLO) {
			// Twice in a row: a per-request floor (a TPOT objective below
			// one decode step), not a queue that more replicas drain.
			if flat++; flat == 2 {
				c.Reason = fmt.Sprintf("%s, and more replicas do not help (a per-request floor)", why)
				return c
			}
		} else {
			flat = 0
		}
		lo, prev = k, &m
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		m, ok, _, err := try(mid)
		if err == nil && ok {
			hi, best = mid, m
		} else {
			lo = mid
		}
	}
	c.Replicas, c.Measured, c.Meets, c.Reason = hi, best, true, ""
	return c
}

// improves reports whether doubling the replicas helped every way the
// deployment fails: each failing latency fell by more than 2%, and fewer
// requests were rejected or left unfinished.
func improves(before, after Measured, s SLO) bool {
	better := func(a, b float64) bool { return b < a*0.98 }
	ok := true
	if s.TTFTSeconds > 0 && before.TTFT[s.TTFTQuantile] > s.TTFTSeconds {
		ok = ok && better(before.TTFT[s.TTFTQuantile], after.TTFT[s.TTFTQuantile])
	}
	if s.TPOTSeconds > 0 && before.TPOT[s.TPOTQuantile] > s.TPOTSeconds {
		ok = ok && better(before.TPOT[s.TPOTQuantile], after.TPOT[s.TPOTQuantile])
	}
	if before.Rejected > 0 {
		ok = ok && after.Rejected < before.Rejected
	}
	return ok
}
