// Package report turns llmsim results into tables, plots (gonum/plot) and
// self-contained HTML reports.
package report
