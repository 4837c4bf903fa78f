package sim_test

import (
	"fmt"

	"github.com/llmsim/llmsim/sim"
)

// Events at the same time run in the order they were pushed.
func ExampleQueue() {
	var q sim.Queue
	q.Push(2_000, 0, 0, 1)
	q.Push(1_000, 0, 0, 2)
	q.Push(2_000, 0, 0, 3)
	for q.Len() > 0 {
		e, _ := q.Pop()
		fmt.Println(e.AtNanos, e.Arg)
	}
	// Output:
	// 1000 2
	// 2000 1
	// 2000 3
}
