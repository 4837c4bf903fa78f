package sweep

import "sort"

// Pareto marks the points that no other point dominates. points[i][k] is
// objective k of point i; minimize[k] says its direction. A point dominates
// another when it is at least as good in every objective and better in
// one; equal points do not dominate each other, so duplicates stay on the
// front together. NaN objectives never make the front.
func Pareto(points [][]float64, minimize []bool) []bool {
	n := len(points)
	front := make([]bool, n)
	// Sorting by the first objective lets a point be compared only with
	// those before it (they are at least as good in that objective).
	order := make([]int, 0, n)
	for i, p := range points {
		if valid(p) {
			order = append(order, i)
		}
	}
	better := func(a, b float64, k int) bool {
		if minimize[k] {
			return a < b
		}
		return a > b
	}
	sort.SliceStable(order, func(x, y int) bool {
		a, b := points[order[x]], points[order[y]]
		for k := range a {
			if a[k] != b[k] {
				return better(a[k], b[k], k)
			}
		}
		return false
	})
	var kept []int
	for _, i := range order {
		dominated := false
		for _, j := range kept {
			if dominates(points[j], points[i], better) {
				dominated = true
				break
			}
		}
		if !dominated {
			front[i] = true
			kept = append(kept, i)
		}
	}
	return front
}

func valid(p []float64) bool {
	for _, v := range p {
		if v != v {
			return false
		}
	}
	return true
}

func dominates(a, b []float64, better func(a, b float64, k int) bool) bool {
	strict := false
	for k := range a {
		if better(b[k], a[k], k) {
			return false
		}
		if better(a[k], b[k], k) {
			strict = true
		}
	}
	return strict
}
