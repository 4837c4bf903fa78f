package sweep

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// MergeStats counts what Merge did.
type MergeStats struct {
	Files, Records, Duplicates int
}

// Merge joins the outputs of a sweep's shards (or of interrupted and
// resumed runs) into w: one line per key, ordered by point index (then
// key), so the shards of a sweep merge into exactly what one unsharded run
// writes. Of duplicate keys it keeps the first that succeeded, else the
// first. CSV inputs must share their header. Trailing partial lines are
// ignored.
func Merge(paths []string, f Format, w io.Writer) (MergeStats, error) {
	var st MergeStats
	var header []string
	best := map[string]int{}
	var recs []Record
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return st, err
		}
		data = data[:bytes.LastIndexByte(data, '\n')+1]
		h, rs, err := parseRecords(data, f, true)
		if err != nil {
			return st, fmt.Errorf("%s: %w", p, err)
		}
		if f == CSV && h != nil {
			if header == nil {
				header = h
			} else if strings.Join(h, ",") != strings.Join(header, ",") {
				return st, fmt.Errorf("%s: columns differ from %s (%s)", p, paths[0], describeDiff(h, header))
			}
		}
		st.Files++
		for _, r := range rs {
			if k, dup := best[r.Key]; dup {
				st.Duplicates++
				if recs[k].Err && !r.Err {
					recs[k] = r
				}
				continue
			}
			best[r.Key] = len(recs)
			recs = append(recs, r)
		}
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].Index != recs[j].Index {
			return recs[i].Index < recs[j].Index
		}
		return recs[i].Key < recs[j].Key
	})
	buf := bufio.NewWriterSize(w, 1<<20)
	if f == CSV && header != nil {
		for i, h := range header {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(appendCSV(nil, h))
		}
		buf.WriteByte('\n')
	}
	for _, r := range recs {
		buf.Write(r.Line)
		buf.WriteByte('\n')
	}
	st.Records = len(recs)
	return st, buf.Flush()
}
