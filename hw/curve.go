package hw

import "math"

// At returns the curve's fraction at size x: log-linear interpolation between
// points, clamped at the ends, 1 for an empty curve. Sizes <= 0 take the first
// point.
func (c Curve) At(x float64) float64 {
	p := c.Points
	switch {
	case len(p) == 0:
		return 1
	case x <= p[0][0]:
		return p[0][1]
	case x >= p[len(p)-1][0]:
		return p[len(p)-1][1]
	}
	i := 1
	for p[i][0] < x {
		i++
	}
	x0, x1 := math.Log(p[i-1][0]), math.Log(p[i][0])
	f := (math.Log(x) - x0) / (x1 - x0)
	return p[i-1][1] + f*(p[i][1]-p[i-1][1])
}

// ComputeFraction is the achieved fraction of peak compute for an op doing
// flops operations. classes are tried in order (the op's own kind, then its
// general class); then "default"; then 1.
func (e Efficiency) ComputeFraction(flops float64, classes ...string) float64 {
	for _, c := range classes {
		if curve, ok := e.Compute[c]; ok {
			return curve.At(flops)
		}
	}
	if curve, ok := e.Compute["default"]; ok {
		return curve.At(flops)
	}
	return 1
}

// MemoryFraction is the achieved fraction of peak memory bandwidth for a
// kernel that moves the given number of bytes. classes are tried in order in
// MemoryByClass; then the device-wide Memory curve.
func (e Efficiency) MemoryFraction(bytes float64, classes ...string) float64 {
	for _, c := range classes {
		if curve, ok := e.MemoryByClass[c]; ok {
			return curve.At(bytes)
		}
	}
	return e.Memory.At(bytes)
}

// IntensityFraction is the factor on the compute fraction of an op with
// the given arithmetic intensity (FLOPs per byte): the first of classes
// with a ComputeByIntensity curve decides; 1 when none has one.
func (e Efficiency) IntensityFraction(flopsPerByte float64, classes ...string) float64 {
	for _, c := range classes {
		if curve, ok := e.ComputeByIntensity[c]; ok {
			return curve.At(flopsPerByte)
		}
	}
	return 1
}
