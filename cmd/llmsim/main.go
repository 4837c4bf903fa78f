// Command llmsim estimates latency, throughput, memory, energy and cost of
// LLM inference on described hardware, and simulates serving.
//
// Usage: llmsim COMMAND [flags]; llmsim COMMAND --help explains each command
// and every field of its output.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// command is one subcommand. run gets the arguments after the command name
// and writes results to stdout; errors go back to main, which prints them and
// exits non-zero.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

// commands is filled by init functions of the per-command files.
var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary: summary, run: run}
}

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// runMain is main without the process exit, for tests.
func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "llmsim: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:], stdout, stderr); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "llmsim %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "llmsim — LLM inference performance simulator")
	fmt.Fprintln(w, "\nUsage: llmsim COMMAND [flags]   (llmsim COMMAND --help for details)\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nExample:\n  llmsim estimate --hw h100-sxm --model llama3-8b --phase decode --batch 32 --context 4096")
}

// newFlags makes a flag set whose --help prints the command's long help,
// which explains every output field.
func newFlags(name, help string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n%s", strings.TrimSpace(help), fs.FlagUsages())
	}
	return fs
}
