package offload

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Scheme is an offloading scheme or a near-data execution plan, chosen by
// name and parameters.
type Scheme interface {
	// String is the canonical spec, which Parse reads back.
	String() string
	// Run executes the workload on the target and reports the result.
	Run(t *Target, w Workload) (*Result, error)
}

type entry struct {
	summary string
	make    func(p *params) (Scheme, error)
}

// registry maps a scheme name to its constructor; each scheme's file adds
// itself in an init function.
var registry = map[string]entry{}

func register(name, summary string, make func(p *params) (Scheme, error)) {
	if _, dup := registry[name]; dup {
		panic("offload: scheme " + name + " registered twice")
	}
	registry[name] = entry{summary: summary, make: make}
}

// Names lists the known schemes, sorted.
func Names() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Summary is a scheme's one-line description and parameters.
func Summary(name string) string { return registry[name].summary }

// Parse reads NAME or NAME:key=value,key=value.
func Parse(spec string) (Scheme, error) {
	spec = strings.TrimSpace(spec)
	name, rest, _ := strings.Cut(spec, ":")
	e, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("offload: unknown scheme %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	p := &params{name: name, values: map[string]string{}, used: map[string]bool{}}
	if rest != "" {
		for _, kv := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || k == "" || v == "" {
				return nil, fmt.Errorf("offload: %s: parameter %q is not key=value", name, kv)
			}
			if _, dup := p.values[k]; dup {
				return nil, fmt.Errorf("offload: %s: parameter %q given twice", name, k)
			}
			p.values[k] = v
		}
	}
	s, err := e.make(p)
	if err == nil {
		err = p.finish()
	}
	if err != nil {
		return nil, fmt.Errorf("offload: %s: %w", name, err)
	}
	return s, nil
}

// params reads a scheme's parameters, remembering the first error and
// which keys were read so that unknown keys are rejected.
type params struct {
	name   string
	values map[string]string
	used   map[string]bool
	err    error
}

func (p *params) get(key string) (string, bool) {
	p.used[key] = true
	v, ok := p.values[key]
	return v, ok
}

func (p *params) fail(key, format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...))
	}
}

// float reads a finite number in [lo, hi].
func (p *params) float(key string, def, lo, hi float64) float64 {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < lo || f > hi {
		p.fail(key, "want a number in [%g, %g], got %q", lo, hi, v)
		return def
	}
	return f
}

// int reads an integer in [lo, hi].
func (p *params) int(key string, def, lo, hi int) int {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(key, "want an integer in [%d, %d], got %q", lo, hi, v)
		return def
	}
	return n
}

// bool reads 0/1/true/false.
func (p *params) bool(key string, def bool) bool {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(key, "want 0, 1, true or false, got %q", v)
		return def
	}
	return b
}

// choice reads one of allowed.
func (p *params) choice(key, def string, allowed ...string) string {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(key, "want one of %s, got %q", strings.Join(allowed, ", "), v)
	return def
}

// split reads "G/C/D" percentages that sum to 100 and returns fractions.
func (p *params) split(key string, def [3]float64) [3]float64 {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	parts := strings.Split(v, "/")
	if len(parts) != 3 {
		p.fail(key, "want three percentages GPU/CPU/disk, got %q", v)
		return def
	}
	var out [3]float64
	sum := 0.0
	for i, s := range parts {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f > 100 {
			p.fail(key, "percentage %q is not in [0, 100]", s)
			return def
		}
		out[i] = f / 100
		sum += f
	}
	if math.Abs(sum-100) > 1e-6 {
		p.fail(key, "percentages %q sum to %g, want 100", v, sum)
		return def
	}
	return out
}

func (p *params) finish() error {
	if p.err != nil {
		return p.err
	}
	var unknown []string
	for k := range p.values {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(p.used))
		for k := range p.used {
			known = append(known, k)
		}
		sort.Strings(known)
		return fmt.Errorf("unknown parameter %s (known: %s)", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return nil
}

// pct formats a split as G/C/D percentages.
func pct(f [3]float64) string {
	return fmt.Sprintf("%s/%s/%s", num(f[0]*100), num(f[1]*100), num(f[2]*100))
}

// num formats a float compactly and reproducibly.
func num(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
