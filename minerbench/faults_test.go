//go:build unix

package minerbench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"

	"github.com/minerbench/minerbench/minerbench/internal/history"
	"github.com/minerbench/minerbench/minerbench/internal/launch"
	"github.com/minerbench/minerbench/minerbench/internal/load"
	"github.com/minerbench/minerbench/minerbench/internal/proctest"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// Environment variables read by the bench file in testdata/faults.
const (
	faultsPidsEnv  = "MINERBENCH_FAULTS_PIDS"
	faultsBinEnv   = "MINERBENCH_FAULTS_BIN"
	faultsOneEnv   = "MINERBENCH_FAULTS_ONE"
	faultsFsizeEnv = "MINERBENCH_FAULTS_FSIZE"
)

// The bench file's load, and its benchmark names as benchfmt has them
// (without the leading "Benchmark").
const (
	faultsCalls = 20
	faultsFlaky = "Faults/miner=flaky/batch=2/block=4/conc=1"
	faultsNoop  = "Faults/miner=noop/batch=2/block=4/conc=1"
)

// TestFaults runs a real bench file (testdata/faults) against the real flaky
// miner made to misbehave in each way it can, and checks that every
// misbehaviour ends in exact records and a clear verdict: never a hang, a
// crash of the harness, a lost history or a leftover process.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a test binary and miner plugins")
	}
	dir := t.TempDir()
	bin, miners := filepath.Join(dir, "faults.test"), filepath.Join(dir, "miners")
	var wg sync.WaitGroup
	var testErr, minersErr error
	var testOut, minersOut []byte
	wg.Go(func() {
		testOut, testErr = exec.Command("go", "test", "-c", "-o", bin, "./testdata/faults").CombinedOutput()
	})
	wg.Go(func() {
		minersOut, minersErr = exec.Command("go", "build", "-o", miners+"/",
			"github.com/minerbench/minerbench/miners/flaky", "github.com/minerbench/minerbench/miners/noop").CombinedOutput()
	})
	wg.Wait()
	require.NoError(t, testErr, "go test -c ./testdata/faults\n%s", testOut)
	require.NoError(t, minersErr, "go build the miners\n%s", minersOut)

	t.Run("schedules", func(t *testing.T) { t.Parallel(); testFaultSchedules(t, bin, miners) })
	t.Run("crash", func(t *testing.T) { t.Parallel(); testFaultCrash(t, bin, miners) })
	t.Run("crash under concurrency", func(t *testing.T) { t.Parallel(); testFaultCrashConcurrent(t, bin, miners) })
	t.Run("registration", func(t *testing.T) { t.Parallel(); testFaultRegistration(t, bin, miners) })
	t.Run("interrupt", func(t *testing.T) { t.Parallel(); testFaultInterrupt(t, bin, miners) })
	t.Run("killed while querying", func(t *testing.T) { t.Parallel(); testFaultKilledWhileQuerying(t, bin, miners) })
	t.Run("interrupt while starting", func(t *testing.T) { t.Parallel(); testFaultInterruptStart(t, bin) })
	t.Run("killed while starting", func(t *testing.T) { t.Parallel(); testFaultKilledWhileStarting(t, bin) })
	t.Run("start timeout", func(t *testing.T) { t.Parallel(); testFaultStartTimeout(t, bin, miners) })
	t.Run("launch timeout and flooded log", func(t *testing.T) { t.Parallel(); testFaultLaunchTimeout(t, bin, miners) })
	t.Run("child of a miner", func(t *testing.T) { t.Parallel(); testFaultMinersChild(t, bin, miners) })
	t.Run("disk full", func(t *testing.T) { t.Parallel(); testFaultDiskFull(t, bin, miners) })
	t.Run("one miner", func(t *testing.T) { t.Parallel(); testBenchMiner(t, bin, miners) })
}

// testBenchMiner checks that BenchMiner benchmarks the miner it names and
// no other, skips a miner -mb.miners leaves out, and refuses a name the
// bench file does not offer.
func testBenchMiner(t *testing.T, bin, miners string) {
	tests := []struct {
		name, miner string
		args        []string
		code        int
		output      string // on stdout
		histories   []string
	}{
		{name: "chosen", miner: "noop", histories: []string{"noop"}},
		{name: "left out", miner: "noop", args: []string{"-mb.miners", "flaky", "-test.v"}, output: "miner noop was not started (-mb.miners or -mb.endpoint)"},
		{name: "unknown", miner: "nosuch", code: 1, output: `BenchMiner: miner "nosuch": want a miner the bench file names: flaky, noop`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newLifeRun(t)
			r.start(t, bin, fmt.Sprintf("%dx", faultsCalls), append([]string{"-test.bench", "One"}, tt.args...),
				faultsBinEnv+"="+miners, faultsOneEnv+"="+tt.miner)
			r.waitEnd(t)
			out := r.stdout.String()
			assert.Equal(t, tt.code, r.cmd.ProcessState.ExitCode(), "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())
			assert.Contains(t, out, tt.output)
			var names []string
			for name := range benchResults(t, out) {
				names = append(names, name)
			}
			var want []string
			for _, m := range tt.histories {
				want = append(want, "One/miner="+m+"/batch=2/block=4/conc=1")
				assert.Len(t, readRows(t, r.results, m), faultsCalls)
			}
			assert.ElementsMatch(t, want, names)
			for _, m := range []string{"flaky", "noop"} {
				if !slices.Contains(tt.histories, m) {
					assert.NoFileExists(t, historyPath(r.results, m))
				}
			}
		})
	}
}

// testFaultSchedules checks that answered faults are records with their
// codes, at exactly the queries the schedule names, and that they do not
// fail the benchmark.
func testFaultSchedules(t *testing.T, bin, miners string) {
	// n is the miner's number of the query (warm-up queries come first).
	tests := []struct {
		name    string
		args    []string
		want    func(n int) wire.ReturnCode
		counts  map[wire.ReturnCode]int
		success float64
	}{
		{
			name: "code every 4th",
			args: []string{"-mb.set", "flaky:flaky.code=NucleusFull", "-mb.set", "flaky:flaky.every=4"},
			want: func(n int) wire.ReturnCode {
				if n%4 == 0 {
					return wire.ReturnCode_NucleusFull
				}
				return wire.ReturnCode_Success
			},
			counts:  map[wire.ReturnCode]int{wire.ReturnCode_Success: 15, wire.ReturnCode_NucleusFull: 5},
			success: 75,
		},
		{
			name: "panic every 5th",
			args: []string{"-mb.set", "flaky:flaky.panic_every=5"},
			want: func(n int) wire.ReturnCode {
				if n%5 == 0 {
					return wire.ReturnCode_UnknownException
				}
				return wire.ReturnCode_Success
			},
			counts:  map[wire.ReturnCode]int{wire.ReturnCode_Success: 16, wire.ReturnCode_UnknownException: 4},
			success: 80,
		},
		{
			// The hung queries are cut by -mb.timeout, and the queries
			// after each succeed.
			name: "hang every 5th",
			args: []string{"-mb.set", "flaky:flaky.hang_every=5", "-mb.timeout", "300ms"},
			want: func(n int) wire.ReturnCode {
				if n%5 == 0 {
					return wire.ReturnCode_Timeout
				}
				return wire.ReturnCode_Success
			},
			counts:  map[wire.ReturnCode]int{wire.ReturnCode_Success: 16, wire.ReturnCode_Timeout: 4},
			success: 80,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runFaults(t, bin, miners, append([]string{"-mb.miners", "flaky"}, tt.args...)...)
			r.waitEnd(t)
			require.Equal(t, 0, r.cmd.ProcessState.ExitCode(), "failed queries do not fail the benchmark; stdout:\n%s\nstderr:\n%s", r.stdout.String(), r.stderr.String())

			rows := readRows(t, r.results, "flaky")
			require.Len(t, rows, faultsCalls)
			counts := map[wire.ReturnCode]int{}
			for i, row := range rows {
				assert.Equal(t, tt.want(i+1+warmupQueries), wire.ReturnCode(row.Code), "row %d", i)
				counts[wire.ReturnCode(row.Code)]++
			}
			assert.Equal(t, tt.counts, counts)

			results := benchResults(t, r.stdout.String())
			require.Contains(t, results, faultsFlaky, "stdout:\n%s", r.stdout.String())
			res := results[faultsFlaky]
			assert.Equal(t, faultsCalls, res.Iters)
			assert.Equal(t, tt.success, metric(res, "success-%"))
		})
	}
}

// testFaultCrash checks a miner that exits in the middle of its benchmark:
// the benchmark fails with the exit status and the miner's last log lines,
// the history holds the queries up to the crash, the other miner's
// benchmark still runs, and no miner is left running.
func testFaultCrash(t *testing.T, bin, miners string) {
	const answered = 2 // timed queries answered before the exit
	r := runFaults(t, bin, miners,
		"-mb.set", fmt.Sprintf("flaky:flaky.exit_after=%d", warmupQueries+answered),
		"-mb.set", "flaky:flaky.exit_code=7")
	pids := r.waitPids(t)
	require.Len(t, pids, 2)
	r.waitEnd(t)
	out := r.stdout.String()
	assert.Equal(t, 1, r.cmd.ProcessState.ExitCode(), "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())
	assert.Contains(t, out, "--- FAIL: Benchmark"+faultsFlaky+"\n")
	assert.Regexp(t, `\w+\.go:\d+: miner flaky exited \(miner exit status 7\)\n\s+last lines of the miner's log:\n`, out)
	assert.Regexp(t, fmt.Sprintf(`\n\s+flaky: query %d: exiting with status 7, as flaky.exit_after=%d asks\n`, warmupQueries+answered+1, warmupQueries+answered), out)

	results := benchResults(t, out)
	assert.NotContains(t, results, faultsFlaky)
	require.Contains(t, results, faultsNoop, "the other miner still runs")
	assert.Equal(t, 100.0, metric(results[faultsNoop], "success-%"))

	assert.Equal(t, []wire.ReturnCode{wire.ReturnCode_Success, wire.ReturnCode_Success, wire.ReturnCode_Unavailable},
		codesOf(readRows(t, r.results, "flaky")), "the answered queries, then the one the exit cut")
	assert.Len(t, readRows(t, r.results, "noop"), faultsCalls)
	for _, pid := range pids {
		assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "miner pid %d was not stopped and reaped", pid)
	}
}

// testFaultCrashConcurrent checks that concurrent workers stop querying a
// miner once it has exited, rather than recording every query left as
// Unavailable.
func testFaultCrashConcurrent(t *testing.T, bin, miners string) {
	const conc, answered = 2, 4
	r := runFaults(t, bin, miners, "-test.benchtime", "1000x", "-mb.miners", "flaky", "-mb.conc", fmt.Sprint(conc),
		"-mb.set", fmt.Sprintf("flaky:flaky.exit_after=%d", conc*warmupQueries+answered))
	r.waitEnd(t)
	out := r.stdout.String()
	assert.Equal(t, 1, r.cmd.ProcessState.ExitCode(), "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())
	assert.Contains(t, out, "--- FAIL: BenchmarkFaults/miner=flaky/batch=2/block=4/conc=2\n")
	assert.Regexp(t, `\w+\.go:\d+: miner flaky exited \(miner exit status 1\)\n`, out)

	counts := map[wire.ReturnCode]int{}
	for _, c := range codesOf(readRows(t, r.results, "flaky")) {
		counts[c]++
	}
	// The exit can cut the answer of a query another worker has in flight,
	// so up to conc-1 of the answered queries may be recorded Unavailable.
	assert.GreaterOrEqual(t, counts[wire.ReturnCode_Success], answered-(conc-1))
	assert.LessOrEqual(t, counts[wire.ReturnCode_Success], answered)
	// Each worker may have sent one query more before it saw the exit.
	assert.GreaterOrEqual(t, counts[wire.ReturnCode_Unavailable], 1)
	assert.LessOrEqual(t, counts[wire.ReturnCode_Unavailable], 2*conc)
	assert.Len(t, counts, 2, "no other codes: %v", counts)
}

// testFaultRegistration checks the ways a miner can fail to appear on the
// chain, each failing within -mb.start-timeout, and that a slow or late one
// is still found beyond Bittensor 2.0.4's QueryBenchmark's 100 blocks,
// within the default start timeout.
func testFaultRegistration(t *testing.T, bin, miners string) {
	hotkey := wallet.Mock("default/flaky").SS58()
	tests := []struct {
		name string
		args []string
		// fail is the regexp of the flaky benchmark's failure, or "" when
		// the benchmark must succeed.
		fail string
		log  string // a line of the miner's log in the failure
	}{
		{
			name: "never",
			args: []string{"-mb.set", "flaky:flaky.register=never", "-mb.start-timeout", "2s"},
			fail: `miner flaky: did not start within -mb\.start-timeout=2s: chain: hotkey "` + hotkey + `" is not registered after waiting \d+ blocks \(\d+\.\d s\)(: context deadline exceeded)?; the miner's log is in \S+/mock/default/flaky/logs\.log\n`,
			log:  "flaky: not registering the axon, as flaky.register=never asks",
		},
		{
			name: "unspecified",
			args: []string{"-mb.set", "flaky:flaky.register=unspecified", "-mb.start-timeout", "2s"},
			fail: `miner flaky: did not start within -mb\.start-timeout=2s: chain: hotkey "` + hotkey + `" has no routable axon after waiting \d+ blocks \(\d+\.\d s\): uid \d is registered at 0\.0\.0\.0:\d+ and its ip 0\.0\.0\.0 is unspecified; want the miner to serve_axon a dialable ip and a port other than 0(: context deadline exceeded)?; the miner's log is in \S+/mock/default/flaky/logs\.log\n`,
			log:  "flaky: registering the axon at the unspecified address 0.0.0.0, as flaky.register=unspecified asks",
		},
		{
			name: "slow start",
			args: []string{"-mb.set", "flaky:flaky.start_delay=300ms"},
		},
		{
			// 3 s of 2 ms blocks, far beyond QueryBenchmark's 100 blocks.
			name: "late",
			args: []string{"-mb.set", "flaky:flaky.register=late", "-mb.set", "flaky:flaky.start_delay=3s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runFaults(t, bin, miners, append([]string{"-mb.blocktime", "2ms"}, tt.args...)...)
			r.waitEnd(t)
			out := r.stdout.String()
			results := benchResults(t, out)
			require.Contains(t, results, faultsNoop, "the other miner still runs; stdout:\n%s", out)
			if tt.fail == "" {
				assert.Equal(t, 0, r.cmd.ProcessState.ExitCode(), "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())
				require.Contains(t, results, faultsFlaky)
				assert.Equal(t, 100.0, metric(results[faultsFlaky], "success-%"))
				assert.Equal(t, slices.Repeat([]wire.ReturnCode{wire.ReturnCode_Success}, faultsCalls), codesOf(readRows(t, r.results, "flaky")))
				return
			}
			assert.Equal(t, 1, r.cmd.ProcessState.ExitCode(), "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())
			assert.Contains(t, out, "--- FAIL: Benchmark"+faultsFlaky+"\n")
			assert.NotContains(t, results, faultsFlaky)
			assert.Regexp(t, tt.fail, out)
			assert.Contains(t, out, tt.log)
			assert.NoFileExists(t, historyPath(r.results, "flaky"), "no query was made")
		})
	}
	t.Run("exits while awaited", func(t *testing.T) {
		t.Parallel()
		testFaultExitWhileAwaited(t, bin, miners)
	})
}

// testFaultExitWhileAwaited kills a miner while the harness waits for its
// axon on the chain: its start fails at once, with how it ended and its log,
// not after the start timeout (20 minutes by default, far beyond the bound
// of the test).
func testFaultExitWhileAwaited(t *testing.T, bin, miners string) {
	if runtime.GOOS != "linux" {
		t.Skip("finds the miner's process in /proc")
	}
	r := runFaults(t, bin, miners, "-mb.debug", "-mb.set", "flaky:flaky.register=late", "-mb.set", "flaky:flaky.start_delay=1h")
	r.waitStderr(t, "flaky: registering the axon in 1h0m0s from the background")
	var flaky []int
	for _, pid := range proctest.Descendants(r.cmd.Process.Pid) {
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(comm) == "flaky\n" {
			flaky = append(flaky, pid)
		}
	}
	require.Len(t, flaky, 1, "the flaky miner's process")
	require.NoError(t, syscall.Kill(flaky[0], syscall.SIGKILL))
	r.waitEnd(t)
	out := r.stdout.String()
	assert.Equal(t, 1, r.cmd.ProcessState.ExitCode(), "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())
	assert.Contains(t, out, "--- FAIL: Benchmark"+faultsFlaky+"\n")
	assert.Regexp(t, `miner flaky: exited before its axon was registered \(miner signal: killed\)\n\s+last lines of the miner's log:\n`, out)
	assert.Contains(t, out, "flaky: registering the axon in 1h0m0s from the background")
	assert.Contains(t, benchResults(t, out), faultsNoop, "the other miner still runs")
}

// testFaultStartTimeout checks a miner whose start outlasts -mb.start-timeout
// (its New or registration hangs): it fails with the setting and its log,
// and is stopped, while the other miner runs.
func testFaultStartTimeout(t *testing.T, bin, miners string) {
	r := runFaults(t, bin, miners, "-mb.set", "flaky:flaky.start_delay=1h", "-mb.start-timeout", "3s")
	r.waitEnd(t)
	out := r.stdout.String()
	assert.Equal(t, 1, r.cmd.ProcessState.ExitCode(), "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())
	assert.Contains(t, out, "--- FAIL: Benchmark"+faultsFlaky+"\n")
	assert.Regexp(t, `miner flaky: did not start within -mb\.start-timeout=3s: run: rpc error: code = DeadlineExceeded desc = [^\n]+\n\s+last lines of the miner's log:\n`, out)
	m := regexp.MustCompile(`flaky: starting slowly \(pid (\d+)\): registering the axon in 1h0m0s`).FindStringSubmatch(out)
	require.NotNil(t, m, "the miner's log is in the failure; stdout:\n%s", out)
	pid, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "miner pid %d was not stopped and reaped", pid)
	results := benchResults(t, out)
	assert.NotContains(t, results, faultsFlaky)
	assert.Contains(t, results, faultsNoop, "the other miner still runs")
}

// testFaultLaunchTimeout runs, in place of flaky, a miner that floods its
// log and then never completes go-plugin's handshake: with the start
// timeout at its 20 minutes, the miner fails once -mb.launch-timeout has
// passed, with its log's last lines, while the other miner runs. Its log
// in the results stops at -mb.log-limit, at a marker line, and a last
// marker says how many lines were dropped.
func testFaultLaunchTimeout(t *testing.T, bin, miners string) {
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(miners, "noop"), filepath.Join(dir, "noop")))
	script := "#!/bin/sh\ni=0\nwhile [ $i -lt 20000 ]; do echo \"flood line $i\"; i=$((i+1)); done >&2\n" +
		"echo 'cannot load the model' >&2\nexec sleep 3600\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "flaky"), []byte(script), 0o755))
	r := newLifeRun(t)
	r.start(t, bin, fmt.Sprintf("%dx", faultsCalls), []string{"-mb.launch-timeout", "3s", "-mb.log-limit", "4KiB"}, faultsBinEnv+"="+dir)
	r.waitEnd(t)
	out := r.stdout.String()
	assert.Equal(t, 1, r.cmd.ProcessState.ExitCode(), "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())
	assert.Contains(t, out, "--- FAIL: Benchmark"+faultsFlaky+"\n")
	assert.Contains(t, out, "miner flaky: did not complete go-plugin's handshake and answer Info within -mb.launch-timeout=3s: launch miner ")
	assert.Regexp(t, `\(miner signal: killed\)\n\s+last lines of the miner's log:\n(\s+flood line \d+\n){19}\s+cannot load the model\n`, out)
	results := benchResults(t, out)
	assert.NotContains(t, results, faultsFlaky)
	assert.Contains(t, results, faultsNoop, "the other miner still runs")

	log, err := os.ReadFile(filepath.Join(r.results, "mock", "default", "flaky", "logs.log"))
	require.NoError(t, err)
	header, rest, _ := strings.Cut(string(log), "\n")
	assert.Contains(t, header, "minerbench: launching miner flaky")
	kept, dropped, ok := strings.Cut(rest, "=== minerbench: the miner's log reached its limit of 4096 bytes (-mb.log-limit): its further lines are dropped\n")
	require.True(t, ok, "a marker where lines were dropped; log:\n%s", log)
	assert.LessOrEqual(t, len(kept), 4096)
	assert.Regexp(t, `^=== minerbench: dropped \d+ lines \(\d+ bytes\) of the miner's log past its limit; the last 20 of them:\n(flood line \d+\n){19}cannot load the model\n$`, dropped)
}

// testFaultInterrupt sends SIGINT in the middle of a long run: the queries
// stop, the process exits, the history holds exactly the queries answered
// so far, and no miner is left running.
func testFaultInterrupt(t *testing.T, bin, miners string) {
	const seen = 10 // queries the miner answers before the signal
	r := runFaults(t, bin, miners, "-test.benchtime", "100000x", "-mb.miners", "flaky", "-mb.debug",
		"-mb.set", "flaky:flaky.latency=20ms", "-mb.set", "flaky:flaky.log=true")
	pids := r.waitPids(t)
	require.Len(t, pids, 1)
	r.waitStderr(t, fmt.Sprintf("flaky: query %d: Success\n", seen))
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGINT))
	r.waitEnd(t)
	assert.Equal(t, 1, r.cmd.ProcessState.ExitCode(), "stderr:\n%s", r.stderr.String())
	assert.Contains(t, r.stderr.String(), "minerbench: interrupt: stopping the queries and the miners\n")
	assert.Regexp(t, `--- FAIL: Benchmark`+regexp.QuoteMeta(faultsFlaky)+`\n\s+\w+\.go:\d+: `+errInterrupted.Error()+`\n`, r.stdout.String())
	assert.NotContains(t, benchResults(t, r.stdout.String()), faultsFlaky)

	// The miner logs every query it answers; the history holds each of
	// those after the warm-up, and no record of the query the signal cut.
	answered := len(regexp.MustCompile(`flaky: query \d+: Success\n`).FindAllString(r.stderr.String(), -1))
	rows := readRows(t, r.results, "flaky")
	assert.GreaterOrEqual(t, len(rows), seen-1-warmupQueries)
	assert.LessOrEqual(t, len(rows), answered-warmupQueries)
	assert.Equal(t, slices.Repeat([]wire.ReturnCode{wire.ReturnCode_Success}, len(rows)), codesOf(rows), "only answers are recorded")
	for i, row := range rows {
		assert.Equal(t, int64(i), row.Index)
		assert.Equal(t, history.RunInfo{NProcesses: 1, NCalls: 100000, BatchSize: 2, BlockSize: 4, WorldSize: 1, Start: rows[0].Start}, row.RunInfo)
	}
	for _, pid := range pids {
		assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "miner pid %d was not stopped and reaped", pid)
	}
}

// testFaultKilledWhileQuerying SIGKILLs a run in the middle of its
// benchmark of a slow miner, which answers a query every 2 s: the history
// keeps every query answered before the last one the miner logged, each
// answered at least 2 s before the kill, though they are far fewer than a
// buffer of rows. Before rows were also written by age, such a run left none.
func testFaultKilledWhileQuerying(t *testing.T, bin, miners string) {
	const latency = 2 * time.Second
	const timed = 3 // timed queries the miner answers before the kill
	r := runFaults(t, bin, miners, "-test.benchtime", "100000x", "-mb.miners", "flaky", "-mb.debug",
		"-mb.set", "flaky:flaky.latency="+latency.String(), "-mb.set", "flaky:flaky.log=true")
	pids := r.waitPids(t)
	r.waitStderr(t, fmt.Sprintf("flaky: query %d: Success\n", warmupQueries+timed))
	// The miner logs each answer just before it sends it; the last one
	// logged may be answered an instant before the kill, every earlier one
	// was answered at least one latency before it.
	answered := len(regexp.MustCompile(`flaky: query \d+: Success\n`).FindAllString(r.stderr.String(), -1))
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGKILL))
	r.waitEnd(t)
	assertAllGone(t, pids)

	rows := readRows(t, r.results, "flaky")
	t.Logf("%d queries answered (%d of them warm-up), %d rows", answered, warmupQueries, len(rows))
	assert.GreaterOrEqual(t, len(rows), answered-1-warmupQueries, "rows of the queries answered a latency before the kill")
	assert.LessOrEqual(t, len(rows), answered+1-warmupQueries, "rows of queries answered")
	for i, row := range rows {
		assert.Equal(t, history.ReturnCode(wire.ReturnCode_Success), row.Code, "row %d", i)
		assert.GreaterOrEqual(t, row.Latency, latency, "row %d", i)
	}
}

// testFaultInterruptStart interrupts a run while a miner is slow to start:
// the run stops at once rather than waiting for it, stops every process it
// started (the miner that started, the slow one, and any child of theirs)
// and removes its build directory, also when a second signal cuts the grace
// period short.
func testFaultInterruptStart(t *testing.T, bin string) {
	for _, signals := range []int{1, 2} {
		t.Run(fmt.Sprintf("signals=%d", signals), func(t *testing.T) {
			t.Parallel()
			r, tmp := runFaultsBuilding(t, bin, "-mb.debug", "-mb.set", "flaky:flaky.start_delay=1h")
			pid := waitSlowStart(t, r)
			require.NotEmpty(t, buildDirs(t, tmp), "the run builds its miners in TMPDIR")
			started := proctest.Descendants(r.cmd.Process.Pid)
			require.Contains(t, started, pid)
			for range signals {
				require.NoError(t, r.cmd.Process.Signal(syscall.SIGINT))
			}
			r.waitEnd(t)
			assert.Equal(t, exitInterrupted, r.cmd.ProcessState.ExitCode(), "stderr:\n%s", r.stderr.String())
			assert.Contains(t, r.stderr.String(), "minerbench: interrupt: stopping the queries and the miners\n")
			assert.NotContains(t, r.stdout.String(), "Benchmark", "no benchmark ran")
			assert.NoFileExists(t, r.pidFile, "no benchmark ran")
			assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "miner pid %d was not stopped and reaped", pid)
			assertAllGone(t, started)
			assert.Empty(t, buildDirs(t, tmp), "the build directory is removed")
		})
	}
}

// testFaultKilledWhileStarting SIGKILLs a run while a miner is slow to
// start, leaving its build directory behind, and checks that its processes
// end by themselves and that the next run removes the directory.
func testFaultKilledWhileStarting(t *testing.T, bin string) {
	r, tmp := runFaultsBuilding(t, bin, "-mb.debug", "-mb.set", "flaky:flaky.start_delay=1h")
	waitSlowStart(t, r)
	started := proctest.Descendants(r.cmd.Process.Pid)
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGKILL))
	r.waitEnd(t)
	assertAllGone(t, started)
	left := buildDirs(t, tmp)
	require.Len(t, left, 1, "the SIGKILLed run leaves its build directory")

	next := newLifeRun(t)
	next.start(t, bin, "1x", []string{"-mb.miners", "noop"}, "TMPDIR="+tmp)
	next.waitEnd(t)
	require.Equal(t, 0, next.cmd.ProcessState.ExitCode(), "stderr:\n%s", next.stderr.String())
	assert.Empty(t, buildDirs(t, tmp), "the next run removed %s, and its own directory", left[0])
}

// testFaultMinersChild runs a noop miner that has started a child (a
// wrapper script starts it, then becomes noop) to two endings: the run
// returns, and the run is SIGKILLed while it queries. Neither the miner nor
// its child outlives either.
func testFaultMinersChild(t *testing.T, bin, miners string) {
	for _, killed := range []bool{false, true} {
		t.Run(fmt.Sprintf("killed=%t", killed), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			children := filepath.Join(dir, "children")
			wrapper := "#!/bin/sh\nsleep 3600 &\necho $! > '" + children + "'\nexec '" + filepath.Join(miners, "noop") + "' \"$@\"\n"
			require.NoError(t, os.WriteFile(filepath.Join(dir, "noop"), []byte(wrapper), 0o755))
			require.NoError(t, os.Symlink(filepath.Join(miners, "flaky"), filepath.Join(dir, "flaky")))

			r := newLifeRun(t)
			benchtime := fmt.Sprintf("%dx", faultsCalls)
			if killed {
				benchtime = "100000000x"
			}
			r.start(t, bin, benchtime, []string{"-mb.miners", "noop"}, faultsPidsEnv+"="+r.pidFile, faultsBinEnv+"="+dir)
			pids := r.waitPids(t)
			b, err := os.ReadFile(children)
			require.NoError(t, err)
			child, err := strconv.Atoi(strings.TrimSpace(string(b)))
			require.NoError(t, err)
			t.Cleanup(func() {
				if !proctest.Gone(child) {
					_ = syscall.Kill(child, syscall.SIGKILL)
				}
			})
			if killed {
				require.False(t, proctest.Gone(child), "the child runs while the miner does")
				require.NoError(t, r.cmd.Process.Signal(syscall.SIGKILL))
			}
			r.waitEnd(t)
			if !killed {
				require.Equal(t, 0, r.cmd.ProcessState.ExitCode(), "stderr:\n%s", r.stderr.String())
			}
			assertAllGone(t, append(pids, child))
		})
	}
}

// waitSlowStart waits for flaky's slow start and returns its pid.
func waitSlowStart(t *testing.T, r *lifeRun) int {
	t.Helper()
	r.waitStderr(t, "flaky: starting slowly")
	m := regexp.MustCompile(`flaky: starting slowly \(pid (\d+)\): registering the axon in 1h0m0s, as flaky.start_delay asks\n`).FindStringSubmatch(r.stderr.String())
	require.NotNil(t, m, "stderr:\n%s", r.stderr.String())
	pid, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return pid
}

// assertAllGone asserts that every pid ends, soon.
func assertAllGone(t *testing.T, pids []int) {
	t.Helper()
	for _, pid := range pids {
		assert.Eventually(t, func() bool { return proctest.Gone(pid) }, lifeGoneBound, lifePoll, "pid %d outlived the run", pid)
	}
}

// buildDirs returns the build directories in tmp.
func buildDirs(t *testing.T, tmp string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(tmp, launch.BuildDirPrefix+"*"))
	require.NoError(t, err)
	return matches
}

// runFaultsBuilding starts the fault bench file as runFaults does, but with
// Main building the miners, in a temporary directory (TMPDIR) it returns.
func runFaultsBuilding(t *testing.T, bin string, args ...string) (*lifeRun, string) {
	t.Helper()
	r := newLifeRun(t)
	tmp := filepath.Join(filepath.Dir(r.pidFile), "tmp")
	require.NoError(t, os.Mkdir(tmp, 0o755))
	r.start(t, bin, fmt.Sprintf("%dx", faultsCalls), args, faultsPidsEnv+"="+r.pidFile, "TMPDIR="+tmp)
	return r, tmp
}

// testFaultDiskFull runs the bench file against an axon in this process
// (-mb.endpoint), with its file size limit (RLIMIT_FSIZE) a little above the
// history an earlier run left: the first write of the run's rows fails.
// The benchmark stops at that write, failing with its error, within a
// buffer of queries, and leaves the old history byte for byte.
func testFaultDiskFull(t *testing.T, bin, miners string) {
	var calls atomic.Int64
	addr := serveAxon(t, "disk", func(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		calls.Add(1)
		return zeroAnswer(in), nil
	})
	first := runFaults(t, bin, miners, "-test.benchtime", "50x", "-mb.endpoint", addr)
	first.waitEnd(t)
	require.Equal(t, 0, first.cmd.ProcessState.ExitCode(), "stderr:\n%s", first.stderr.String())
	found, err := filepath.Glob(filepath.Join(first.results, "*", "*", "remote", DefaultHistory+".csv"))
	require.NoError(t, err)
	require.Len(t, found, 1, "the first run's history")
	path := found[0]
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	calls.Store(0)
	r := newLifeRun(t)
	r.results = first.results
	r.start(t, bin, "100000x", []string{"-mb.endpoint", addr},
		faultsBinEnv+"="+miners, faultsFsizeEnv+"="+strconv.Itoa(len(before)+1000))
	r.waitEnd(t)
	out := r.stdout.String()
	assert.Equal(t, 1, r.cmd.ProcessState.ExitCode(), "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())
	assert.Contains(t, out, "--- FAIL: BenchmarkFaults/miner=remote/batch=2/block=4/conc=1\n")
	assert.Contains(t, out, "stopped at the first failed write of the history: history: write "+path+": ")
	assert.Contains(t, out, "file too large")
	// The first write holds at most a buffer of rows (fewer when the
	// buffer was written for its age); the worker may have sent one query
	// more before it saw the write fail.
	assert.LessOrEqual(t, calls.Load(), int64(warmupQueries+load.FlushEvery+1), "no query after the failed write of the first rows")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the old history is intact")
}

// runFaults starts the fault bench file with the prebuilt miners, 20
// queries per benchmark, and args.
func runFaults(t *testing.T, bin, miners string, args ...string) *lifeRun {
	t.Helper()
	r := newLifeRun(t)
	r.start(t, bin, fmt.Sprintf("%dx", faultsCalls), args, faultsPidsEnv+"="+r.pidFile, faultsBinEnv+"="+miners)
	return r
}

func historyPath(results, miner string) string {
	return filepath.Join(results, "mock", "default", miner, DefaultHistory+".csv")
}

// readRows reads a miner's history, which must be well formed.
func readRows(t *testing.T, results, miner string) []history.Row {
	t.Helper()
	rows, err := history.Read(historyPath(results, miner))
	require.NoError(t, err)
	return rows
}

func codesOf(rows []history.Row) []wire.ReturnCode {
	out := make([]wire.ReturnCode, len(rows))
	for i, r := range rows {
		out[i] = wire.ReturnCode(r.Code)
	}
	return out
}

// benchResults reads the results of a run's stdout with benchfmt, keyed by
// name without the -GOMAXPROCS suffix.
func benchResults(t *testing.T, stdout string) map[string]*benchfmt.Result {
	t.Helper()
	suffix := regexp.MustCompile(`-[0-9]+$`)
	out := map[string]*benchfmt.Result{}
	reader := benchfmt.NewReader(bytes.NewReader([]byte(stdout)), "stdout")
	for reader.Scan() {
		switch rec := reader.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("syntax error: %v", rec)
		case *benchfmt.Result:
			out[suffix.ReplaceAllString(rec.Name.String(), "")] = rec.Clone()
		}
	}
	require.NoError(t, reader.Err())
	return out
}

// metric returns the value of a result's metric in the unit written.
func metric(r *benchfmt.Result, unit string) float64 {
	for _, v := range r.Values {
		if v.OrigUnit == unit || v.OrigUnit == "" && v.Unit == unit {
			if v.OrigUnit != "" {
				return v.OrigValue
			}
			return v.Value
		}
	}
	return -1
}
