//go:build !linux

package validate

// threadCPUSeconds is not available here; steps are timed by the wall clock.
func threadCPUSeconds() (float64, bool) { return 0, false }
