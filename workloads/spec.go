package workloads

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ParseArrival reads an arrival spec (rates in requests per second, times
// in seconds):
//
//	poisson:rate=20
//	gamma:rate=20,cv=2
//	constant:rate=10
//	closed:clients=64,think=0.5   (think is optional, default 0)
func ParseArrival(text string) (Arrival, error) {
	a, err := parseArrival(text)
	if err != nil {
		return nil, fmt.Errorf("arrival %q: %w", text, err)
	}
	return a, nil
}

func parseArrival(text string) (Arrival, error) {
	kind, rest, _ := strings.Cut(strings.TrimSpace(text), ":")
	var a Arrival
	var p *params
	switch kind {
	case "poisson":
		p = parseParams(rest, "rate")
		a = Poisson{RatePerSecond: p.float("rate", true)}
	case "gamma":
		p = parseParams(rest, "rate", "cv")
		a = Gamma{RatePerSecond: p.float("rate", true), CV: p.float("cv", true)}
	case "constant":
		p = parseParams(rest, "rate")
		a = Constant{RatePerSecond: p.float("rate", true)}
	case "closed":
		p = parseParams(rest, "clients", "think")
		a = ClosedLoop{Clients: p.int("clients", true), ThinkSeconds: p.float("think", false)}
	default:
		return nil, fmt.Errorf("unknown arrival process %q (want poisson, gamma, constant or closed)", kind)
	}
	if p.err != nil {
		return nil, p.err
	}
	return a, validate(a)
}

// ParseLength reads a token-length spec:
//
//	512                         fixed
//	fixed:512
//	uniform:128..1024           or uniform:min=128,max=1024 (both included)
//	normal:mean=512,std=128     optional max=N clamps from above
//	lognormal:mean=512,std=256  or lognormal:mu=6,sigma=0.5; optional max=N
//	csv:path/to/hist.csv        histogram, see LoadHistogram
func ParseLength(text string) (Length, error) {
	l, err := parseLength(text)
	if err != nil {
		return nil, fmt.Errorf("length %q: %w", text, err)
	}
	return l, nil
}

func parseLength(text string) (Length, error) {
	text = strings.TrimSpace(text)
	if _, err := strconv.Atoi(text); err == nil {
		text = "fixed:" + text
	}
	kind, rest, _ := strings.Cut(text, ":")
	var l Length
	var p *params
	switch kind {
	case "fixed":
		if _, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
			rest = "tokens=" + rest
		}
		p = parseParams(rest, "tokens")
		l = Fixed{Tokens: p.int("tokens", true)}
	case "uniform":
		if lo, hi, ok := strings.Cut(rest, ".."); ok {
			rest = "min=" + lo + ",max=" + hi
		}
		p = parseParams(rest, "min", "max")
		l = Uniform{Min: p.int("min", true), Max: p.int("max", true)}
	case "normal":
		p = parseParams(rest, "mean", "std", "max")
		l = Normal{MeanTokens: p.float("mean", true), StdTokens: p.float("std", true), Max: p.int("max", false)}
	case "lognormal":
		return parseLogNormal(rest)
	case "csv":
		if rest == "" {
			return nil, fmt.Errorf("csv: no file (want csv:path/to/hist.csv)")
		}
		return LoadHistogram(rest)
	default:
		return nil, fmt.Errorf("unknown length distribution %q (want a number, fixed, uniform, normal, lognormal or csv)", kind)
	}
	if p.err != nil {
		return nil, p.err
	}
	return l, validate(l)
}

func parseLogNormal(rest string) (Length, error) {
	p := parseParams(rest, "mean", "std", "mu", "sigma", "max")
	_, byMoments := p.values["mean"]
	_, byStd := p.values["std"]
	if p.err == nil && (byMoments || byStd) {
		for _, key := range []string{"mu", "sigma"} {
			if _, ok := p.values[key]; ok {
				return nil, fmt.Errorf("%s: give mean and std, or mu and sigma, not both", key)
			}
		}
		mean, std, max := p.float("mean", true), p.float("std", true), p.int("max", false)
		if p.err != nil {
			return nil, p.err
		}
		if err := (Normal{MeanTokens: mean, StdTokens: std}).Validate(); err != nil {
			return nil, err
		}
		l := LogNormalOf(mean, std, max)
		return l, validate(l)
	}
	l := LogNormal{Mu: p.float("mu", true), Sigma: p.float("sigma", true), Max: p.int("max", false)}
	if p.err != nil {
		return nil, p.err
	}
	return l, validate(l)
}

// ParsePrefix reads a shared-prefix spec: groups=16,tokens=2048 gives each
// request one of 16 prefixes of 2048 tokens, chosen uniformly; zipf=1.1
// (an exponent > 1) makes low-numbered groups more popular.
func ParsePrefix(text string) (Prefix, error) {
	p := parseParams(text, "groups", "tokens", "zipf")
	x := Prefix{Groups: p.int("groups", true), Tokens: p.int("tokens", true), Zipf: p.float("zipf", false)}
	err := p.err
	if err == nil {
		err = x.Validate()
	}
	if err != nil {
		return Prefix{}, fmt.Errorf("prefix %q: %w", text, err)
	}
	return x, nil
}

// validate calls v's Validate method where it has one.
func validate(v any) error {
	if c, ok := v.(interface{ Validate() error }); ok {
		return c.Validate()
	}
	return nil
}

// params holds the key=value list of a spec and the first error met
// reading it, so that parsers read every parameter and check once.
type params struct {
	values map[string]string
	err    error
}

// parseParams splits "k=v,k=v" and rejects unknown or repeated keys.
func parseParams(text string, known ...string) *params {
	p := &params{values: map[string]string{}}
	if strings.TrimSpace(text) == "" {
		return p
	}
	for _, item := range strings.Split(text, ",") {
		key, value, ok := strings.Cut(item, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch {
		case !ok:
			p.fail(fmt.Errorf("%q: want key=value", item))
		case !slices.Contains(known, key):
			p.fail(fmt.Errorf("%s: unknown parameter (want %s)", key, strings.Join(known, ", ")))
		default:
			if _, dup := p.values[key]; dup {
				p.fail(fmt.Errorf("%s: given twice", key))
			}
			p.values[key] = value
		}
	}
	return p
}

func (p *params) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *params) lookup(key string, required bool) (string, bool) {
	v, ok := p.values[key]
	if !ok && required {
		p.fail(fmt.Errorf("%s: missing", key))
	}
	return v, ok
}

func (p *params) float(key string, required bool) float64 {
	v, ok := p.lookup(key, required)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		p.fail(fmt.Errorf("%s: %q is not a number", key, v))
	}
	return f
}

func (p *params) int(key string, required bool) int {
	v, ok := p.lookup(key, required)
	if !ok {
		return 0
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		p.fail(fmt.Errorf("%s: %q is not a whole number", key, v))
	}
	return i
}
