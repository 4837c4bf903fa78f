package sweep

import (
	"fmt"
	"strconv"
	"strings"
)

// Param is one parameter of a mode: a flag of the matching single-run
// command.
type Param struct {
	Name    string // the flag name without dashes
	Kind    Kind
	Default string
	// Column makes the parameter an output column even when nobody sets
	// it; other parameters become columns only when given.
	Column bool
}

// Axis is a parameter with the values a space takes for it.
type Axis struct {
	Param
	Values []string
	Nums   []float64 // Values parsed, for Int, Float and Bool (0 or 1)
	Set    bool      // given by a flag or the sweep file
}

// Space is the cartesian product of its axes. Points are numbered from 0 in
// row-major order: the first axis varies slowest.
type Space struct {
	Axes    []Axis
	columns []int // axes written to the output, in order
	size    int
	index   map[string]int
}

// NewSpace builds the space of params with the given values (parameter name
// → expanded values); parameters not given take their default. An unknown
// name is an error that lists the known ones.
func NewSpace(params []Param, given map[string][]string) (*Space, error) {
	s := &Space{size: 1, index: map[string]int{}}
	for i, p := range params {
		s.index[p.Name] = i
	}
	for name := range given {
		if _, ok := s.index[name]; !ok {
			return nil, fmt.Errorf("unknown parameter %q (known: %s)", name, strings.Join(paramNames(params), ", "))
		}
	}
	for _, p := range params {
		a := Axis{Param: p, Values: []string{p.Default}}
		if v, ok := given[p.Name]; ok {
			if len(v) == 0 {
				return nil, fmt.Errorf("--%s: no values", p.Name)
			}
			a.Values, a.Set = v, true
		}
		if err := a.parse(); err != nil {
			return nil, err
		}
		if a.Column || a.Set {
			s.columns = append(s.columns, len(s.Axes))
		}
		s.Axes = append(s.Axes, a)
		if s.size > maxPoints/len(a.Values) {
			return nil, fmt.Errorf("more than %d points", maxPoints)
		}
		s.size *= len(a.Values)
	}
	return s, nil
}

// maxPoints bounds a space (point indices are ints and shards need a plan).
const maxPoints = 1 << 40

func paramNames(params []Param) []string {
	out := make([]string, len(params))
	for i, p := range params {
		out[i] = p.Name
	}
	return out
}

func (a *Axis) parse() error {
	a.Nums = make([]float64, len(a.Values))
	for i, v := range a.Values {
		switch a.Kind {
		case Int, Float:
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("--%s: %q is not a number", a.Name, v)
			}
			a.Nums[i] = x
		case Bool:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("--%s: %q is not true or false", a.Name, v)
			}
			if b {
				a.Nums[i] = 1
			}
		}
	}
	return nil
}

// Size is the number of points.
func (s *Space) Size() int { return s.size }

// Axis returns the position of the named axis, or -1.
func (s *Space) Axis(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

// Columns lists the parameter names written to the output.
func (s *Space) Columns() []string {
	out := make([]string, len(s.columns))
	for i, c := range s.columns {
		out[i] = s.Axes[c].Name
	}
	return out
}

// Point fills idx (one entry per axis) with the value indices of point i.
func (s *Space) Point(i int, idx []int) {
	for a := len(s.Axes) - 1; a >= 0; a-- {
		n := len(s.Axes[a].Values)
		idx[a] = i % n
		i /= n
	}
}

// AppendKey appends the identity of a point: name=value of every output
// column, joined by ';'. Resume and merge match points by it.
func (s *Space) AppendKey(b []byte, idx []int) []byte {
	for k, c := range s.columns {
		if k > 0 {
			b = append(b, ';')
		}
		a := &s.Axes[c]
		b = append(b, a.Name...)
		b = append(b, '=')
		b = append(b, a.Values[idx[c]]...)
	}
	return b
}

// Value is the value of axis a at point idx.
func (s *Space) Value(a int, idx []int) string { return s.Axes[a].Values[idx[a]] }

// Num is the numeric value of axis a at point idx.
func (s *Space) Num(a int, idx []int) float64 { return s.Axes[a].Nums[idx[a]] }

// Shard is part K (0-based) of N: the points whose index mod N is K.
type Shard struct{ K, N int }

// ParseShard reads "K/N" with 0 ≤ K < N.
func ParseShard(text string) (Shard, error) {
	k, n, ok := strings.Cut(text, "/")
	var sh Shard
	var err1, err2 error
	sh.K, err1 = strconv.Atoi(strings.TrimSpace(k))
	sh.N, err2 = strconv.Atoi(strings.TrimSpace(n))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("--shard %q: want K/N, e.g. 0/8", text)
	}
	if sh.N < 1 || sh.K < 0 || sh.K >= sh.N {
		return Shard{}, fmt.Errorf("--shard %q: want 0 ≤ K < N (shards are numbered from 0, like Slurm array and Kubernetes completion indices)", text)
	}
	return sh, nil
}

// Has reports whether point i belongs to the shard.
func (sh Shard) Has(i int) bool { return sh.N <= 1 || i%sh.N == sh.K }

// Index is the number of the point whose value indices are idx (the
// inverse of Point).
func (s *Space) Index(idx []int) int {
	i := 0
	for a := range s.Axes {
		i = i*len(s.Axes[a].Values) + idx[a]
	}
	return i
}
