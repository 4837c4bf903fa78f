package kvcache

import (
	"fmt"
	"sort"
	"strings"
)

// Info describes a scheme for listings (llmsim kvschemes) and docs.
type Info struct {
	Name    string
	Summary string // one line: what the scheme changes
	Source  string // the paper or system it models
	Stages  []string
	Params  []Param
}

// Param documents one parameter of a scheme.
type Param struct {
	Key, Default, Meaning string
}

// entry is a registered scheme: its description and its builder, which
// reads the parameters through p and returns the plan fragment.
type entry struct {
	info  Info
	build func(p *params) *Plan
}

// schemes maps a scheme name to its entry; each scheme's file adds itself
// in an init function.
var schemes = map[string]*entry{}

func register(info Info, build func(p *params) *Plan) {
	if _, dup := schemes[info.Name]; dup {
		panic("kvcache: scheme " + info.Name + " registered twice")
	}
	schemes[info.Name] = &entry{info: info, build: build}
}

func init() {
	register(Info{
		Name:    "full",
		Summary: "baseline: every token of every layer and head kept in the KV format",
		Source:  "standard KV cache",
	}, nil)
}

// Names lists the known schemes, sorted.
func Names() []string {
	out := make([]string, 0, len(schemes))
	for n := range schemes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Schemes describes every known scheme, sorted by name, with the stages
// (retention, read, share, channels, format, alloc) its plan fills.
func Schemes() []Info {
	out := make([]Info, 0, len(schemes))
	for _, n := range Names() {
		e := schemes[n]
		info := e.info
		if e.build != nil {
			// Required parameters may be missing: the stages do not
			// depend on the values.
			info.Stages = e.build(newParams(n, nil)).stageNames()
		}
		out = append(out, info)
	}
	return out
}

// Parse reads a scheme spec: NAME or NAME:key=value,key=value; several
// joined with "+" compose (see Compose). An empty spec is the full cache.
func Parse(spec string) (Scheme, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return Full{}, nil
	}
	parts := strings.Split(spec, "+")
	out := make([]Scheme, 0, len(parts))
	for _, part := range parts {
		s, err := parseOne(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("kv scheme %q: %w", spec, err)
		}
		out = append(out, s)
	}
	if len(out) == 1 {
		return out[0], nil
	}
	s, err := Compose(out...)
	if err != nil {
		return nil, fmt.Errorf("kv scheme %q: %w", spec, err)
	}
	return s, nil
}

func parseOne(spec string) (Scheme, error) {
	name, rest, _ := strings.Cut(spec, ":")
	e, ok := schemes[name]
	if !ok {
		return nil, fmt.Errorf("unknown scheme %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	given := map[string]string{}
	if rest != "" {
		for _, kv := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" || v == "" {
				return nil, fmt.Errorf("%s: parameter %q is not key=value", name, kv)
			}
			if _, dup := given[k]; dup {
				return nil, fmt.Errorf("%s: parameter %q given twice", name, k)
			}
			given[k] = v
		}
	}
	if e.build == nil {
		if len(given) > 0 {
			return nil, fmt.Errorf("%s takes no parameters", name)
		}
		return Full{}, nil
	}
	p := newParams(name, given)
	plan := e.build(p)
	canonical, err := p.finish()
	if err != nil {
		return nil, err
	}
	plan.parts = []string{canonical}
	return plan, nil
}

// Compose chains schemes the way the papers combine them (DuoAttention with
// 4-bit KV, Scissorhands with 4-bit, Quest with quantization, ThinK with
// H2O): each scheme fills one or more stages — retention (which tokens each
// layer and head keeps), read (which kept tokens a decode step reads),
// share (a prefix shared by the batch), channels (which channels a token
// keeps), format (bytes per element) and alloc (how memory is allocated) —
// and the schemes must be given in that stage order, each stage filled at
// most once. full is the identity.
func Compose(parts ...Scheme) (Scheme, error) {
	out := &Plan{}
	last, lastName := stage(-1), ""
	for _, s := range parts {
		if _, ok := s.(Full); ok {
			continue
		}
		p, ok := s.(*Plan)
		if !ok {
			return nil, fmt.Errorf("%s cannot be composed", s)
		}
		stages := p.stages()
		if len(stages) == 0 {
			continue
		}
		if stages[0] < last {
			return nil, fmt.Errorf("%s (%s) must come before %s (%s): schemes compose in the order retention, read, share, channels, format, alloc",
				p, stages[0], lastName, last)
		}
		if err := out.merge(p); err != nil {
			return nil, err
		}
		last, lastName = stages[len(stages)-1], p.String()
	}
	if len(out.parts) == 0 {
		return Full{}, nil
	}
	if err := out.check(); err != nil {
		return nil, err
	}
	if len(out.parts) == 1 {
		return out, nil
	}
	return out, nil
}
