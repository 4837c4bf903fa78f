// Package metrics collects the latency, throughput and utilisation of a
// simulated serving run in constant memory: histograms with fixed
// logarithmic buckets (relative error ≤ 0.4% on any percentile) and running
// sums, so a run of a million requests uses as much memory as a run of ten.
package metrics
