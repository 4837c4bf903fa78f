// Package sweep runs llmsim over many configurations: the cartesian product
// of parameter values (Space), evaluated in parallel by a pool of workers
// (Run) into CSV or JSON Lines files that are deterministic, resumable and
// splittable into shards (Shard) that Merge joins again. It also holds the
// searches built on it: hardware design-space exploration (DSE, Pareto
// fronts) and deployment planning (Plan).
//
// A parameter is named like the command-line flag that sets it for a single
// run (--hw, --batch, --context, --rate, ...); its values come as a comma
// list or a range (ParseValues). A mode (estimate, simulate) says which
// parameters exist and how one point is evaluated; estimate points are
// priced here directly through roofline, models, hw and kvcache, with loaded
// descriptions shared and graph buffers reused, so a worker does not
// allocate per point.
package sweep
