package sweep_test

import (
	"context"
	"fmt"
	"math"
	"os"

	"github.com/llmsim/llmsim/sweep"
)

func ExampleParseValues() {
	batch, _ := sweep.ParseValues("batch", sweep.Int, "1,8,64")
	context, _ := sweep.ParseValues("context", sweep.Int, "1k..8k:x2")
	prompt, _ := sweep.ParseValues("prompt", sweep.Int, "128..512:+128")
	schemes, _ := sweep.ParseValues("kv-scheme", sweep.String, "full,h2o:heavy=0.1,recent=0.1")
	_, err := sweep.ParseValues("batch", sweep.Int, "64..8")
	fmt.Println(batch, context, prompt, len(schemes))
	fmt.Println(err)
	// Output:
	// [1 8 64] [1024 2048 4096 8192] [128 256 384 512] 2
	// --batch: "64..8": reversed range: 64 > 8
}

func ExamplePareto() {
	// Latency (minimise) and throughput (maximise) of four configurations:
	// the third is slower and has less throughput than the second.
	points := [][]float64{{0.010, 100}, {0.020, 900}, {0.030, 800}, {0.040, 1000}}
	fmt.Println(sweep.Pareto(points, []bool{true, false}))
	// Output: [true true false true]
}

// A mode of one's own: any evaluator over any parameters gets the
// parallel, ordered, resumable runner. (EstimateMode is the analytic one.)
func ExampleRun() {
	mode := &sweep.Mode{
		Name:    "power",
		Params:  []sweep.Param{{Name: "base", Kind: sweep.Int, Column: true}, {Name: "exp", Kind: sweep.Int, Column: true}},
		Metrics: []string{"value"},
		Prepare: func(*sweep.Space) (func() sweep.Evaluator, error) {
			return func() sweep.Evaluator { return power{} }, nil
		},
	}
	space, _ := sweep.NewSpace(mode.Params, map[string][]string{"base": {"2", "3"}, "exp": {"1", "2", "3"}})
	st, _ := sweep.Run(context.Background(), mode, space, os.Stdout, sweep.Options{Format: sweep.CSV, Header: true, Workers: 2})
	fmt.Println(st.Evaluated, "points")
	// Output:
	// index,key,base,exp,value,error
	// 0,base=2;exp=1,2,1,2,
	// 1,base=2;exp=2,2,2,4,
	// 2,base=2;exp=3,2,3,8,
	// 3,base=3;exp=1,3,1,3,
	// 4,base=3;exp=2,3,2,9,
	// 5,base=3;exp=3,3,3,27,
	// 6 points
}

type power struct{}

func (power) Eval(s *sweep.Space, idx []int, out []sweep.Value) error {
	out[0] = sweep.Number(math.Pow(s.Num(0, idx), s.Num(1, idx)))
	return nil
}
