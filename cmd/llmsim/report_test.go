package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// reportInputs writes one result file of every kind the report reads.
func reportInputs(t *testing.T, dir string) []string {
	t.Helper()
	p := func(name string) string { return filepath.Join(dir, name) }
	est, stderr, code := run(t, "estimate", "--phase", "decode", "--batch", "32", "--context", "4096", "-o", "json")
	if code != 0 {
		t.Fatal(stderr)
	}
	os.WriteFile(p("est.json"), []byte(est), 0o644)
	sim, stderr, code := run(t, "simulate", "--num-requests", "200", "--rate", "12", "--requests-csv", p("req.csv"), "--trace", p("trace.json"), "-o", "json")
	if code != 0 {
		t.Fatal(stderr)
	}
	os.WriteFile(p("sim.json"), []byte(sim), 0o644)
	for _, args := range [][]string{
		{"sweep", "--hw", "h100-sxm,a100-80g-sxm", "--phase", "prefill,decode", "--batch", "1..64:x4", "--context", "512..4k:x2", "--prompt", "256,1k", "--out", p("sweep.csv")},
		{"sweep", "--mode", "simulate", "--rate", "4..16:+4", "--num-requests", "100", "--out", p("simsweep.jsonl")},
	} {
		if _, stderr, code := run(t, args...); code != 0 {
			t.Fatal(stderr)
		}
	}
	os.WriteFile(p("dse.toml"), []byte("objectives = [\"latency\", \"cost\"]\n[workload]\nbatch = [1, 32]\n[[knob]]\nname = \"memory.bandwidth\"\nscale = \"0.5..2:x2\"\nprice_exponent = 1\n"), 0o644)
	if _, stderr, code := run(t, "dse", p("dse.toml"), "--out", p("dse.csv")); code != 0 {
		t.Fatal(stderr)
	}
	return []string{p("est.json"), p("sweep.csv"), p("simsweep.jsonl"), p("sim.json"), p("req.csv"), p("trace.json"), p("dse.csv")}
}

func TestReportIsSelfContainedAndDeterministic(t *testing.T) {
	dir := t.TempDir()
	inputs := reportInputs(t, dir)
	page := filepath.Join(dir, "report.html")
	if _, stderr, code := run(t, append([]string{"report", "--out", page}, inputs...)...); code != 0 {
		t.Fatal(stderr)
	}
	html, _ := os.ReadFile(page)
	svgs, figures := strings.Count(string(html), "<svg"), strings.Count(string(html), "<figure>")
	if svgs < 20 || svgs != figures {
		t.Errorf("%d inline SVGs for %d figures, want ≥ 20 and one per figure", svgs, figures)
	}
	// No scripts, stylesheets or images fetched from anywhere.
	if m := regexp.MustCompile(`<script|<link|<img|src=|url\(|href="http`).Find(html); m != nil {
		t.Errorf("report references an external asset: %q", m)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !bytes.Contains(md, []byte("| configuration |")) {
		t.Errorf("Markdown summary missing or without tables: %v", err)
	}
	again := filepath.Join(dir, "again.html")
	run(t, append([]string{"report", "--out", again, "--markdown", "none"}, inputs...)...)
	if b, _ := os.ReadFile(again); !bytes.Equal(b, html) {
		t.Error("two reports from the same inputs differ")
	}
}

// TestReportRendersInChromium loads the page in headless Chromium: the
// DOM it builds holds every SVG, and a screenshot is produced and is not
// blank. Without chromium (apt-get install chromium) it is skipped.
func TestReportRendersInChromium(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("chromium not installed (apt-get install -y chromium); skipping the browser rendering test")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if _, stderr, code := run(t, append([]string{"report", "--out", page}, reportInputs(t, dir)...)...); code != 0 {
		t.Fatal(stderr)
	}
	html, _ := os.ReadFile(page)
	want := strings.Count(string(html), "<svg")
	chrome := func(args ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=" + filepath.Join(dir, "profile")}
		cmd := exec.CommandContext(ctx, browser, append(append(base, args...), "file://"+page)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", browser, err, errb.String())
		}
		return out.Bytes()
	}
	dom := chrome("--dump-dom")
	if got := bytes.Count(dom, []byte("<svg")); got != want {
		t.Errorf("the browser's DOM holds %d SVGs, the page %d", got, want)
	}
	if got := bytes.Count(dom, []byte("<path")); got < want {
		t.Errorf("only %d SVG paths in the rendered DOM", got)
	}
	shot := filepath.Join(dir, "shot.png")
	chrome("--window-size=1200,4000", "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 4000 {
		t.Errorf("screenshot is %v, want 1200×4000", b)
	}
	if inked, colours := ink(img); inked < 0.03 || colours < 8 {
		t.Errorf("screenshot looks blank: %.1f%% non-white pixels, %d colours", 100*inked, colours)
	}
}

// ink measures a picture: the fraction of pixels that are not white and
// the number of distinct colours (charts draw several).
func ink(img image.Image) (float64, int) {
	b := img.Bounds()
	colours := map[[3]uint32]bool{}
	n, inked := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			n++
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				inked++
			}
			if len(colours) < 1000 {
				colours[[3]uint32{r >> 12, g >> 12, bl >> 12}] = true
			}
		}
	}
	return float64(inked) / float64(n), len(colours)
}
