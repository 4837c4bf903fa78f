package sweep

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind is the type of a parameter's values.
type Kind int

// Kinds of parameter values.
const (
	String Kind = iota
	Int
	Float
	Bool
)

// maxValues bounds one range so a typo (1..1e9) fails fast instead of
// exhausting memory.
const maxValues = 1 << 20

// ParseValues expands the value spec of one parameter:
//
//	a,b,c            a list
//	LO..HI           an integer range with step +1 (both ends included)
//	LO..HI:+S        an arithmetic range with step S
//	LO..HI:xF        a geometric range with factor F (F > 1)
//
// Numbers take the suffixes k (×1024) and m (×1024²), so 1k..128k:x2 is
// 1024, 2048, ..., 131072. List items may themselves be ranges. Commas
// inside a value (h2o:heavy=0.1,recent=0.1 or normal:mean=512,std=64) are
// kept: an item of the form key=value without a colon continues the
// previous item. A spec containing ';' is split on ';' only, and may then
// hold empty strings (--kv-dtype ';fp8': the default and fp8).
func ParseValues(flag string, kind Kind, spec string) ([]string, error) {
	items, err := splitItems(kind, spec)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	var out []string
	for _, item := range items {
		vals, err := expandItem(kind, item)
		if err != nil {
			return nil, fmt.Errorf("--%s: %q: %w", flag, item, err)
		}
		out = append(out, vals...)
		if len(out) > maxValues {
			return nil, fmt.Errorf("--%s: more than %d values", flag, maxValues)
		}
	}
	return out, nil
}

// splitItems cuts a spec into list items. With ';' a string item may be
// empty (";fp8": the default, then fp8).
func splitItems(kind Kind, spec string) ([]string, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("empty value list")
	}
	if strings.Contains(spec, ";") {
		parts := strings.Split(spec, ";")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
			if parts[i] == "" && kind != String {
				return nil, fmt.Errorf("empty item in %q", spec)
			}
		}
		return parts, nil
	}
	var items []string
	for _, p := range strings.Split(spec, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("empty item in %q", spec)
		}
		if len(items) > 0 && strings.Contains(p, "=") && !strings.Contains(p, ":") && strings.Contains(items[len(items)-1], ":") {
			items[len(items)-1] += "," + p
			continue
		}
		items = append(items, p)
	}
	return items, nil
}

// expandItem turns one list item into its canonical values.
func expandItem(kind Kind, item string) ([]string, error) {
	if kind == String {
		return []string{item}, nil
	}
	if kind == Bool {
		b, err := strconv.ParseBool(item)
		if err != nil {
			return nil, fmt.Errorf("not a boolean (want true or false)")
		}
		return []string{strconv.FormatBool(b)}, nil
	}
	lo, rest, isRange := strings.Cut(item, "..")
	if !isRange {
		v, err := parseNumber(kind, item)
		if err != nil {
			return nil, err
		}
		return []string{formatNumber(kind, v)}, nil
	}
	hi, step, hasStep := strings.Cut(rest, ":")
	from, err := parseNumber(kind, lo)
	if err != nil {
		return nil, fmt.Errorf("range start: %w", err)
	}
	to, err := parseNumber(kind, hi)
	if err != nil {
		return nil, fmt.Errorf("range end: %w", err)
	}
	if to < from {
		return nil, fmt.Errorf("reversed range: %s > %s", lo, hi)
	}
	if !hasStep {
		if kind != Int {
			return nil, fmt.Errorf("a range of non-integers needs a step (:+S or :xF)")
		}
		step = "+1"
	}
	return expandRange(kind, from, to, step)
}

func expandRange(kind Kind, from, to float64, step string) ([]string, error) {
	if len(step) < 2 || (step[0] != '+' && step[0] != 'x') {
		return nil, fmt.Errorf("step %q: want +S (add) or xF (multiply)", step)
	}
	s, err := parseNumber(Float, step[1:])
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", step, err)
	}
	geometric := step[0] == 'x'
	if geometric && s <= 1 {
		return nil, fmt.Errorf("step %q: the factor must exceed 1", step)
	}
	if !geometric && s <= 0 {
		return nil, fmt.Errorf("step %q: the increment must be positive", step)
	}
	if geometric && from <= 0 {
		return nil, fmt.Errorf("a geometric range must start above 0")
	}
	// Tolerance so 0.1..0.3:+0.1 includes 0.3 despite rounding.
	limit := to + 1e-9*math.Max(1, math.Abs(to))
	var out []string
	for k := 0; ; k++ {
		v := from + float64(k)*s
		if geometric {
			v = from * math.Pow(s, float64(k))
		}
		if v > limit {
			break
		}
		if kind == Int {
			v = math.Round(v)
		}
		out = append(out, formatNumber(kind, v))
		if len(out) > maxValues {
			return nil, fmt.Errorf("more than %d values", maxValues)
		}
	}
	return out, nil
}

// parseNumber reads a number with an optional k (×1024) or m (×1024²)
// suffix; ints must come out whole.
func parseNumber(kind Kind, text string) (float64, error) {
	text = strings.TrimSpace(text)
	mult := 1.0
	switch {
	case strings.HasSuffix(text, "k") || strings.HasSuffix(text, "K"):
		mult, text = 1024, text[:len(text)-1]
	case strings.HasSuffix(text, "m") || strings.HasSuffix(text, "M"):
		mult, text = 1024*1024, text[:len(text)-1]
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number", text)
	}
	v *= mult
	if kind == Int && v != math.Trunc(v) {
		return 0, fmt.Errorf("%q is not a whole number", text)
	}
	return v, nil
}

func formatNumber(kind Kind, v float64) string {
	if kind == Int {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
