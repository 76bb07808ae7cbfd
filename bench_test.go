package minerbench_test

import (
	"testing"

	"github.com/minerbench/minerbench/minerbench"
)

// TestMain builds and launches the bundled miners when benchmarks run: the
// template and noop, and flaky when -mb.miners names it.
func TestMain(m *testing.M) {
	minerbench.Main(m,
		minerbench.MinerSpec{Name: "template", Package: "./miners/template"},
		minerbench.MinerSpec{Name: "noop", Package: "./miners/noop"},
		minerbench.MinerSpec{Name: "flaky", Package: "./miners/flaky", Optional: true},
	)
}

// BenchmarkStandard is Bittensor 2.0.4's QueryBenchmark's
// run_standard_benchmark. Its batch and block size come from -mb.batch and
// -mb.block, 10 × 10 by default.
func BenchmarkStandard(b *testing.B) {
	minerbench.Bench(b, minerbench.Standard())
}

// BenchmarkCustom is the template's benchmark_custom, batch 15 and block 10.
// Its history is custom-queries.csv, as the template named it.
func BenchmarkCustom(b *testing.B) {
	minerbench.Bench(b, minerbench.Load{Batch: 15, Block: 10, History: "custom-queries"})
}

// BenchmarkShapes sweeps a few batch × block sizes, small enough that the
// default run stays short: at 32 × 32 the template takes about half a
// second a query, so -mb.batch and -mb.block reach larger shapes.
func BenchmarkShapes(b *testing.B) {
	for _, s := range []struct{ batch, block int }{{1, 1}, {1, 64}, {16, 16}} {
		minerbench.Bench(b, minerbench.Load{Batch: s.batch, Block: s.block})
	}
}

// BenchmarkConcurrency sweeps the number of concurrent workers
// (QueryBenchmark's n_processes) at the standard shape.
func BenchmarkConcurrency(b *testing.B) {
	for _, conc := range []int{1, 4, 16} {
		load := minerbench.Standard()
		load.Conc = conc
		minerbench.Bench(b, load)
	}
}
