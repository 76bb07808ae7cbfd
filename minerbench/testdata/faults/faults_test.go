// Package faults_test is a bench file over the flaky miner and noop,
// compiled and run by minerbench's fault tests with -mb.set flaky:… to make
// the flaky miner misbehave. It writes the pids of the miners Main launched
// to the file named by MINERBENCH_FAULTS_PIDS (when set), then benchmarks
// every miner with small queries; BenchmarkOne benchmarks only the miner
// MINERBENCH_FAULTS_ONE names (and skips when it is not set). When MINERBENCH_FAULTS_BIN names a
// directory, the miners are the prebuilt binaries flaky and noop in it;
// otherwise Main builds them. When MINERBENCH_FAULTS_FSIZE is set, no file
// the process writes may grow past that many bytes: a disk that is full.
package faults_test

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/minerbench/minerbench/minerbench"
)

// Environment variables the outer test sets.
const (
	envPids  = "MINERBENCH_FAULTS_PIDS"
	envBin   = "MINERBENCH_FAULTS_BIN"
	envOne   = "MINERBENCH_FAULTS_ONE"
	envFsize = "MINERBENCH_FAULTS_FSIZE"
)

func TestMain(m *testing.M) {
	if limit := os.Getenv(envFsize); limit != "" {
		limitFileSize(limit)
	}
	minerbench.Main(m, miner("flaky"), miner("noop"))
}

// limitFileSize sets RLIMIT_FSIZE to limit bytes, so that a write past it
// fails with EFBIG ("file too large") instead of raising SIGXFSZ.
func limitFileSize(limit string) {
	n, err := strconv.ParseUint(limit, 10, 64)
	if err == nil {
		signal.Ignore(syscall.SIGXFSZ)
		err = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n})
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s=%s: %v\n", envFsize, limit, err)
		os.Exit(2)
	}
}

// miner is the spec of the bundled miner name.
func miner(name string) minerbench.MinerSpec {
	if dir := os.Getenv(envBin); dir != "" {
		return minerbench.MinerSpec{Name: name, Binary: filepath.Join(dir, name)}
	}
	return minerbench.MinerSpec{Name: name, Package: "github.com/minerbench/minerbench/miners/" + name}
}

// BenchmarkFaults queries every miner with [2, 4] token batches, from
// -mb.conc workers.
func BenchmarkFaults(b *testing.B) {
	writePids(b)
	load := minerbench.Standard()
	load.Batch, load.Block = 2, 4
	minerbench.Bench(b, load)
}

// BenchmarkOne queries the miner MINERBENCH_FAULTS_ONE names with [2, 4]
// token batches.
func BenchmarkOne(b *testing.B) {
	name := os.Getenv(envOne)
	if name == "" {
		b.Skipf("%s is not set", envOne)
	}
	minerbench.BenchMiner(b, name, minerbench.Load{Batch: 2, Block: 4})
}

// writePids writes the pids of the running miners, one a line, to the file
// named by MINERBENCH_FAULTS_PIDS, all at once (by rename).
func writePids(tb testing.TB) {
	tb.Helper()
	path := os.Getenv(envPids)
	if path == "" {
		return
	}
	var lines strings.Builder
	for _, m := range minerbench.Targets() {
		if pid := m.Pid(); pid > 0 {
			fmt.Fprintln(&lines, pid)
		}
	}
	if err := os.WriteFile(path+".tmp", []byte(lines.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		tb.Fatal(err)
	}
}
