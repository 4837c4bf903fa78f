package validate

import (
	"bufio"
	"os"
	"strings"
)

// IsPublished reports whether path is a published-figures CSV (its header
// has a metric column) rather than a steps.csv.
func IsPublished(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	for _, c := range strings.Split(strings.TrimSpace(line), ",") {
		if c == "metric" {
			return true
		}
	}
	return false
}
