package report

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"
)

func TestParseTables(t *testing.T) {
	d, err := ParseJSONL([]byte(`{"index":0,"key":"batch=1;hw=a","batch":1,"hw":"a","seconds":0.5,"fits":true,"error":""}
{"index":1,"key":"batch=8;hw=a","batch":8,"hw":"a","seconds":null,"fits":false,"error":"boom"}
{"index":2,"key":"bat`))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Rows) != 2 || strings.Join(d.Params(), ",") != "batch,hw" || strings.Join(d.Varying(d.Params()), ",") != "batch" {
		t.Fatalf("rows %d, params %v, varying %v", len(d.Rows), d.Params(), d.Varying(d.Params()))
	}
	if v, ok := d.Num(0, "seconds"); !ok || v != 0.5 || d.Str(1, "seconds") != "" || d.Str(0, "fits") != "true" {
		t.Errorf("cells: %v %v %q %q", v, ok, d.Str(1, "seconds"), d.Str(0, "fits"))
	}
	if got := okRows(d, nil); len(got) != 1 {
		t.Errorf("rows without error: %v", got)
	}
	c, err := ParseCSV([]byte("a,b\n1,2\n3,4\n5"))
	if err != nil || len(c.Rows) != 2 {
		t.Errorf("CSV with a partial line: %v rows, %v", len(c.Rows), err)
	}
}

func TestLogTicks(t *testing.T) {
	var labels []string
	for _, tk := range (logTicks{}).Ticks(150, 4000) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "200 500 1000 2000" {
		t.Errorf("labels %q, want 200 500 1000 2000", got)
	}
}

func TestDocumentEscapesAndInlinesSVG(t *testing.T) {
	s := &Section{Title: "a <b> & c"}
	p, err := ParetoChart(Axes{Title: "t", X: "x", Y: "y"}, plotter.XYs{{X: 1, Y: 1}, {X: 2, Y: 3}}, plotter.XYs{{X: 2, Y: 3}}, true)
	s.AddPlot("cap", p, err)
	s.Tables = append(s.Tables, Table{Header: []string{"h"}, Rows: [][]string{{"<script>"}}})
	d := &Document{Title: "r", Sections: []*Section{s}}
	var html, md bytes.Buffer
	if err := d.HTML(&html); err != nil {
		t.Fatal(err)
	}
	out := html.String()
	if strings.Contains(out, "<script>") || !strings.Contains(out, "a &lt;b&gt; &amp; c") || strings.Contains(out, "<?xml") {
		t.Error("text is not escaped or the SVG keeps its XML prologue")
	}
	if strings.Count(out, "<svg") != 1 || strings.Count(out, "</svg>") != 1 {
		t.Error("want one inline SVG")
	}
	d.Markdown(&md, "r.html")
	if !strings.Contains(md.String(), "| h |\n|---|\n| <script> |") || !strings.Contains(md.String(), "- cap") {
		t.Errorf("markdown:\n%s", md.String())
	}
}

func TestUnrecognisedInput(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"x.json": `{"hello": 1}`, "y.csv": "a,b\n1,2\n", "z.csv": ""} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		if _, err := FromFiles("t", []string{p}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v, want an error naming the file", name, err)
		}
	}
}

// The KV timeline is the time-weighted used share of the blocks: a replica
// that holds 30 of 100 blocks for the first half of a 10 s run and 80 for
// the second half reads 0.3 in every early bin and 0.8 in every late one.
func TestKVTimelineIsTimeWeighted(t *testing.T) {
	evs := []traceEvent{kvEvent(0, 30, 70), kvEvent(5e6, 80, 20)}
	s := kvSeries("r0", evs, 10e6, 10e6/timelineBins)
	if len(s.XY) != timelineBins {
		t.Fatalf("%d points, want %d", len(s.XY), timelineBins)
	}
	for _, p := range s.XY {
		want := 0.3
		if p.X > 5 {
			want = 0.8
		}
		if math.Abs(p.Y-want) > 1e-9 {
			t.Fatalf("at %.3f s: %g, want %g", p.X, p.Y, want)
		}
	}
}

func kvEvent(tsUs, used, free float64) traceEvent {
	e := traceEvent{Ph: "C", Name: "kv blocks", Ts: tsUs}
	e.Args.Used, e.Args.Free = used, free
	return e
}
