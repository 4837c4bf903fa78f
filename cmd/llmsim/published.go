package main

import (
	"fmt"
	"io"
)

func runPublished(path, format string, stdout io.Writer) error {
	return fmt.Errorf("%s: published-figure comparison needs tensor parallelism in estimate (not yet)", path)
}
