// Package cluster runs a serving deployment: pools of replicas behind a
// router, fed by a workloads.Source, optionally split into prefill and
// decode pools (Splitwise, DistServe) that hand KV caches over a modelled
// link. It owns the event loop and turns what happens into a Result:
// latency distributions, throughput, goodput, utilisation, energy and
// cost, in memory that does not grow with the number of requests.
package cluster
