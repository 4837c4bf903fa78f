package kvcache

import "strconv"

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
func fmtInt(n int) string       { return strconv.Itoa(n) }
