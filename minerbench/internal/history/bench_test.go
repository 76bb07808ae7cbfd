package history

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// benchRecords returns n records with distinct latencies.
func benchRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Latency: time.Duration(1234567 + i), Code: ReturnCode(wire.ReturnCode_Success), Elapsed: time.Duration(i) * time.Millisecond}
	}
	return recs
}

// fillHistory writes a history of n rows at path.
func fillHistory(b *testing.B, path string, n int) {
	b.Helper()
	w, err := Open(path, true)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Abort()
	recs := benchRecords(1000)
	for done := 0; done < n; done += len(recs) {
		if err := w.Append(testInfo, recs[:min(len(recs), n-done)]...); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpen opens a history and releases it: Open validates every row.
func BenchmarkOpen(b *testing.B) {
	for _, rows := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "queries.csv")
			fillHistory(b, path, rows)
			for b.Loop() {
				w, err := Open(path, false)
				if err != nil {
					b.Fatal(err)
				}
				w.Abort()
			}
		})
	}
}

// BenchmarkAppend100 appends 100 rows in one Append and syncs them to disk,
// what a Commit does, to an empty history and to one of a million rows: the
// cost does not depend on the history's length. With open=excluded the
// history is opened once, before the timed loop; with open=included each
// operation opens it (which validates every row), appends and commits.
func BenchmarkAppend100(b *testing.B) {
	recs := benchRecords(100)
	for _, rows := range []int{0, 1000000} {
		path := filepath.Join(b.TempDir(), "queries.csv")
		fillHistory(b, path, rows)
		b.Run(fmt.Sprintf("rows=%d/open=excluded", rows), func(b *testing.B) {
			w, err := Open(path, false)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Abort()
			for b.Loop() {
				if err := w.Append(testInfo, recs...); err != nil {
					b.Fatal(err)
				}
				if err := w.f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("rows=%d/open=included", rows), func(b *testing.B) {
			for b.Loop() {
				w, err := Open(path, false)
				if err != nil {
					b.Fatal(err)
				}
				if err := w.Append(testInfo, recs...); err != nil {
					b.Fatal(err)
				}
				if err := w.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriterAppend appends one row per call.
func BenchmarkWriterAppend(b *testing.B) {
	w, err := Open(filepath.Join(b.TempDir(), "queries.csv"), false)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Abort()
	r := Record{Code: ReturnCode(wire.ReturnCode_Success), Latency: 1234567 * time.Nanosecond}
	b.ReportAllocs()
	for b.Loop() {
		r.Elapsed += time.Millisecond
		if err := w.Append(testInfo, r); err != nil {
			b.Fatal(err)
		}
	}
}
