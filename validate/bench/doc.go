// Package bench measures the host that llmsim is calibrated on: memory
// read, copy and triad bandwidth beyond the last-level cache for every
// thread count, and the throughput of the CPU engine's GEMM and GEMV kernels
// (package validate/engine) over shapes and weight formats, with gonum's
// Sgemm as an outside reference point.
//
// Run returns plain Result values; a calibration fit (llmsim calibrate host)
// turns them into the host's memory bandwidth, compute ceiling and
// efficiency-versus-shape curves. Each number is the best of a few
// repetitions, which on a shared machine is the closest to what the
// hardware can do.
package bench
