package offload

import (
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/llmsim/llmsim/configs"
	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
)

// Scenario reproduces a paper's headline numbers: named runs of schemes on
// systems, and checks that compare a metric of a run (or the ratio of two
// runs) with the paper's claim within a tolerance.
type Scenario struct {
	Name        string    `toml:"name"`
	Paper       string    `toml:"paper"`
	Description string    `toml:"description"`
	Assumptions []string  `toml:"assumptions"`
	Runs        []RunSpec `toml:"run"`
	Checks      []Check   `toml:"check"`
	File        string    `toml:"-"`
}

// RunSpec is one simulation of a scenario.
type RunSpec struct {
	ID      string `toml:"id"`
	HW      string `toml:"hw"`
	Model   string `toml:"model"`
	Offload string `toml:"offload"`
	// Batch 0 lets the scheme decide (FlexGen's gbs × ngb); -1 takes the
	// largest batch whose memory fits (MaxBatch).
	Batch   int    `toml:"batch"`
	Prompt  int    `toml:"prompt"`
	Output  int    `toml:"output"`
	Weights string `toml:"dtype"`
	Act     string `toml:"act_dtype"`
	KV      string `toml:"kv_dtype"`
	// KVScheme is a KV-cache scheme (kvcache.Parse spec, e.g.
	// "h2o:heavy=0.1,recent=0.1") applied inside the offloading scheme.
	KVScheme string `toml:"kv_scheme"`
}

// Check compares a metric with a claim.
type Check struct {
	ID        string `toml:"id"`
	ClaimText string `toml:"claim_text"`
	Run       string `toml:"run"`
	Metric    string `toml:"metric"`
	// Over names a second run: the checked value is metric(Run) /
	// metric(Over) (a speedup), or with Inverse metric(Over) / metric(Run)
	// (for times and energies, where smaller is better).
	Over    string  `toml:"over"`
	Inverse bool    `toml:"inverse"`
	Claim   float64 `toml:"claim"`
	// Tolerance is relative; AbsTolerance, when > 0, is absolute instead
	// (claims printed to few digits, e.g. "0.01 token/s").
	Tolerance    float64 `toml:"tolerance"`
	AbsTolerance float64 `toml:"abs_tolerance"`
	// AtLeast makes the check one-sided for claims of the form "over X":
	// it passes when the simulated value is at least the claim less its
	// tolerance.
	AtLeast bool `toml:"at_least"`
	// Calibrated marks a claim used to fit a constant of the simulator:
	// it shows consistency, not prediction.
	Calibrated bool `toml:"calibrated"`
	// KnownGap marks a claim the simulation does not reproduce under the
	// stated assumptions: reported, never counted as a failure.
	KnownGap bool   `toml:"known_gap"`
	Residual string `toml:"residual"`
}

// Outcome is one evaluated check.
type Outcome struct {
	Scenario   string  `json:"scenario"`
	Check      string  `json:"check"`
	ClaimText  string  `json:"claim_text"`
	Claim      float64 `json:"claim"`
	Simulated  float64 `json:"simulated"`
	Error      float64 `json:"error"` // (simulated - claim) / claim
	Tolerance  float64 `json:"tolerance"`
	Absolute   bool    `json:"absolute_tolerance,omitempty"`
	AtLeast    bool    `json:"at_least,omitempty"`
	Pass       bool    `json:"pass"`
	Calibrated bool    `json:"calibrated,omitempty"`
	KnownGap   bool    `json:"known_gap,omitempty"`
	Residual   string  `json:"residual,omitempty"`
}

// ParseScenario reads a scenario file and checks that its checks refer to
// its runs and its schemes parse.
func ParseScenario(data []byte, file string) (*Scenario, error) {
	var s Scenario
	md, err := toml.Decode(string(data), &s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown key %s", file, und[0])
	}
	s.File = file
	ids := map[string]bool{}
	for i, r := range s.Runs {
		if r.ID == "" || ids[r.ID] {
			return nil, fmt.Errorf("%s: run[%d]: missing or duplicate id %q", file, i, r.ID)
		}
		ids[r.ID] = true
		if _, err := Parse(r.Offload); err != nil {
			return nil, fmt.Errorf("%s: run %s: %w", file, r.ID, err)
		}
		if r.KVScheme != "" {
			if _, err := kvcache.Parse(r.KVScheme); err != nil {
				return nil, fmt.Errorf("%s: run %s: kv_scheme: %w", file, r.ID, err)
			}
		}
		if r.Prompt < 1 || r.Output < 1 || r.Batch < -1 {
			return nil, fmt.Errorf("%s: run %s: prompt and output must be ≥ 1, batch ≥ -1", file, r.ID)
		}
	}
	for i, c := range s.Checks {
		if !ids[c.Run] || (c.Over != "" && !ids[c.Over]) {
			return nil, fmt.Errorf("%s: check[%d] %s: unknown run %q/%q", file, i, c.ID, c.Run, c.Over)
		}
		if c.Claim <= 0 || (c.Tolerance <= 0 && c.AbsTolerance <= 0 && !c.AtLeast) || c.Tolerance < 0 {
			return nil, fmt.Errorf("%s: check %s: claim and a tolerance must be positive", file, c.ID)
		}
	}
	return &s, nil
}

// Scenarios loads the built-in offload scenarios
// (configs/scenarios/offload-*.toml), sorted by name.
func Scenarios() ([]*Scenario, error) {
	entries, err := fs.ReadDir(configs.FS, "scenarios")
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "offload-") || !strings.HasSuffix(e.Name(), ".toml") {
			continue
		}
		path := "scenarios/" + e.Name()
		data, err := fs.ReadFile(configs.FS, path)
		if err != nil {
			return nil, err
		}
		s, err := ParseScenario(data, "configs/"+path)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Execute runs every run of the scenario.
func (s *Scenario) Execute() (map[string]*Result, error) {
	out := map[string]*Result{}
	for _, r := range s.Runs {
		res, err := r.Execute()
		if err != nil {
			return nil, fmt.Errorf("%s: run %s: %w", s.Name, r.ID, err)
		}
		out[r.ID] = res
	}
	return out, nil
}

// Execute runs one RunSpec.
func (r RunSpec) Execute() (*Result, error) {
	sys, err := hw.Load(r.HW)
	if err != nil {
		return nil, err
	}
	m, err := models.Load(r.Model)
	if err != nil {
		return nil, err
	}
	var p models.Precision
	for _, f := range []struct {
		s   string
		dst *dtype.DType
	}{{r.Weights, &p.Weights}, {r.Act, &p.Activations}, {r.KV, &p.KV}} {
		if f.s == "" {
			continue
		}
		if *f.dst, err = dtype.Parse(f.s); err != nil {
			return nil, err
		}
	}
	scheme, err := Parse(r.Offload)
	if err != nil {
		return nil, err
	}
	t := NewTarget(sys, m, p)
	if r.KVScheme != "" {
		kv, err := kvcache.Parse(r.KVScheme)
		if err != nil {
			return nil, err
		}
		t.UseKVScheme(kv)
	}
	w := Workload{Batch: r.Batch, Prompt: r.Prompt, Output: r.Output}
	if r.Batch == -1 {
		if w.Batch, err = MaxBatch(scheme, t, w); err != nil {
			return nil, err
		}
	}
	return scheme.Run(t, w)
}

// Evaluate runs the scenario and compares each check with its claim.
func (s *Scenario) Evaluate() ([]Outcome, error) {
	results, err := s.Execute()
	if err != nil {
		return nil, err
	}
	var out []Outcome
	for _, c := range s.Checks {
		v, err := c.value(results)
		if err != nil {
			return nil, fmt.Errorf("%s: check %s: %w", s.Name, c.ID, err)
		}
		o := Outcome{Scenario: s.Name, Check: c.ID, ClaimText: c.ClaimText, Claim: c.Claim, Simulated: v,
			Error: (v - c.Claim) / c.Claim, Tolerance: c.Tolerance, Calibrated: c.Calibrated, KnownGap: c.KnownGap, Residual: c.Residual}
		switch {
		case c.AbsTolerance > 0:
			o.Tolerance, o.Absolute = c.AbsTolerance, true
			o.Pass = math.Abs(v-c.Claim) <= c.AbsTolerance
		case c.AtLeast:
			o.AtLeast = true
			o.Pass = o.Error >= -c.Tolerance
		default:
			o.Pass = math.Abs(o.Error) <= c.Tolerance
		}
		out = append(out, o)
	}
	return out, nil
}

func (c Check) value(results map[string]*Result) (float64, error) {
	get := func(id string) (float64, error) {
		v, ok := results[id].Metric(c.Metric)
		if !ok {
			return 0, fmt.Errorf("run %s has no metric %q", id, c.Metric)
		}
		return v, nil
	}
	v, err := get(c.Run)
	if err != nil || c.Over == "" {
		return v, err
	}
	base, err := get(c.Over)
	if err != nil {
		return 0, err
	}
	if c.Inverse {
		v, base = base, v
	}
	if base == 0 {
		return 0, fmt.Errorf("run %s: metric %s is 0", c.Over, c.Metric)
	}
	return v / base, nil
}

// MaxBatch is the largest batch (up to 65,536) whose memory fits every tier
// under scheme; the rule FlexGen's baselines were tuned by ("as large as
// possible batch size without out-of-memory").
func MaxBatch(scheme Scheme, t *Target, w Workload) (int, error) {
	fitsAt := func(b int) (bool, error) {
		w.Batch = b
		r, err := memoryOnly(scheme, t, w)
		if err != nil {
			return false, err
		}
		return fits(r), nil
	}
	ok, err := fitsAt(1)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("offload: %s does not fit even one sequence", scheme)
	}
	lo, hi := 1, 2
	for hi <= 1<<16 {
		ok, err := fitsAt(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		ok, err := fitsAt(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// memorySizer is implemented by schemes that can size their memory
// without running.
type memorySizer interface {
	Memory(t *Target, w Workload) ([]TierUse, error)
}

func memoryOnly(s Scheme, t *Target, w Workload) ([]TierUse, error) {
	if m, ok := s.(memorySizer); ok {
		return m.Memory(t, w)
	}
	r, err := s.Run(t, w)
	if err != nil {
		return nil, err
	}
	return r.Memory, nil
}
