package validate

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// busyShare is the share of CPU time other processes may use while the
// runner still counts the machine as idle.
const busyShare = 0.1

// waitIdle returns once the CPU has been idle (under busyShare busy) for
// one 50 ms window, or after maxWait. On a shared machine it keeps a
// measurement from starting inside another process's burst; where
// /proc/stat cannot be read it returns at once.
func waitIdle(maxWait time.Duration) {
	if maxWait <= 0 {
		return
	}
	deadline := time.Now().Add(maxWait)
	busy0, total0, ok := cpuTimes()
	for ok && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		busy1, total1, ok1 := cpuTimes()
		if !ok1 {
			return
		}
		if total1 > total0 && float64(busy1-busy0) < busyShare*float64(total1-total0) {
			return
		}
		busy0, total0 = busy1, total1
	}
}

// cpuTimes reads the busy and total jiffies of all CPUs from /proc/stat.
func cpuTimes() (busy, total uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, true
}
