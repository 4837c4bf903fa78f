// Package workloads makes the requests that drive the simulator: when each
// arrives, how many prompt tokens it reads and output tokens it writes, and
// which prefix it shares with others.
//
// A workload is a Spec: an arrival process, prompt and output length
// distributions (or a preset supplying them), optional shared prefixes, and
// a request count; or a recorded trace to replay. New turns a Spec and a
// seed into a Source, which the simulator pulls one request at a time, so
// a million requests never sit in memory at once.
//
// Arrivals are open-loop processes (Poisson, Gamma with a chosen burstiness,
// Constant) or a ClosedLoop of clients that each wait for their previous
// request. A closed-loop source also implements Completer: the simulator
// reports each finished request with Complete, and the freed client's next
// request becomes available from Next.
//
// Lengths are Fixed, Uniform, Normal, LogNormal or Empirical (a histogram
// from a CSV file). Presets (chat, summarization, reasoning, rag) carry
// published statistics where they exist and say which numbers are assumed.
//
// Each distribution and process has a spec string for the command line,
// read by ParseArrival, ParseLength, ParsePrefix and ParsePreset; its
// String method writes it back. docs/WORKLOADS.md gives the grammar, the
// presets' sources and the trace formats.
//
// Everything is deterministic: the same Spec and seed give the same
// requests. Arrivals, prompt lengths, output lengths and prefix choices
// draw from separate PCG streams derived from the seed, so changing one
// distribution in a sweep leaves the others' draws unchanged.
package workloads
