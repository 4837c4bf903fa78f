package hw

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// parsed is a TOML text that passed the syntax check, with its raw table
// (to tell which keys were present) and the line index for messages.
type parsed struct {
	text string
	raw  map[string]any
	ix   *lineIndex
	p    *problems
}

// parse checks TOML syntax.
func parse(data []byte, file string) (*parsed, error) {
	text := string(data)
	ps := &parsed{text: text, ix: indexLines(text)}
	ps.p = &problems{file: file, ix: ps.ix}
	if _, err := toml.Decode(text, &ps.raw); err != nil {
		ps.p.addAt(syntaxLine(err), "", syntaxMessage(err), nil)
		return nil, ps.p.err()
	}
	return ps, nil
}

// into decodes the text into dst (a *Device or *System). The text is checked
// against dst's type first, so that unknown keys and wrong types are reported
// with exact lines, including inside arrays of tables, where the library's
// own messages point at the last element.
func (ps *parsed) into(dst any) error {
	p := ps.p
	checkTable(p, ps.raw, reflect.TypeOf(dst).Elem(), "")
	if !p.ok() {
		return p.err()
	}
	md, err := toml.Decode(ps.text, dst)
	if err != nil {
		// The check above should have caught it; keep the library's words.
		line, key, msg := libraryError(err)
		if l := ps.ix.line(key); l > 0 && line == 0 {
			line = l
		}
		p.addAt(line, key, msg, nil)
		return p.err()
	}
	for _, k := range md.Undecoded() {
		path, line := ps.ix.firstMatch(k.String())
		if path == "" {
			path, line = k.String(), ps.ix.line(k.String())
		}
		p.addAt(line, path, "unknown key", nil)
	}
	return p.err()
}

func syntaxLine(err error) int {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.Position.Line
	}
	return 0
}

func syntaxMessage(err error) string {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return "TOML syntax: " + pe.Message
	}
	return "TOML syntax: " + err.Error()
}

var libraryErrRE = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)

func libraryError(err error) (line int, key, msg string) {
	m := libraryErrRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, "", err.Error()
	}
	line, _ = strconv.Atoi(m[1])
	return line, m[2], m[3]
}

var timeType = reflect.TypeOf(time.Time{})

// checkTable checks a TOML table against struct type t.
func checkTable(p *problems, raw map[string]any, t reflect.Type, path string) {
	fields := tomlFields(t)
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := p.ix.line(joinKey(path, keys[i])), p.ix.line(joinKey(path, keys[j]))
		if li != lj {
			return li < lj
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		kp := joinKey(path, k)
		f, ok := fields[k]
		if !ok {
			p.add(kp, "unknown key (known here: %s)", strings.Join(sortedKeys(fields), ", "))
			continue
		}
		checkValue(p, raw[k], f.Type, kp)
	}
}

// checkValue checks one TOML value against Go type t.
func checkValue(p *problems, v any, t reflect.Type, path string) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			p.add(path, "must be a string, got %s", describe(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			p.add(path, "must be true or false, got %s", describe(v))
		}
	case reflect.Int, reflect.Int64:
		if _, ok := v.(int64); !ok {
			p.add(path, "must be an integer, got %s", describe(v))
		}
	case reflect.Float64:
		switch v.(type) {
		case int64, float64:
		default:
			p.add(path, "must be a number, got %s", describe(v))
		}
	case reflect.Struct:
		if t == timeType {
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			p.add(path, "must be a table, got %s", describe(v))
			return
		}
		checkTable(p, m, t, path)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			p.add(path, "must be a table, got %s", describe(v))
			return
		}
		for _, k := range sortedAny(m) {
			checkValue(p, m[k], t.Elem(), joinKey(path, k))
		}
	case reflect.Slice, reflect.Array:
		checkArray(p, v, t, path)
	}
}

func checkArray(p *problems, v any, t reflect.Type, path string) {
	var elems []any
	switch a := v.(type) {
	case []any:
		elems = a
	case []map[string]any:
		for _, m := range a {
			elems = append(elems, m)
		}
	default:
		p.add(path, "must be an array, got %s", describe(v))
		return
	}
	if t.Kind() == reflect.Array && len(elems) != t.Len() {
		p.add(path, "must be an array of %d elements, got %d", t.Len(), len(elems))
		return
	}
	for i, e := range elems {
		checkValue(p, e, t.Elem(), path+"["+strconv.Itoa(i)+"]")
	}
}

func tomlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

func sortedKeys(m map[string]reflect.StructField) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedAny(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// describe names a TOML value's type (and the value when short) for errors.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %s", formatFloat(x))
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case map[string]any:
		return "a table"
	case []map[string]any, []any:
		return "an array"
	case time.Time:
		return "a date/time"
	}
	return fmt.Sprintf("%T", v)
}

func formatFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}
