// Package logs_test is a bench file over the printer miner, compiled and run
// by minerbench's log tests: it benchmarks the miner with [1, 1] queries.
package logs_test

import (
	"testing"

	"github.com/minerbench/minerbench/minerbench"
)

func TestMain(m *testing.M) {
	minerbench.Main(m, minerbench.MinerSpec{Name: "printer", Package: "github.com/minerbench/minerbench/minerbench/testdata/printer"})
}

// BenchmarkLogs queries the printer miner.
func BenchmarkLogs(b *testing.B) {
	minerbench.Bench(b, minerbench.Load{Batch: 1, Block: 1})
}
