package report

import (
	"fmt"
	"html"
	"io"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// Document is a report: sections of text, figures and tables, rendered as
// one self-contained HTML page (figures inline as SVG) or as Markdown.
type Document struct {
	Title    string
	Sources  []string // files the report was made from
	Sections []*Section
}

// Section is one part of a report.
type Section struct {
	Title   string
	Notes   []string // paragraphs of plain text
	Figures []Figure
	Tables  []Table
}

// Figure is a chart rendered to SVG.
type Figure struct {
	Caption string
	SVG     []byte
}

// Table is a small table of text cells.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
}

// Figure sizes.
const (
	figureWidth  = 7 * vg.Inch
	figureHeight = 4.2 * vg.Inch
)

// AddPlot renders p into the section; a nil plot or a rendering error
// becomes a note instead, so one bad chart never loses the report.
func (s *Section) AddPlot(caption string, p *plot.Plot, err error) {
	if err != nil {
		s.Notes = append(s.Notes, fmt.Sprintf("(%s: %v)", caption, err))
		return
	}
	svg, err := SVG(p, figureWidth, figureHeight)
	if err != nil {
		s.Notes = append(s.Notes, fmt.Sprintf("(%s: %v)", caption, err))
		return
	}
	s.Figures = append(s.Figures, Figure{Caption: caption, SVG: svg})
}

// Note adds a paragraph.
func (s *Section) Note(format string, args ...any) {
	s.Notes = append(s.Notes, fmt.Sprintf(format, args...))
}

const style = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#222;background:#fff}
h1{border-bottom:2px solid #333;padding-bottom:.3em}h2{margin-top:2em;border-bottom:1px solid #ccc}
nav ol{columns:2}figure{margin:1.5em 0;text-align:center}figure svg{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9em;margin-top:.3em}table{border-collapse:collapse;margin:1em 0;font-size:.9em;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right;white-space:nowrap}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
caption{caption-side:top;text-align:left;font-weight:600;padding:.3em 0}.src{color:#666;font-size:.85em}`

const longTable = 12

// HTML writes the report as one page with no external assets.
func (d *Document) HTML(w io.Writer) error {
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>%s</title>\n<style>\n%s\n</style>\n</head>\n<body>\n", esc(d.Title), style)
	fmt.Fprintf(&b, "<h1>%s</h1>\n", esc(d.Title))
	if len(d.Sources) > 0 {
		fmt.Fprintf(&b, "<p class=\"src\">From %s.</p>\n", esc(strings.Join(d.Sources, ", ")))
	}
	b.WriteString("<nav><ol>\n")
	for i, s := range d.Sections {
		fmt.Fprintf(&b, "<li><a href=\"#s%d\">%s</a></li>\n", i+1, esc(s.Title))
	}
	b.WriteString("</ol></nav>\n")
	for i, s := range d.Sections {
		fmt.Fprintf(&b, "<section id=\"s%d\">\n<h2>%s</h2>\n", i+1, esc(s.Title))
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "<p>%s</p>\n", esc(n))
		}
		// Short tables lead the section; long ones follow its charts.
		for _, t := range s.Tables {
			if len(t.Rows) <= longTable {
				writeHTMLTable(&b, t)
			}
		}
		for _, f := range s.Figures {
			fmt.Fprintf(&b, "<figure>\n%s<figcaption>%s</figcaption>\n</figure>\n", f.SVG, esc(f.Caption))
		}
		for _, t := range s.Tables {
			if len(t.Rows) > longTable {
				writeHTMLTable(&b, t)
			}
		}
		b.WriteString("</section>\n")
	}
	b.WriteString("</body>\n</html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHTMLTable(b *strings.Builder, t Table) {
	esc := html.EscapeString
	b.WriteString("<table>\n")
	if t.Caption != "" {
		fmt.Fprintf(b, "<caption>%s</caption>\n", esc(t.Caption))
	}
	b.WriteString("<tr>")
	for _, h := range t.Header {
		fmt.Fprintf(b, "<th>%s</th>", esc(h))
	}
	b.WriteString("</tr>\n")
	for _, r := range t.Rows {
		b.WriteString("<tr>")
		for _, c := range r {
			fmt.Fprintf(b, "<td>%s</td>", esc(c))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
}

// Markdown writes the report's text and tables; figures are listed by
// caption (they live in the HTML report).
func (d *Document) Markdown(w io.Writer, htmlName string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", d.Title)
	if len(d.Sources) > 0 {
		fmt.Fprintf(&b, "From %s.\n\n", strings.Join(d.Sources, ", "))
	}
	for _, s := range d.Sections {
		fmt.Fprintf(&b, "## %s\n\n", s.Title)
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "%s\n\n", n)
		}
		for _, t := range s.Tables {
			writeMarkdownTable(&b, t)
		}
		if len(s.Figures) > 0 {
			where := "the HTML report"
			if htmlName != "" {
				where = "[" + htmlName + "](" + htmlName + ")"
			}
			fmt.Fprintf(&b, "Figures in %s:\n\n", where)
			for _, f := range s.Figures {
				fmt.Fprintf(&b, "- %s\n", f.Caption)
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMarkdownTable(b *strings.Builder, t Table) {
	if t.Caption != "" {
		fmt.Fprintf(b, "**%s**\n\n", t.Caption)
	}
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	b.WriteString("|")
	for _, h := range t.Header {
		fmt.Fprintf(b, " %s |", cell(h))
	}
	b.WriteString("\n|")
	for i := range t.Header {
		if i == 0 {
			b.WriteString("---|")
		} else {
			b.WriteString("---:|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		b.WriteString("|")
		for _, c := range r {
			fmt.Fprintf(b, " %s |", cell(c))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}
