package main

import "io"

// runReproduceOffload keeps "llmsim offload reproduce" as an alias of
// "llmsim reproduce --kind offload": the same rows, fields and exit status.
func runReproduceOffload(args []string, stdout, stderr io.Writer) error {
	return runReproduce(append([]string{"--kind", "offload"}, args...), stdout, stderr)
}
