package roofline

import "testing"

func TestLargestFitting(t *testing.T) {
	for _, c := range []struct{ boundary, limit, want int }{
		{0, 100, 0}, {1, 100, 1}, {37, 100, 37}, {64, 100, 64}, {65, 100, 65},
		{100, 100, 100}, {1000, 100, 100}, {99, 100, 99}, {5, 5, 5}, {3, 0, 0},
	} {
		calls := 0
		got := LargestFitting(c.limit, func(n int) bool { calls++; return n <= c.boundary })
		if got != c.want {
			t.Errorf("boundary %d, limit %d: got %d, want %d", c.boundary, c.limit, got, c.want)
		}
		if calls > 20 {
			t.Errorf("boundary %d: %d calls", c.boundary, calls)
		}
	}
}
