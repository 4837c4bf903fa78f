package sweep

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseValues(t *testing.T) {
	for _, c := range []struct {
		kind Kind
		spec string
		want []string
	}{
		{Int, "1,8,64", []string{"1", "8", "64"}},
		{Int, "1k..16k:x2", []string{"1024", "2048", "4096", "8192", "16384"}},
		{Int, "128..1024:+128", []string{"128", "256", "384", "512", "640", "768", "896", "1024"}},
		{Int, "1..4", []string{"1", "2", "3", "4"}},
		{Int, "1..10:x3", []string{"1", "3", "9"}},
		{Int, "1,4..6,1m", []string{"1", "4", "5", "6", "1048576"}},
		{Float, "0.1..0.3:+0.1", []string{"0.1", "0.2", "0.30000000000000004"}},
		{Float, "2.5,10", []string{"2.5", "10"}},
		{Bool, "true,false", []string{"true", "false"}},
		{String, "h100-sxm,a100-80g-sxm", []string{"h100-sxm", "a100-80g-sxm"}},
		// Commas inside NAME:key=value specs belong to the value.
		{String, "full,h2o:heavy=0.1,recent=0.1", []string{"full", "h2o:heavy=0.1,recent=0.1"}},
		{String, "normal:mean=512,std=64,uniform:128..1024", []string{"normal:mean=512,std=64", "uniform:128..1024"}},
		{String, "a,b;c", []string{"a,b", "c"}},
		{String, ";fp8", []string{"", "fp8"}},
	} {
		got, err := ParseValues("x", c.kind, c.spec)
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.spec, got, c.want)
		}
	}
}

func TestParseValuesErrors(t *testing.T) {
	for _, c := range []struct {
		kind       Kind
		spec, want string
	}{
		{Int, "", "--batch: empty value list"},
		{Int, "1,,2", "empty item"},
		{Int, "64..8", "reversed range"},
		{Int, "eight", `"eight" is not a number`},
		{Int, "1.5", "not a whole number"},
		{Int, "1..8:x1", "factor must exceed 1"},
		{Int, "1..8:+0", "increment must be positive"},
		{Int, "1..8:*2", "want +S (add) or xF"},
		{Float, "1..2", "needs a step"},
		{Bool, "yes", "not a boolean"},
		{Int, "1..1e9", "more than"},
	} {
		_, err := ParseValues("batch", c.kind, c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "--batch") {
			t.Errorf("%q: got %v, want an error naming --batch with %q", c.spec, err, c.want)
		}
	}
}
