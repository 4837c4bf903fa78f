package workloads

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseArrival(t *testing.T) {
	for _, c := range []struct {
		text string
		want Arrival
	}{
		{"poisson:rate=20", Poisson{20}},
		{" gamma:rate=20, cv=2 ", Gamma{20, 2}},
		{"constant:rate=10", Constant{10}},
		{"closed:clients=64,think=0.5", ClosedLoop{64, 0.5}},
		{"closed:clients=8", ClosedLoop{8, 0}},
	} {
		got, err := ParseArrival(c.text)
		if err != nil || got != c.want {
			t.Errorf("ParseArrival(%q) = %v, %v; want %v", c.text, got, err, c.want)
			continue
		}
		if back, err := ParseArrival(got.String()); err != nil || back != got {
			t.Errorf("%q: String %q reads back as %v, %v", c.text, got, back, err)
		}
	}
}

func TestParseArrivalErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"poisson", "rate: missing"},
		{"poisson:rate=-1", "rate: must be"},
		{"poisson:rate=fast", `rate: "fast" is not a number`},
		{"poisson:rate=1,cv=2", "cv: unknown parameter"},
		{"poisson:rate=1,rate=2", "rate: given twice"},
		{"poisson:rate", `"rate": want key=value`},
		{"gamma:rate=20,cv=0", "cv: must be"},
		{"gamma:rate=20", "cv: missing"},
		{"constant:rate=NaN", "rate: must be"},
		{"closed:clients=0", "clients: must be"},
		{"closed:clients=4.5", "clients: \"4.5\" is not a whole number"},
		{"closed:clients=4,think=-1", "think: must be"},
		{"uniform:rate=1", `unknown arrival process "uniform"`},
	} {
		_, err := ParseArrival(c.text)
		wantError(t, err, `arrival "`+c.text+`"`, c.want)
	}
}

func TestParseLength(t *testing.T) {
	for _, c := range []struct {
		text string
		want Length
	}{
		{"512", Fixed{512}},
		{"fixed:512", Fixed{512}},
		{"fixed:tokens=512", Fixed{512}},
		{"uniform:128..1024", Uniform{128, 1024}},
		{"uniform:min=128,max=1024", Uniform{128, 1024}},
		{"normal:mean=512,std=128", Normal{512, 128, 0}},
		{"normal:mean=512,std=128,max=600", Normal{512, 128, 600}},
		{"lognormal:mean=512,std=256", LogNormalOf(512, 256, 0)},
		{"lognormal:mean=512,std=256,max=2048", LogNormalOf(512, 256, 2048)},
		{"lognormal:mu=6,sigma=0.5", LogNormal{6, 0.5, 0}},
	} {
		got, err := ParseLength(c.text)
		if err != nil || got != c.want {
			t.Errorf("ParseLength(%q) = %v, %v; want %v", c.text, got, err, c.want)
			continue
		}
		if back, err := ParseLength(got.String()); err != nil || back != got {
			t.Errorf("%q: String %q reads back as %v, %v", c.text, got, back, err)
		}
	}
}

func TestParseLengthCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hist.csv")
	if err := os.WriteFile(path, []byte("tokens,count\n10,1\n30,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := ParseLength("csv:" + path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Mean() != 20 || l.String() != "csv:"+path {
		t.Errorf("csv histogram: mean %g, spec %q", l.Mean(), l)
	}
	_, err = ParseLength("csv:" + path + ".missing")
	wantError(t, err, "hist.csv.missing")
}

func TestParseLengthErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"0", "tokens: must be in [1,"},
		{"-5", "tokens: must be"},
		{"fixed:abc", `"abc": want key=value`},
		{"uniform:1024..128", "min: 1024 is above max 128"},
		{"uniform:0..128", "min: must be"},
		{"uniform:min=1", "max: missing"},
		{"normal:mean=512", "std: missing"},
		{"normal:mean=512,std=-1", "std: must be"},
		{"normal:mean=0,std=1", "mean: must be"},
		{"normal:mean=512,std=1,max=-3", "max: must be"},
		{"lognormal:mean=512,sigma=1", "sigma: give mean and std, or mu and sigma, not both"},
		{"lognormal:mu=6", "sigma: missing"},
		{"lognormal:mu=6,sigma=20", "sigma: must be"},
		{"lognormal:mean=512,std=x", `std: "x" is not a number`},
		{"csv:", "csv: no file"},
		{"zipf:s=2", `unknown length distribution "zipf"`},
	} {
		_, err := ParseLength(c.text)
		wantError(t, err, `length "`+c.text+`"`, c.want)
	}
}

func TestParsePrefix(t *testing.T) {
	p, err := ParsePrefix("groups=16,tokens=2048,zipf=1.2")
	if err != nil || p != (Prefix{16, 2048, 1.2}) {
		t.Fatalf("ParsePrefix = %+v, %v", p, err)
	}
	if back, err := ParsePrefix(p.String()); err != nil || back != p {
		t.Errorf("String %q reads back as %+v, %v", p, back, err)
	}
	_, err = ParsePrefix("groups=16,tokens=2048,zipf=0.5")
	wantError(t, err, `prefix "groups=16,tokens=2048,zipf=0.5"`, "zipf: must be")
	_, err = ParsePrefix("groups=0,tokens=1")
	wantError(t, err, "groups: must be")
}

func TestParsePreset(t *testing.T) {
	for _, p := range Presets() {
		got, err := ParsePreset(p.Name)
		if err != nil || got.Name != p.Name || got.Source == "" {
			t.Errorf("ParsePreset(%q) = %+v, %v", p.Name, got, err)
		}
		for _, l := range []Length{got.Prompt, got.Output} {
			if err := validate(l); err != nil {
				t.Errorf("%s: %s: %v", p.Name, l, err)
			}
		}
	}
	rag, err := ParsePreset("rag:groups=8,prefix=4096,zipf=1.1")
	if err != nil || rag.Prefix != (Prefix{8, 4096, 1.1}) {
		t.Errorf("rag with parameters = %+v, %v", rag.Prefix, err)
	}
	for _, c := range []struct{ text, want string }{
		{"chatty", "unknown preset"},
		{"chat:rate=1", "chat takes no parameters"},
		{"rag:prefix=0", "prefix: must be"},
		{"rag:groups=x", `groups: "x" is not a whole number`},
		{"rag:size=3", "size: unknown parameter"},
	} {
		_, err := ParsePreset(c.text)
		wantError(t, err, `preset "`+c.text+`"`, c.want)
	}
}

// TestPresetMeans pins the presets' published means (clamps shave a little).
func TestPresetMeans(t *testing.T) {
	chat, _ := ParsePreset("chat")
	within(t, "chat prompt mean", chat.Prompt.Mean(), 161, 0.05)
	within(t, "chat output mean", chat.Output.Mean(), 338, 0.05)
	sum, _ := ParsePreset("summarization")
	within(t, "summarization prompt mean", sum.Prompt.Mean(), 6584, 0.05)
	within(t, "summarization output mean", sum.Output.Mean(), 293, 0.05)
}
