package sweep

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// File is a sweep file:
//
//	mode = "estimate"               # or "simulate"
//	[params]
//	hw = ["h100-sxm", "a100-80g-sxm"]
//	batch = "1..256:x2"             # a string is read like the flag
//	context = [1024, 4096, "16k"]   # array items may be numbers or specs
//	model = "llama3-8b"
type File struct {
	Mode   string         `toml:"mode"`
	Params map[string]any `toml:"params"`
}

// ReadFile reads and checks a sweep file's keys.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var keys []string
		for _, k := range und {
			if len(k) < 2 || k[0] != "params" {
				keys = append(keys, k.String())
			}
		}
		if len(keys) > 0 {
			return nil, fmt.Errorf("%s: unknown key %s (want mode and a [params] table)", path, strings.Join(keys, ", "))
		}
	}
	return &f, nil
}

// FileValues expands the value of a parameter in a sweep file: a string is
// parsed as the flag would be; a number or boolean is one value; each item
// of an array is one value (or a range).
func FileValues(name string, kind Kind, v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return ParseValues(name, kind, x)
	case []any:
		if len(x) == 0 {
			return nil, fmt.Errorf("%s: empty array", name)
		}
		var out []string
		for _, item := range x {
			text, err := scalar(name, item)
			if err != nil {
				return nil, err
			}
			vals, err := expandItem(kind, text)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", name, text, err)
			}
			out = append(out, vals...)
		}
		return out, nil
	}
	text, err := scalar(name, v)
	if err != nil {
		return nil, err
	}
	vals, err := expandItem(kind, text)
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %w", name, text, err)
	}
	return vals, nil
}

func scalar(name string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("%s: unsupported value %v (want a string, number, boolean or array)", name, v)
}
