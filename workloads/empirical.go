package workloads

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// Empirical draws lengths from a histogram: each token count with
// probability proportional to its weight.
type Empirical struct {
	tokens     []int
	cumWeights []float64 // cumWeights[i] = weights[0] + … + weights[i]
	last       int       // index of the last bin with positive weight
	name       string    // spec text, "csv:path", when loaded from a file
}

// NewEmpirical returns the histogram with the given token counts and
// weights (or counts). Weights need not sum to 1; zero weights are allowed
// as long as one is positive.
func NewEmpirical(tokens []int, weights []float64) (*Empirical, error) {
	if len(tokens) != len(weights) {
		return nil, fmt.Errorf("histogram: %d token counts but %d weights", len(tokens), len(weights))
	}
	e := &Empirical{tokens: make([]int, len(tokens)), cumWeights: make([]float64, len(tokens)), last: -1}
	total := 0.0
	for i, t := range tokens {
		if err := checkTokens("tokens", t); err != nil {
			return nil, fmt.Errorf("histogram bin %d: %w", i, err)
		}
		if err := checkWeight(weights[i]); err != nil {
			return nil, fmt.Errorf("histogram bin %d: %w", i, err)
		}
		total += weights[i]
		e.tokens[i], e.cumWeights[i] = t, total
		if weights[i] > 0 {
			e.last = i
		}
	}
	if e.last < 0 || math.IsInf(total, 0) {
		return nil, errors.New("histogram: weights must have a positive, finite sum")
	}
	return e, nil
}

// LoadHistogram reads a histogram from a CSV file of token counts and
// weights: columns tokens,weight or tokens,count, with an optional header
// naming them (in either order); lines starting with # are comments.
func LoadHistogram(path string) (*Empirical, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	defer f.Close()
	e, err := ReadHistogram(f, path)
	if err != nil {
		return nil, err
	}
	e.name = "csv:" + path
	return e, nil
}

// ReadHistogram reads a histogram in LoadHistogram's format; name is used
// in errors.
func ReadHistogram(r io.Reader, name string) (*Empirical, error) {
	cr := newCSVReader(r)
	tokensCol, weightCol := 0, 1
	var tokens []int
	var weights []float64
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if first && isHeader(rec) {
			if tokensCol, weightCol, err = histogramHeader(rec); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, line, err)
			}
			continue
		}
		if len(rec) != 2 {
			return nil, fmt.Errorf("%s:%d: want 2 fields (tokens, weight), got %d", name, line, len(rec))
		}
		t, err := parseTokens(rec[tokensCol])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: tokens: %w", name, line, err)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(rec[weightCol]), 64)
		if err == nil {
			err = checkWeight(w)
		} else {
			err = fmt.Errorf("want a number, got %q", rec[weightCol])
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: weight: %w", name, line, err)
		}
		tokens, weights = append(tokens, t), append(weights, w)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%s: histogram has no rows", name)
	}
	e, err := NewEmpirical(tokens, weights)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return e, nil
}

func histogramHeader(rec []string) (tokensCol, weightCol int, err error) {
	tokensCol, weightCol = -1, -1
	for i, field := range rec {
		switch strings.ToLower(strings.TrimSpace(field)) {
		case "tokens":
			tokensCol = i
		case "weight", "count":
			weightCol = i
		default:
			return 0, 0, fmt.Errorf("header: unknown column %q (want tokens and weight or count)", field)
		}
	}
	if len(rec) != 2 || tokensCol < 0 || weightCol < 0 {
		return 0, 0, fmt.Errorf("header: want columns tokens and weight (or count), got %q", strings.Join(rec, ","))
	}
	return tokensCol, weightCol, nil
}

// Sample draws a bin with probability proportional to its weight.
func (e *Empirical) Sample(r *rand.Rand) int {
	u := r.Float64() * e.cumWeights[len(e.cumWeights)-1]
	lo, hi := 0, e.last // find the first bin whose cumulative weight exceeds u
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if e.cumWeights[mid] > u {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return e.tokens[lo]
}

// Mean is the weighted mean of the token counts.
func (e *Empirical) Mean() float64 {
	sum, prev := 0.0, 0.0
	for i, t := range e.tokens {
		sum += float64(t) * (e.cumWeights[i] - prev)
		prev = e.cumWeights[i]
	}
	return sum / prev
}

// String is "csv:path" for a loaded file.
func (e *Empirical) String() string {
	if e.name != "" {
		return e.name
	}
	return fmt.Sprintf("empirical:%d-bins", len(e.tokens))
}

func checkWeight(w float64) error {
	if !(w >= 0) || math.IsInf(w, 0) {
		return fmt.Errorf("must be a finite number ≥ 0, got %g", w)
	}
	return nil
}

// newCSVReader reads comma-separated records with # comments, tolerating
// blank space after commas and a varying number of fields (checked by the
// caller, which can name the line).
func newCSVReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	return cr
}

// csvError names the file in an encoding/csv error, which carries the line.
func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %w", name, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// isHeader reports whether a first record is a header: its first field is
// not a number.
func isHeader(rec []string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(rec[0]), 64)
	return err != nil
}

// parseTokens reads a whole token count in [1, 2³⁰].
func parseTokens(field string) (int, error) {
	t, err := strconv.Atoi(strings.TrimSpace(field))
	if err != nil {
		return 0, fmt.Errorf("want a whole number of tokens, got %q", field)
	}
	if err := checkTokens("tokens", t); err != nil {
		return 0, fmt.Errorf("must be in [1, %d], got %d", maxTokens, t)
	}
	return t, nil
}
