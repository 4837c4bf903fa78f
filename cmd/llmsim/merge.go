package main

import (
	"fmt"
	"io"

	"github.com/llmsim/llmsim/sweep"
)

const mergeHelp = `llmsim merge — join the parts of a sharded or resumed sweep.

  llmsim merge part-*.csv --out all.csv
  llmsim merge shard-0.jsonl shard-1.jsonl > all.jsonl

Reads sweep outputs (all CSV or all JSON Lines, by extension or -o) and writes
one line per point key, ordered by point index, so the shards of a sweep merge
into exactly the file one unsharded run writes. Of duplicate keys the first
that succeeded is kept (a point that failed in one run and succeeded in
another keeps its result), else the first. CSV parts must have the same
header. A trailing partial line (an interrupted writer) is ignored.
`

func init() {
	register("merge", "join sweep shards into one result file (dedupe by key, point order)", runMerge)
}

func runMerge(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("merge", mergeHelp, stderr)
	out := fs.String("out", "", "output file, written atomically (default: stdout)")
	format := fs.StringP("output-format", "o", "", "csv or jsonl (default: from the inputs' extension)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no input files (llmsim merge PART... [--out FILE])")
	}
	f, err := outputFormat(*format, fs.Arg(0))
	if err != nil {
		return err
	}
	for _, p := range fs.Args() {
		if g, ok := sweep.FormatOf(p); ok && g != f {
			return fmt.Errorf("%s: mixes CSV and JSON Lines inputs", p)
		}
	}
	var st sweep.MergeStats
	write := func(w io.Writer) error {
		st, err = sweep.Merge(fs.Args(), f, w)
		return err
	}
	if *out == "" {
		err = write(stdout)
	} else {
		err = writeFileAtomic(*out, write)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "merge: %d files, %d points, %d duplicates dropped\n", st.Files, st.Records, st.Duplicates)
	return nil
}
