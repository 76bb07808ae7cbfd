// Package lifecycle_test is a bench file that ends on demand, compiled and
// run by minerbench's lifecycle tests to prove that no miner outlives any
// ending of a benchmark run. It writes the pids of the miners Main launched
// to the file named by MINERBENCH_LIFE_PIDS, then ends as MINERBENCH_LIFE_MODE
// says:
//
//	return     run one standard query benchmark and return
//	fatal      fail the benchmark
//	panic      panic in the benchmark
//	query      query until a benchmark fails (as it does once interrupted)
//	hang       block in the benchmark until killed
//	hang-test  block in TestLife instead (-test.timeout covers tests only)
package lifecycle_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minerbench/minerbench/minerbench"
	"github.com/minerbench/minerbench/minerbench/internal/proctest"
)

// Environment variables the outer test sets.
const (
	envPids  = "MINERBENCH_LIFE_PIDS"
	envMode  = "MINERBENCH_LIFE_MODE"
	envAfter = "MINERBENCH_LIFE_AFTER"
)

func TestMain(m *testing.M) {
	code := minerbench.Run(m, minerbench.MinerSpec{Name: "noop", Package: "github.com/minerbench/minerbench/miners/noop"})
	if path := os.Getenv(envAfter); path != "" {
		if err := os.WriteFile(path, []byte(fmt.Sprintf("%d %t", code, allReaped())), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(code)
}

// allReaped reports whether every pid in the MINERBENCH_LIFE_PIDS file has
// ended and been reaped.
func allReaped() bool {
	b, _ := os.ReadFile(os.Getenv(envPids))
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil || !proctest.Reaped(pid) {
			return false
		}
	}
	return true
}

// TestLife blocks in mode hang-test, so that -test.timeout expires.
func TestLife(t *testing.T) {
	if os.Getenv(envMode) != "hang-test" {
		t.Skip("only for mode hang-test")
	}
	writePids(t)
	time.Sleep(time.Hour)
}

// BenchmarkLife ends as MINERBENCH_LIFE_MODE says.
func BenchmarkLife(b *testing.B) {
	mode := os.Getenv(envMode)
	if mode == "hang-test" {
		b.Skip("TestLife hangs in this mode")
	}
	writePids(b)
	load := minerbench.Load{Batch: 1, Block: 1}
	switch mode {
	case "return":
		minerbench.Bench(b, load)
	case "fatal":
		b.Fatal("failing as asked")
	case "panic":
		panic("panicking as asked")
	case "query":
		for !b.Failed() {
			minerbench.Bench(b, load)
		}
	case "hang":
		time.Sleep(time.Hour)
	default:
		b.Fatalf("%s=%q: want return, fatal, panic, query, hang or hang-test", envMode, mode)
	}
}

// writePids writes the pids of the launched miners, one a line, to the file
// named by MINERBENCH_LIFE_PIDS, all at once (by rename), and fails if a
// miner did not start.
func writePids(tb testing.TB) {
	tb.Helper()
	path := os.Getenv(envPids)
	if path == "" {
		tb.Skipf("%s is not set", envPids)
	}
	var lines strings.Builder
	for _, m := range minerbench.Targets() {
		if err := m.Err(); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintln(&lines, m.Pid())
	}
	if err := os.WriteFile(path+".tmp", []byte(lines.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		tb.Fatal(err)
	}
}
