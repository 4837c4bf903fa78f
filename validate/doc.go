// Package validate checks llmsim against what really runs: it fits a device
// description's efficiency curves and overheads to timed kernels, and
// compares predictions with measured datasets (the CPU engine of
// validate/engine on this machine, committed GPU measurements, published
// tables), reporting MAPE and worst error with calibration and validation
// points kept apart.
package validate
