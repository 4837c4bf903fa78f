// Package roofline prices the ops of a models.Graph on an hw.Device: the time
// of one op is the larger of its compute time and its memory time, each at the
// device's calibrated efficiency for a problem of that size, plus the
// device's fixed per-kernel overhead. A step adds the per-step overhead.
//
// Everything here is a pure function of its inputs: no state, no I/O. The
// analytic estimate and the event simulator both price work through this
// package, so a single request costs the same in both.
package roofline
