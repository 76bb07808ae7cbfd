package history

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/minerbench/minerbench/minerbench/wire"
)

func BenchmarkWriterAppend(b *testing.B) {
	w, err := Open(filepath.Join(b.TempDir(), "queries.csv"), testInfo, false)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Abort()
	r := Record{Time: t0, Code: wire.ReturnCode_Success, Elapsed: 1234567 * time.Nanosecond}
	b.ReportAllocs()
	for b.Loop() {
		r.Time = r.Time.Add(time.Millisecond)
		if err := w.Append(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSummaryAdd(b *testing.B) {
	recs := randomRecords(1024, 5)
	var s Summary
	s.Add(recs[0]) // allocates the histogram and the code map once
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(recs[i%len(recs)])
		i++
	}
}

func BenchmarkSummaryMerge(b *testing.B) {
	part := summarize(randomRecords(1000, 9))
	b.ReportAllocs()
	for b.Loop() {
		var s Summary
		s.Merge(part)
	}
}
