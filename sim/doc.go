// Package sim is the discrete-event core of llmsim: integer-nanosecond
// time, an event queue with deterministic tie-breaking, and resources whose
// contention the serving model (sim/replica, sim/cluster) builds on.
//
// Time is an int64 count of nanoseconds since the start of a run, so event
// order never depends on floating-point rounding. Events at the same time
// run in the order they were scheduled (a sequence number breaks ties), so
// a run is a pure function of its inputs and seed. Nothing here keeps
// global state or reads a clock.
//
// Granularity. A forward step of a replica is one event, priced by
// roofline.StepSeconds on the step's models.Graph — the same cost path as
// `llmsim estimate` — because inside one device the ops of a step run back
// to back and a roofline already accounts for compute/memory overlap within
// an op. Work that overlaps or contends across steps or devices is modelled
// as transfers on Link resources: swapping KV over a host link, KV shipped
// from prefill to decode pools, and anything that shares a link between
// flows. docs/SIMULATOR.md explains the choice.
package sim
