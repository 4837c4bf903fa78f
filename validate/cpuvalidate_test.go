package validate

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/llmsim/llmsim/validate/engine"
)

func TestKeepBestKeepsTheFastestRunWithItsOps(t *testing.T) {
	var s EngineStep
	for _, ms := range []int{30, 10, 20} {
		keepBest(&s, engine.Timing{Step: time.Duration(ms) * time.Millisecond, Ops: map[string]time.Duration{"qkv": time.Duration(ms) * time.Millisecond}})
	}
	if s.Seconds != 0.010 || s.Ops["qkv"] != 0.010 || s.SecondSeconds != 0.020 {
		t.Errorf("best %v (qkv %v), second %v; want 0.010, 0.010, 0.020", s.Seconds, s.Ops["qkv"], s.SecondSeconds)
	}
	if math.Abs(s.Spread()-1) > 1e-12 {
		t.Errorf("spread = %v, want 1 (20 ms vs 10 ms)", s.Spread())
	}
}

func TestThreadCPUSecondsAdvances(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0, ok := threadCPUSeconds()
	if !ok {
		t.Skip("no thread CPU clock on this system")
	}
	x := 0.0
	for i := 0; i < 20_000_000; i++ {
		x += float64(i)
	}
	c1, _ := threadCPUSeconds()
	if c1 <= c0 || x == 0 {
		t.Errorf("thread CPU time went from %v to %v over a busy loop", c0, c1)
	}
}
