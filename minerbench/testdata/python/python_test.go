// Package python_test is a bench file over the Python miner, compiled and
// run by minerbench's TestPythonMiner. The miner is the plugin named by
// MINERBENCH_PYTHON_MINER, which the outer test sets to miners/python/miner.py.
package python_test

import (
	"os"
	"testing"

	"github.com/minerbench/minerbench/minerbench"
)

func TestMain(m *testing.M) {
	minerbench.Main(m, minerbench.MinerSpec{Name: "python", Binary: os.Getenv("MINERBENCH_PYTHON_MINER")})
}

// BenchmarkPython queries the miner with [2, 4] token batches.
func BenchmarkPython(b *testing.B) {
	load := minerbench.Standard()
	load.Batch, load.Block = 2, 4
	minerbench.Bench(b, load)
}
