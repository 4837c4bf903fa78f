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

// ComputeFraction is the achieved fraction of peak compute for an op of the
// given class doing flops operations.
func (e Efficiency) ComputeFraction(class string, flops float64) float64 {
	if c, ok := e.Compute[class]; ok {
		return c.At(flops)
	}
	if c, ok := e.Compute["default"]; ok {
		return c.At(flops)
	}
	return 1
}

// MemoryFraction is the achieved fraction of peak memory bandwidth for a
// kernel that moves the given number of bytes.
func (e Efficiency) MemoryFraction(bytes float64) float64 { return e.Memory.At(bytes) }
