package replica

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/sim"
)

// hostPair makes n replicas of c on one shared host, enqueues reqs[i] on
// replica i at its arrival and runs them to the end; each replica has its
// own recorder.
func hostPair(t *testing.T, c *Config, reqs []*Request) ([]*Replica, []*recorder) {
	t.Helper()
	var q sim.Queue
	h := NewHost()
	reps := make([]*Replica, len(reqs))
	recs := make([]*recorder, len(reqs))
	for i := range reqs {
		recs[i] = &recorder{}
		r, err := New(int32(i), c, &q, recs[i])
		if err != nil {
			t.Fatal(err)
		}
		reps[i] = r
		h.Join(r)
	}
	const arrival sim.Kind = KindLast
	for i, rq := range reqs {
		q.Push(rq.ArrivalNanos, arrival, int32(i), int64(i))
	}
	for {
		e, ok := q.Pop()
		if !ok {
			break
		}
		if e.Kind == arrival {
			reps[e.Target].Enqueue(reqs[e.Arg], e.AtNanos)
			continue
		}
		reps[e.Target].HandleEvent(e)
	}
	for _, r := range reps {
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return reps, recs
}

// cpuAttention is FlexGen with the weights on the GPU and the KV cache and
// its attention on the host CPU: decode steps keep the host busy.
func cpuAttention(t *testing.T, share int) Config {
	return offloadCfg(t, "h200-node", "llama3-8b", "flexgen:w=100/0/0,c=0/100/0,a=100/0/0,cpuattn=1", func(c *Config) {
		c.HostShare = share
		c.MaxModelLen, c.Scheduler.MaxBatchedTokens = 8192, 8192
	})
}

// Two replicas on one host serve one identical request each, arriving
// together: every iteration of one overlaps the same iteration of the
// other, so each decode step runs with the host's groups divided by
// 1 + u (the other's busy fraction, rounded up to a quarter) — priced by
// hand here on hw.System.SharedHost — and takes longer than on a host of
// its own. A request alone on the shared host runs exactly as on an
// unshared one: only capacity, power and rent are split.
func TestHostShareDividesTheHost(t *testing.T) {
	c := cpuAttention(t, 2)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	cpu := c.hostSystem.HostGroup().Name
	if got, want := c.System.HostGroup().Device.MainMemory().CapacityBytes, c.hostSystem.HostGroup().Device.MainMemory().CapacityBytes/2; got != want {
		t.Fatalf("split host memory %g, want %g", got, want)
	}
	const prompt, output = 4000, 4
	reps, recs := hostPair(t, &c, []*Request{req(1, 0, prompt, output), req(2, 0, prompt, output)})
	if len(recs[0].ends) != output || len(recs[1].ends) != output {
		t.Fatalf("iterations %d and %d, want %d each", len(recs[0].ends), len(recs[1].ends), output)
	}
	for i := range recs[0].ends {
		if recs[0].starts[i] != recs[1].starts[i] || recs[0].ends[i] != recs[1].ends[i] {
			t.Fatalf("iteration %d: replicas ran [%d, %d] and [%d, %d], want the same", i, recs[0].starts[i], recs[0].ends[i], recs[1].starts[i], recs[1].ends[i])
		}
	}
	// The first decode step: one sequence after the prompt and its first token.
	seqs := []models.Seq{{Cached: prompt, New: 1}}
	alone := reps[0].exec.Price(seqs)
	u := alone.HostBusySeconds[cpu] / alone.Seconds()
	if u <= 0.05 {
		t.Fatalf("host busy fraction %.3f of a CPU-attention decode step: want the host in use", u)
	}
	share := math.Ceil(4*(1+u)-1e-9) / 4
	sc := c
	sc.System = c.hostSystem.SharedHost(2, map[string]float64{cpu: share})
	want := NewExecutor(&sc).Price(seqs).Seconds()
	got := float64(recs[0].ends[1]-recs[0].starts[1]) / 1e9
	if math.Abs(got-want) > 2e-9 {
		t.Errorf("shared decode step %.9f s, want %.9f s (u = %.3f, share %.2f)", got, want, u, share)
	}
	if got <= alone.Seconds() {
		t.Errorf("shared decode step %.6f s is not slower than alone (%.6f s)", got, alone.Seconds())
	}
	t.Logf("decode step: alone %.3f ms, two on one host %.3f ms (host busy %.0f%%, share %.2f)", 1e3*alone.Seconds(), 1e3*got, 100*u, share)

	// Alone on the shared host: the same iterations as a replica with a host of its own.
	solo := cpuAttention(t, 1)
	_, own := drive(t, &solo, []*Request{req(1, 0, prompt, 64)})
	_, recsAlone := hostPair(t, &c, []*Request{req(1, 0, prompt, 64), req(2, math.MaxInt64/4, prompt, output)})
	for i := range own.ends {
		if own.ends[i] != recsAlone[0].ends[i] || own.starts[i] != recsAlone[0].starts[i] {
			t.Fatalf("iteration %d alone on a shared host [%d, %d], on its own [%d, %d]", i, recsAlone[0].starts[i], recsAlone[0].ends[i], own.starts[i], own.ends[i])
		}
	}
}

// Staggered arrivals: the second request arrives while the first
// prefills (60 ms into its 88 ms); both finish, every token is sampled
// once, busy time is the iterations' spans, and the first request's decode
// steps, which all overlap the second's, run longer than alone.
func TestHostShareStaggered(t *testing.T) {
	c := cpuAttention(t, 2)
	const output = 6
	reps, recs := hostPair(t, &c, []*Request{req(1, 0, 3000, output), req(2, 60_000_000, 1000, output)})
	for k := 1; k < output-1; k++ {
		alone := reps[0].exec.Price([]models.Seq{{Cached: 3000 + k - 1, New: 1}}).Seconds()
		if got := float64(recs[0].ends[k]-recs[0].starts[k]) / 1e9; got <= alone {
			t.Errorf("decode step %d overlapping the other replica's: %.6f s, alone %.6f s", k, got, alone)
		}
	}
	for i, rec := range recs {
		if len(rec.finished) != 1 || rec.tokens != output {
			t.Errorf("replica %d: %d finished, %d tokens; want 1 and %d", i, len(rec.finished), rec.tokens, output)
		}
		for k := range rec.ends {
			if rec.ends[k] <= rec.starts[k] || (k > 0 && rec.starts[k] < rec.ends[k-1]) {
				t.Errorf("replica %d iteration %d: [%d, %d] after an end at %d", i, k, rec.starts[k], rec.ends[k], rec.ends[max(k-1, 0)])
			}
		}
		if reps[i].Stats().BusyNanos != sumSpans(rec) {
			t.Errorf("replica %d: busy %d ns, iterations span %d", i, reps[i].Stats().BusyNanos, sumSpans(rec))
		}
	}
}

func sumSpans(rec *recorder) int64 {
	var s int64
	for k := range rec.ends {
		s += rec.ends[k] - rec.starts[k]
	}
	return s
}

func TestHostShareNeedsOffload(t *testing.T) {
	c := config(t, "h200-node", "llama3-8b", "device", nil)
	c.HostShare = 2
	if err := c.Validate(); err == nil {
		t.Error("host share without an offloading scheme validated")
	}
}
