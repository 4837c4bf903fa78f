package kvcache

import (
	"strings"
	"testing"
)

func TestParseErrorsNameTheParameter(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"h2o:heavy=2", "heavy=2"},
		{"h2o:heavy=0.6,recent=0.6", "heavy + recent"},
		{"duo:retrieval=x", "retrieval=x"},
		{"duo:foo=1", `unknown parameter "foo"`},
		{"window:recent=0", "recent=0"},
		{"kivi:bits=32", "bits=32"},
		{"kivi:group=", `parameter "group=" is not key=value`},
		{"quest:tokens=4K,tokens=8K", `"tokens" given twice`},
		{"paged:block=abc", "block=abc"},
		{"vattention:page=2MB", "page=2MB"},
		{"hydragen", "prefix"},
		{"d2o:budget=0.8,skew=0.5", "budget·(1±skew)"},
		{"nosuch", `unknown scheme "nosuch"`},
		{"full:x=1", "full takes no parameters"},
		{"kivi+duo", "must come before"},
		{"kivi+quant", "already set"},
		{"h2o+hydragen:prefix=10", "cannot be combined"},
	} {
		_, err := Parse(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", c.spec, err, c.want)
		}
	}
}

func TestCanonicalSpecsRoundTrip(t *testing.T) {
	specs := []string{"duo:retrieval=0.25+kivi", "quest:tokens=4K", "hydragen:prefix=1024,share=8", "vattention:page=64KiB",
		"scissorhands:budget=0.2+quant:bits=4,group=128+paged:block=32", "snapkv+think:keys=0.5"}
	for _, n := range Names() {
		if n != "hydragen" {
			specs = append(specs, n)
		}
	}
	for _, spec := range specs {
		s := parse(t, spec)
		again := parse(t, s.String())
		if again.String() != s.String() {
			t.Errorf("%q: %q parses back to %q", spec, s.String(), again.String())
		}
	}
	if got := parse(t, "quest:tokens=4K").String(); got != "quest:tokens=4096,page=16,dense=2" {
		t.Errorf("canonical quest = %q", got)
	}
	if got := parse(t, "vattention:page=64KiB").String(); got != "vattention:page=65536" {
		t.Errorf("canonical vattention = %q", got)
	}
}

// The listed defaults must be the ones the builders use.
func TestInfoMatchesDefaults(t *testing.T) {
	for _, info := range Schemes() {
		if info.Name == "full" || info.Name == "hydragen" {
			continue
		}
		var want []string
		for _, p := range info.Params {
			want = append(want, p.Key+"="+p.Default)
		}
		got := parse(t, info.Name).String()
		if exp := info.Name + ":" + strings.Join(want, ","); got != exp {
			t.Errorf("%s: canonical %q, documented %q", info.Name, got, exp)
		}
		if info.Summary == "" || info.Source == "" || len(info.Stages) == 0 {
			t.Errorf("%s: incomplete description %+v", info.Name, info)
		}
	}
}

func TestComposeIgnoresFull(t *testing.T) {
	if s := parse(t, "full+kivi"); s.String() != parse(t, "kivi").String() {
		t.Errorf("full+kivi = %q", s)
	}
	if _, ok := parse(t, "full+full").(Full); !ok {
		t.Errorf("full+full should be full")
	}
}
