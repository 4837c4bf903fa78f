package workloads_test

import (
	"fmt"
	"log"

	"github.com/llmsim/llmsim/workloads"
)

// A Poisson stream of chat requests, built from command-line spec strings.
func ExampleNew() {
	arrival, err := workloads.ParseArrival("poisson:rate=2")
	if err != nil {
		log.Fatal(err)
	}
	src, err := workloads.New(workloads.Spec{Arrival: arrival, Preset: "chat", NumRequests: 3}, 42)
	if err != nil {
		log.Fatal(err)
	}
	for {
		r, ok := src.Next()
		if !ok {
			break
		}
		fmt.Printf("request %d at %.3f s: %d prompt, %d output tokens\n",
			r.ID, float64(r.ArrivalNanos)/1e9, r.PromptTokens, r.OutputTokens)
	}
	// Output:
	// request 0 at 0.000 s: 243 prompt, 48 output tokens
	// request 1 at 0.149 s: 41 prompt, 588 output tokens
	// request 2 at 1.252 s: 73 prompt, 247 output tokens
}

// A closed loop: two clients, so a third request waits for a completion.
func ExampleNew_closedLoop() {
	src, err := workloads.New(workloads.Spec{
		Arrival: workloads.ClosedLoop{Clients: 2, ThinkSeconds: 0.5},
		Prompt:  workloads.Fixed{Tokens: 512},
		Output:  workloads.Fixed{Tokens: 128},
	}, 1)
	if err != nil {
		log.Fatal(err)
	}
	a, _ := src.Next()
	b, _ := src.Next()
	_, ok := src.Next()
	fmt.Println("requests", a.ID, b.ID, "issued; a third?", ok)

	src.(workloads.Completer).Complete(b.ID, 2_000_000_000) // b finishes at 2 s
	c, _ := src.Next()
	fmt.Printf("request %d arrives at %.1f s\n", c.ID, float64(c.ArrivalNanos)/1e9)
	// Output:
	// requests 0 1 issued; a third? false
	// request 2 arrives at 2.5 s
}

func ExampleParseLength() {
	for _, spec := range []string{"512", "uniform:128..1024", "lognormal:mean=512,std=256,max=4096"} {
		l, err := workloads.ParseLength(spec)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-38s mean %.1f tokens\n", spec, l.Mean())
	}
	_, err := workloads.ParseLength("normal:mean=512,std=-1")
	fmt.Println(err)
	// Output:
	// 512                                    mean 512.0 tokens
	// uniform:128..1024                      mean 576.0 tokens
	// lognormal:mean=512,std=256,max=4096    mean 512.0 tokens
	// length "normal:mean=512,std=-1": std: must be in [0, 1073741824] tokens, got -1
}
