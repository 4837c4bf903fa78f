package kvcache

import (
	"fmt"
	"sort"
	"strings"
)

// constructor builds a scheme from its parameters (name=value pairs).
type constructor func(params map[string]string) (Scheme, error)

// schemes maps a scheme name to its constructor; each scheme's file adds
// itself in an init function.
var schemes = map[string]constructor{
	"full": func(params map[string]string) (Scheme, error) {
		if len(params) > 0 {
			return nil, fmt.Errorf("full takes no parameters")
		}
		return Full{}, nil
	},
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

// Parse reads a scheme spec: NAME or NAME:key=value,key=value; several
// joined with "+" compose (applied left to right).
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
	return Compose(out...)
}

func parseOne(spec string) (Scheme, error) {
	name, rest, _ := strings.Cut(spec, ":")
	make, ok := schemes[name]
	if !ok {
		return nil, fmt.Errorf("unknown scheme %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	params := map[string]string{}
	if rest != "" {
		for _, kv := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" || v == "" {
				return nil, fmt.Errorf("%s: parameter %q is not key=value", name, kv)
			}
			if _, dup := params[k]; dup {
				return nil, fmt.Errorf("%s: parameter %q given twice", name, k)
			}
			params[k] = v
		}
	}
	return make(params)
}

// Compose chains schemes that the papers combine (e.g. DuoAttention with
// quantization). Only schemes that implement Composer may be chained; the
// first decides token retention, later ones transform what is kept.
func Compose(parts ...Scheme) (Scheme, error) {
	return nil, fmt.Errorf("composition of %d schemes is not supported yet", len(parts))
}
