package sweep

import (
	"fmt"
	"sync"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
)

// Target is a resolved costing setup: what `llmsim estimate` builds from
// its --hw, --model, dtype and --kv-scheme flags.
type Target struct {
	System *hw.System
	Device *hw.Device // the device that runs the model
	Model  *models.Model
	Prec   models.Precision
	Opts   models.Options
	KV     kvcache.Scheme
}

// Build fills g with one step over seqs: the model graph rewritten by the
// KV-cache scheme (the cost path of estimate and simulate).
func (t *Target) Build(g *models.Graph, seqs []models.Seq) {
	t.Model.GraphInto(g, seqs, t.Prec, t.Opts)
	t.KV.Rewrite(g, t.Model, seqs, t.Prec)
}

// KVBytes is the KV cache of batch sequences of tokens tokens each.
func (t *Target) KVBytes(batch, tokens int) float64 {
	return float64(batch) * t.KV.StoredBytes(t.Model, tokens, t.Prec.KV)
}

// Loader memoises hardware and model descriptions by name, so a sweep
// loads each once. It is safe for concurrent use.
type Loader struct {
	// System loads an --hw value; nil means hw.Load. DSE plugs its
	// hardware variants in here.
	System func(name string) (*hw.System, error)

	mu      sync.Mutex
	systems map[string]loaded[*hw.System]
	models  map[string]loaded[*models.Model]
}

type loaded[T any] struct {
	v   T
	err error
}

// Hardware loads (once) the system named by an --hw value.
func (l *Loader) Hardware(name string) (*hw.System, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.systems[name]; ok {
		return r.v, r.err
	}
	load := l.System
	if load == nil {
		load = hw.Load
	}
	s, err := load(name)
	if l.systems == nil {
		l.systems = map[string]loaded[*hw.System]{}
	}
	l.systems[name] = loaded[*hw.System]{s, err}
	return s, err
}

// Model loads (once) the model named by a --model value.
func (l *Loader) Model(name string) (*models.Model, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.models[name]; ok {
		return r.v, r.err
	}
	m, err := models.Load(name)
	if l.models == nil {
		l.models = map[string]loaded[*models.Model]{}
	}
	l.models[name] = loaded[*models.Model]{m, err}
	return m, err
}

// TargetSpec names a target by its flag values.
type TargetSpec struct {
	HW, Model                string
	Weights, Activations, KV string // --dtype, --act-dtype, --kv-dtype
	KVScheme                 string
	EagerAttention           bool
	ConcatKVCache            bool // --concat-kv-cache
}

// Resolve loads and checks a target; errors name the flag.
func (l *Loader) Resolve(s TargetSpec) (*Target, error) {
	sys, err := l.Hardware(s.HW)
	if err != nil {
		return nil, fmt.Errorf("--hw: %w", err)
	}
	m, err := l.Model(s.Model)
	if err != nil {
		return nil, fmt.Errorf("--model: %w", err)
	}
	prec, err := ParsePrecision(s.Weights, s.Activations, s.KV)
	if err != nil {
		return nil, err
	}
	scheme, err := kvcache.Parse(s.KVScheme)
	if err != nil {
		return nil, fmt.Errorf("--kv-scheme: %w", err)
	}
	return &Target{
		System: sys, Device: sys.Primary().Device, Model: m, Prec: prec,
		Opts: models.Options{MaterialisedAttention: s.EagerAttention, ConcatKVCache: s.ConcatKVCache}, KV: scheme,
	}, nil
}

// ParsePrecision reads the three dtype flags as `llmsim estimate` does:
// activations default to the weight format when it has 8 bits or more and
// to bf16 otherwise; the KV cache defaults to the activation format.
func ParsePrecision(weights, activations, kv string) (models.Precision, error) {
	var p models.Precision
	var err error
	if p.Weights, err = dtype.Parse(weights); err != nil {
		return p, fmt.Errorf("--dtype: %w", err)
	}
	switch {
	case activations != "":
		if p.Activations, err = dtype.Parse(activations); err != nil {
			return p, fmt.Errorf("--act-dtype: %w", err)
		}
	case p.Weights.Bits() >= 8:
		p.Activations = p.Weights
	default:
		p.Activations = dtype.BF16
	}
	if p.Activations.Bits() < 8 {
		return p, fmt.Errorf("--act-dtype: %s activations are not supported (use 8 bits or more)", p.Activations)
	}
	p.KV = p.Activations
	if kv != "" {
		if p.KV, err = dtype.Parse(kv); err != nil {
			return p, fmt.Errorf("--kv-dtype: %w", err)
		}
	}
	return p, nil
}
