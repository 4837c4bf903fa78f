// Package kvcache holds the KV-cache schemes of the papers llmsim models:
// each is a value chosen by name and parameters ("h2o:heavy=0.1,recent=0.1",
// "duo:retrieval=0.5+kivi:bits=2") that changes what a step really costs —
// tokens kept, bytes per token, bytes read per decode step, extra compute,
// prefill changes and capacity — never only a label.
//
// estimate and simulate apply the same Scheme: after models.Graph builds a
// step, Rewrite adjusts its ops; StoredBytes sizes the cache of a sequence.
//
// Every scheme but Full parses into a Plan whose stages — retention, read,
// share, channels, format, alloc — are plain values; one Rewrite and one
// StoredBytes interpret them all, so composing schemes ("snapkv+think",
// "duo+kivi") is merging stages. docs/KVCACHE.md gives the formulas.
package kvcache

import (
	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

// Scheme is a KV-cache policy.
type Scheme interface {
	// String is the canonical spec the scheme parses back from.
	String() string
	// StoredBytes is the cache footprint of one sequence that holds tokens
	// tokens, over all layers, metadata (scales, low-rank factors, page
	// summaries) included.
	StoredBytes(m *models.Model, tokens int, kv dtype.DType) float64
	// Rewrite adjusts the ops of step g, built by m.GraphInto for seqs, to
	// what the scheme reads, writes and computes.
	Rewrite(g *models.Graph, m *models.Model, seqs []models.Seq, p models.Precision)
}

// Full is the baseline: every token of every layer kept at the KV format.
type Full struct{}

func (Full) String() string { return "full" }

// StoredBytes of the full cache honours sliding-window layers and adds the
// constant state of recurrent layers (models.Model.KVBytes).
func (Full) StoredBytes(m *models.Model, tokens int, kv dtype.DType) float64 {
	return m.KVBytes(tokens, kv)
}

// Rewrite leaves the graph as built.
func (Full) Rewrite(*models.Graph, *models.Model, []models.Seq, models.Precision) {}
