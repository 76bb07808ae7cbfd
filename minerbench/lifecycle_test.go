//go:build unix

package minerbench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/proctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Environment variables read by the bench file in testdata/lifecycle.
const (
	lifePidsEnv  = "MINERBENCH_LIFE_PIDS"
	lifeModeEnv  = "MINERBENCH_LIFE_MODE"
	lifeAfterEnv = "MINERBENCH_LIFE_AFTER"
)

// Generous bounds for things that must happen; the machine is shared.
const (
	lifeStartBound = 2 * time.Minute  // go build of the miner, launch, first benchmark
	lifeEndBound   = 45 * time.Second // includes the 10 s shutdown grace
	lifeGoneBound  = 10 * time.Second // plugins poll their parent every 100 ms
	lifePoll       = 20 * time.Millisecond
)

// TestLifecycle runs a real bench file (testdata/lifecycle) to each of its
// possible endings and checks that no miner process outlives any of them,
// and that Main refuses bad flags before starting any.
func TestLifecycle(t *testing.T) {
	bin := buildBenchFile(t, "lifecycle")
	testEndings(t, bin)
	testBadFlags(t, bin)
}

// buildBenchFile compiles the bench file of testdata/name into a test
// binary and returns its path. It skips the test under -short.
func buildBenchFile(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a test binary and miner plugins")
	}
	bin := filepath.Join(t.TempDir(), name+".test")
	if msg, err := exec.Command("go", "test", "-c", "-o", bin, "./testdata/"+name).CombinedOutput(); err != nil {
		t.Fatalf("go test -c ./testdata/%s: %v\n%s", name, err, msg)
	}
	return bin
}

// ending is one way a benchmark run ends.
type ending struct {
	name string
	mode string   // the bench file's MINERBENCH_LIFE_MODE
	args []string // extra flags
	// signals are sent in order once the pids are written; each but the
	// first once waitFor is on stderr, when it is set.
	signals []syscall.Signal
	waitFor string
	// code is the exit status wanted; killedBy the signal, instead, that
	// should have ended the process.
	code     int
	killedBy syscall.Signal
	// output is what the run's stdout or stderr must show: the ending is
	// the one intended.
	output string
	// stopped says the harness itself stops and reaps the miners before
	// the run ends; otherwise they exit by themselves once it is gone.
	stopped bool
	// returns says minerbench.Run returns, with the miners reaped, so that
	// TestMain runs its code after it.
	returns bool
}

func testEndings(t *testing.T, bin string) {
	endings := []ending{
		{name: "success", mode: "return", code: 0, output: "100.0 success-%", stopped: true, returns: true},
		{name: "failing benchmark", mode: "fatal", code: 1, output: "failing as asked", stopped: true, returns: true},
		{name: "panic", mode: "panic", code: 2, output: "panic: panicking as asked"},
		{name: "test timeout", mode: "hang-test", args: []string{"-test.run", "^TestLife$", "-test.timeout", "3s"}, code: 2, output: "test timed out after 3s"},
		{name: "SIGINT while querying", mode: "query", signals: []syscall.Signal{syscall.SIGINT}, code: 1, output: errInterrupted.Error(), stopped: true, returns: true},
		{name: "SIGTERM while querying", mode: "query", signals: []syscall.Signal{syscall.SIGTERM}, code: 1, output: errInterrupted.Error(), stopped: true, returns: true},
		// The benchmark ignores the interruption: Main stops the miners
		// after its grace period.
		{name: "SIGTERM while hung", mode: "hang", signals: []syscall.Signal{syscall.SIGTERM}, code: exitInterrupted, output: "terminated: stopping the queries and the miners", stopped: true},
		// A second signal cuts the grace period short.
		{name: "SIGINT twice while hung", mode: "hang", signals: []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, waitFor: "interrupt: stopping the queries", code: exitInterrupted, stopped: true},
		// go test sends SIGQUIT to a test binary that outlives its timeout
		// (-test.timeout does not cover benchmarks).
		{name: "SIGQUIT while hung", mode: "hang", signals: []syscall.Signal{syscall.SIGQUIT}, code: 2, output: "SIGQUIT: quit"},
		{name: "SIGKILL while hung", mode: "hang", signals: []syscall.Signal{syscall.SIGKILL}, killedBy: syscall.SIGKILL},
	}
	for _, e := range endings {
		t.Run("ending="+e.name, func(t *testing.T) {
			t.Parallel()
			r := startLife(t, bin, e.mode, e.args...)
			pids := r.waitPids(t)
			// Every process the run started: the miners, anything they
			// started, the watchdog. (Without a signal, the run may be
			// ending already.)
			started := proctest.Descendants(r.cmd.Process.Pid)
			if len(e.signals) > 0 {
				for _, pid := range pids {
					require.False(t, proctest.Gone(pid), "miner pid %d is not running before the signal", pid)
				}
				require.Subset(t, started, pids)
			}
			for i, sig := range e.signals {
				if i > 0 && e.waitFor != "" {
					r.waitStderr(t, e.waitFor)
				}
				require.NoError(t, r.cmd.Process.Signal(sig))
			}
			r.waitEnd(t)
			if e.killedBy != 0 {
				status := r.cmd.ProcessState.Sys().(syscall.WaitStatus)
				assert.Equal(t, e.killedBy, status.Signal(), "how the run ended; stderr:\n%s", r.stderr.String())
			} else {
				assert.Equal(t, e.code, r.cmd.ProcessState.ExitCode(), "exit status; stderr:\n%s", r.stderr.String())
			}
			if e.output != "" {
				assert.True(t, strings.Contains(r.stdout.String(), e.output) || strings.Contains(r.stderr.String(), e.output),
					"%q is on neither stdout nor stderr; stderr:\n%s", e.output, r.stderr.String())
			}
			for _, pid := range pids {
				if e.stopped {
					assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "miner pid %d was not stopped and reaped by the harness", pid)
				}
				assert.Eventually(t, func() bool { return proctest.Gone(pid) }, lifeGoneBound, lifePoll,
					"miner pid %d outlived the run", pid)
			}
			if e.returns {
				after, err := os.ReadFile(r.afterFile)
				require.NoError(t, err, "TestMain did not run after minerbench.Run returned")
				assert.Equal(t, fmt.Sprintf("%d true", e.code), string(after), "Run's status, and whether the miners were reaped when it returned")
			} else {
				assert.NoFileExists(t, r.afterFile)
			}
			assertAllGone(t, started)
			if e.stopped {
				assert.Empty(t, buildDirs(t, filepath.Join(filepath.Dir(r.pidFile), "tmp")), "the build directory is removed")
			}
			if e.mode == "return" {
				assert.FileExists(t, filepath.Join(r.results, "mock", "default", "noop", DefaultHistory+".csv"))
			}
		})
	}
}

func testBadFlags(t *testing.T, bin string) {
	closed := closedPort(t)
	tests := []struct {
		flag string
		want []string // on stderr
	}{
		{"-mb.batch=0", []string{"-mb.batch=0", "want an integer from 1 to 4096"}},
		{"-mb.conc=0", []string{"-mb.conc=0", "want an integer from 1 to 1024"}},
		{"-mb.miners=nosuch", []string{"-mb.miners=nosuch", "want names from: noop"}},
		{"-mb.set==x", []string{`invalid value "=x" for flag -mb.set`, "want key=value"}},
		{"-mb.set=nosuch:k=v", []string{"-mb.set=nosuch:k=v", "want [miner:]key=value with a miner name from: noop"}},
		// Refused once the miner has told its settings, before any query
		// (short keys: the test's name is in the plugin's socket path).
		{"-mb.set=noop:x.y=1", []string{"-mb.set=noop:x.y=1", "want a setting miner noop has: axon."}},
		{"-mb.set=x.y=1", []string{"-mb.set=x.y=1: want a setting one of the started miners has"}},
		{"-mb.endpoint=notanendpoint", []string{"-mb.endpoint=notanendpoint", "want host:port"}},
		{"-mb.endpoint=" + closed, []string{"-mb.endpoint=" + closed, "want host:port of a running 2.0.x axon, or http://host:port of a synapse axon (unreachable"}},
		{"-mb.results=/dev/null/x", []string{"-mb.results=/dev/null/x", "want a directory that can be created and written"}},
	}
	for _, tt := range tests {
		t.Run("flag="+tt.flag, func(t *testing.T) {
			t.Parallel()
			r := startLife(t, bin, "return", tt.flag)
			r.waitEnd(t)
			assert.Equal(t, exitUsage, r.cmd.ProcessState.ExitCode(), "exit status; stderr:\n%s\nstdout:\n%s", r.stderr.String(), r.stdout.String())
			for _, w := range tt.want {
				assert.Contains(t, r.stderr.String(), w)
			}
			assert.NoFileExists(t, r.pidFile, "a benchmark ran despite the bad flag")
		})
	}
}

// lifeRun is one run of the lifecycle bench file.
type lifeRun struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	pidFile        string
	afterFile      string
	results        string
	done           chan struct{}
}

// startLife starts the bench file in mode with one benchmark iteration. Its
// temporary files, the built miners included, go to a directory of the test.
func startLife(t *testing.T, bin, mode string, args ...string) *lifeRun {
	t.Helper()
	r := newLifeRun(t)
	tmp := filepath.Join(filepath.Dir(r.pidFile), "tmp")
	require.NoError(t, os.Mkdir(tmp, 0o755))
	r.start(t, bin, "1x", args, lifePidsEnv+"="+r.pidFile, lifeModeEnv+"="+mode, lifeAfterEnv+"="+r.afterFile, "TMPDIR="+tmp)
	return r
}

// newLifeRun returns a run whose pid file and results go to a directory of
// the test.
func newLifeRun(t *testing.T) *lifeRun {
	dir := t.TempDir()
	return &lifeRun{pidFile: filepath.Join(dir, "pids"), afterFile: filepath.Join(dir, "after"), results: filepath.Join(dir, "results"), done: make(chan struct{})}
}

// start runs the compiled bench file bin with benchtime iterations per
// benchmark, args after the standard ones and env added to the environment;
// the test's cleanup kills it if it is still running.
func (r *lifeRun) start(t *testing.T, bin, benchtime string, args []string, env ...string) {
	t.Helper()
	args = append([]string{"-test.run", "^$", "-test.bench", ".", "-test.benchtime", benchtime, "-mb.results", r.results}, args...)
	r.cmd = exec.Command(bin, args...)
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	require.NoError(t, r.cmd.Start())
	go func() {
		_ = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
}

// waitPids waits for the pid file and returns its pids.
func (r *lifeRun) waitPids(t *testing.T) []int {
	t.Helper()
	deadline := time.After(lifeStartBound)
	for {
		if b, err := os.ReadFile(r.pidFile); err == nil {
			var pids []int
			for _, f := range strings.Fields(string(b)) {
				pid, err := strconv.Atoi(f)
				require.NoError(t, err)
				require.Positive(t, pid)
				pids = append(pids, pid)
			}
			require.NotEmpty(t, pids, "no miner was launched")
			t.Cleanup(func() {
				for _, pid := range pids {
					if !proctest.Gone(pid) {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			})
			return pids
		}
		select {
		case <-r.done:
			if _, err := os.Stat(r.pidFile); err == nil {
				continue
			}
			t.Fatalf("the run ended (%v) before writing its pids; stdout:\n%s\nstderr:\n%s", r.cmd.ProcessState, r.stdout.String(), r.stderr.String())
		case <-deadline:
			t.Fatalf("no pids after %v; stderr:\n%s", lifeStartBound, r.stderr.String())
		case <-time.After(lifePoll):
		}
	}
}

// waitStderr waits until s shows on the run's stderr.
func (r *lifeRun) waitStderr(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(lifeEndBound)
	for !strings.Contains(r.stderr.String(), s) {
		select {
		case <-r.done:
			t.Fatalf("the run ended (%v) before printing %q; stderr:\n%s", r.cmd.ProcessState, s, r.stderr.String())
		case <-deadline:
			t.Fatalf("%q not on stderr after %v; stderr:\n%s", s, lifeEndBound, r.stderr.String())
		case <-time.After(lifePoll):
		}
	}
}

// waitEnd waits for the run to end.
func (r *lifeRun) waitEnd(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(lifeEndBound):
		t.Fatalf("the run did not end within %v; stderr:\n%s", lifeEndBound, r.stderr.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
