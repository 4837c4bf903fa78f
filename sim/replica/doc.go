// Package replica simulates one model replica of a serving engine: a
// scheduler that forms each iteration's batch (continuous batching with
// optional chunked prefill, or static batching), a paged or contiguous KV
// cache with preemption by recompute or swap, and an executor that prices
// each iteration with roofline.StepSeconds on the iteration's models.Graph
// (or, under an offloading scheme, with the scheme's task graph for the
// step: offload.Target.StepSeconds) plus the engine profile's
// per-iteration overhead. The cache holds attention K/V in blocks and each
// running sequence's recurrent state (reserved at admission), and lives
// where an offloading scheme keeps it.
//
// A Replica does not own the event loop: it schedules its own events on a
// shared sim.Queue and the caller (sim/cluster) hands them back through
// HandleEvent. Everything it learns about requests — tokens, completions,
// hand-offs — goes out through a Sink.
package replica
