package kvcache

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// params reads the key=value parameters of one scheme. Each getter records
// the value it settled on, defaults included, so the canonical spec of the
// scheme (String) lists every parameter in a fixed order and parses back to
// the same scheme. The first bad value is kept in err; finish reports it,
// or any key no getter asked for.
type params struct {
	scheme string
	given  map[string]string
	known  []string
	spec   []string
	err    error
}

func newParams(scheme string, given map[string]string) *params {
	return &params{scheme: scheme, given: given}
}

// raw returns the given text of key, recording key as known.
func (p *params) raw(key string) (string, bool) {
	p.known = append(p.known, key)
	v, ok := p.given[key]
	return v, ok
}

func (p *params) fail(key, value, format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%s: %s=%s: %s", p.scheme, key, value, fmt.Sprintf(format, args...))
	}
}

func (p *params) record(key, value string) { p.spec = append(p.spec, key+"="+value) }

// float reads a number in [lo, hi].
func (p *params) float(key string, def, lo, hi float64) float64 {
	v := def
	if s, ok := p.raw(key); ok {
		f, err := strconv.ParseFloat(s, 64)
		switch {
		case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
			p.fail(key, s, "not a number")
			return def
		case f < lo || f > hi:
			p.fail(key, s, "must be between %g and %g", lo, hi)
			return def
		}
		v = f
	}
	p.record(key, strconv.FormatFloat(v, 'g', -1, 64))
	return v
}

// fraction reads a number in (0, 1] (or [0, 1] when zero is allowed).
func (p *params) fraction(key string, def float64, zeroOK bool) float64 {
	v := def
	if s, ok := p.raw(key); ok {
		f, err := strconv.ParseFloat(s, 64)
		switch {
		case err != nil || math.IsNaN(f):
			p.fail(key, s, "not a number")
			return def
		case f < 0 || f > 1 || (f == 0 && !zeroOK):
			if zeroOK {
				p.fail(key, s, "must be a fraction in [0, 1]")
			} else {
				p.fail(key, s, "must be a fraction in (0, 1]")
			}
			return def
		}
		v = f
	}
	p.record(key, strconv.FormatFloat(v, 'g', -1, 64))
	return v
}

// maxCount caps token counts and sizes so that no product overflows.
const maxCount = 1 << 40

// count reads a whole number >= lo; K and M suffixes multiply by 1024 and
// 1024² ("4K" = 4096 tokens).
func (p *params) count(key string, def, lo int) int {
	v := def
	if s, ok := p.raw(key); ok {
		n, err := parseCount(s)
		switch {
		case err != nil:
			p.fail(key, s, "not a whole number")
			return def
		case n < lo:
			p.fail(key, s, "must be at least %d", lo)
			return def
		}
		v = n
	}
	p.record(key, strconv.Itoa(v))
	return v
}

func parseCount(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K") || strings.HasSuffix(s, "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxCount/mult {
		return 0, fmt.Errorf("bad count")
	}
	return n * mult, nil
}

// bytes reads a size: a whole number of bytes or with a KiB, MiB or GiB
// suffix ("2MiB"); canonical form is plain bytes.
func (p *params) bytes(key string, def int) int {
	v := def
	if s, ok := p.raw(key); ok {
		n, err := parseBytes(s)
		if err != nil || n < 1 {
			p.fail(key, s, "not a size (bytes, or with KiB/MiB/GiB)")
			return def
		}
		v = n
	}
	p.record(key, strconv.Itoa(v))
	return v
}

func parseBytes(s string) (int, error) {
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxCount/mult {
		return 0, fmt.Errorf("bad size")
	}
	return n * mult, nil
}

// boolean reads true or false.
func (p *params) boolean(key string, def bool) bool {
	v := def
	if s, ok := p.raw(key); ok {
		b, err := strconv.ParseBool(s)
		if err != nil {
			p.fail(key, s, "want true or false")
			return def
		}
		v = b
	}
	p.record(key, strconv.FormatBool(v))
	return v
}

// choice reads one of the allowed words.
func (p *params) choice(key, def string, allowed ...string) string {
	v := def
	if s, ok := p.raw(key); ok {
		found := false
		for _, a := range allowed {
			found = found || s == a
		}
		if !found {
			p.fail(key, s, "want one of %s", strings.Join(allowed, ", "))
			return def
		}
		v = s
	}
	p.record(key, v)
	return v
}

// invalid reports a constraint between parameters.
func (p *params) invalid(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%s: %s", p.scheme, fmt.Sprintf(format, args...))
	}
}

// finish reports the first bad value or unknown key, and returns the
// canonical spec NAME[:k=v,...].
func (p *params) finish() (string, error) {
	if p.err != nil {
		return "", p.err
	}
	var unknown []string
	for k := range p.given {
		found := false
		for _, kn := range p.known {
			found = found || k == kn
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := "none"
		if len(p.known) > 0 {
			known = strings.Join(p.known, ", ")
		}
		return "", fmt.Errorf("%s: unknown parameter %q (known: %s)", p.scheme, unknown[0], known)
	}
	if len(p.spec) == 0 {
		return p.scheme, nil
	}
	return p.scheme + ":" + strings.Join(p.spec, ","), nil
}
