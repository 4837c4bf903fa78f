// Package reproduce checks the simulator against the headline numbers of
// the papers it models. A scenario (configs/scenarios/NAME.toml) sets up a
// paper's model, hardware, baseline and scheme, names a metric — a memory
// ratio, a speedup, a throughput ratio or drop, the largest context or
// batch that fits — and states the claim with its tolerance; Run prices
// both configurations with the same op costs as `llmsim estimate` and
// reports the simulated value, its relative error and whether it passes.
package reproduce
