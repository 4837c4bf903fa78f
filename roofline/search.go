package roofline

// LargestFitting is the largest n in [1, limit] with fits(n), for fits true
// up to some n and false beyond (memory that grows with a batch or a
// context): 0 when fits(1) is false, limit when fits(limit) holds. It
// doubles to bracket the boundary and bisects, so it calls fits about
// 2·log2(n) times.
func LargestFitting(limit int, fits func(int) bool) int {
	if limit < 1 || !fits(1) {
		return 0
	}
	lo, hi := 1, 2
	for hi <= limit && fits(hi) {
		lo, hi = hi, hi*2
	}
	if hi > limit {
		if fits(limit) {
			return limit
		}
		hi = limit
	}
	for lo+1 < hi {
		mid := lo + (hi-lo)/2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
