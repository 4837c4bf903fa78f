// Package offload executes offloading schemes and near-data hardware on the
// resources of a system description: weights, KV cache and activations
// placed over GPU, CPU DRAM, disk, flash, computational storage or PIM, and
// each forward step run as a dependency graph of layer-granular tasks —
// loads and stores on links, compute on devices — by an event executor on
// the sim package's integer-nanosecond queue and shared links. Transfers
// overlap compute exactly where a scheme's schedule lets them and contend
// where they share a link.
//
// A scheme is a value parsed from "NAME:key=value,..." (Parse), e.g.
// "flexgen:w=20/80/0,c=0/100/0,a=0/100/0,gbs=48,ngb=3,cpuattn=1"; Run
// prices a Workload (batch, prompt, output) on a Target (system, model,
// precision) and returns latency, throughput, memory per tier, energy and
// cost. Ops are priced by the roofline package, so a step that stays on one
// device costs what `llmsim estimate` says it costs.
//
// Scenarios (configs/scenarios/offload-*.toml) reproduce the papers'
// headline numbers with tolerances and residual-gap notes; see
// docs/OFFLOAD.md.
package offload
