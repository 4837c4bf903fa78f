package replica

import (
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/sim"
	"github.com/llmsim/llmsim/sim/kv"
)

var bf16 = models.Precision{Weights: dtype.BF16, Activations: dtype.BF16, KV: dtype.BF16}

func config(t testing.TB, system, model, profile string, edit func(*Config)) Config {
	t.Helper()
	sys, err := hw.Load(system)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	p, err := LookupProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Model: m, System: sys, Device: sys.Primary().Device, Precision: bf16, Profile: p}
	if edit != nil {
		edit(&c)
	}
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// recorder is a Sink that keeps everything for inspection.
type recorder struct {
	iterations []Iteration
	starts     []int64
	ends       []int64
	finished   []*Request
	tokens     int
}

func (s *recorder) Token(r *Request, now, gap int64) { s.tokens++ }
func (s *recorder) Finished(r *Request, now int64)   { s.finished = append(s.finished, r) }
func (s *recorder) Prefilled(r *Request, now int64)  {}
func (s *recorder) Iteration(_ int32, start, end int64, it *Iteration) {
	c := *it
	c.Cost = nil
	s.iterations = append(s.iterations, c)
	s.starts = append(s.starts, start)
	s.ends = append(s.ends, end)
}

// drive makes a replica, enqueues requests (prompt, output pairs) at
// their arrival times and runs it to the end.
func drive(t testing.TB, c *Config, reqs []*Request) (*Replica, *recorder) {
	t.Helper()
	return driveWith(t, c, reqs, nil)
}

// driveWith is drive with setup applied to the new replica before any
// request arrives (a shrunk cache, say).
func driveWith(t testing.TB, c *Config, reqs []*Request, setup func(*Replica)) (*Replica, *recorder) {
	t.Helper()
	var q sim.Queue
	rec := &recorder{}
	r, err := New(0, c, &q, rec)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(r)
	}
	const arrival sim.Kind = KindLast
	for i, req := range reqs {
		q.Push(req.ArrivalNanos, arrival, 0, int64(i))
	}
	for {
		e, ok := q.Pop()
		if !ok {
			break
		}
		if e.Kind == arrival {
			r.Enqueue(reqs[e.Arg], e.AtNanos)
			continue
		}
		r.HandleEvent(e)
	}
	return r, rec
}

func req(id int64, arrival int64, prompt, output int) *Request {
	return &Request{ID: id, ArrivalNanos: arrival, PromptTokens: prompt, OutputTokens: output}
}

func newTestBlocks(total, tokens int) *kv.Blocks { return kv.NewBlocks(total, tokens) }
