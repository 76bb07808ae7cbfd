package minerbench

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// TestOpenTerminal checks when alerts also go to the terminal: when stderr
// is a regular file (go test -bench . > new.txt), not when it is a pipe
// (| tee) or there is no terminal.
func TestOpenTerminal(t *testing.T) {
	dir := t.TempDir()
	tty := filepath.Join(dir, "tty") // stands in for /dev/tty
	require.NoError(t, os.WriteFile(tty, nil, 0o644))
	file, err := os.Create(filepath.Join(dir, "new.txt"))
	require.NoError(t, err)
	defer file.Close()

	w := openTerminal(file, tty)
	require.NotNil(t, w, "stderr redirected to a file")
	alerter{stderr: file, tty: w}.fatal(errors.New("-mb.batch=0: want an integer from 1 to 4096"))
	require.NoError(t, w.Close())
	got, err := os.ReadFile(tty)
	require.NoError(t, err)
	assert.Equal(t, "minerbench: -mb.batch=0: want an integer from 1 to 4096\n", string(got))
	got, err = os.ReadFile(file.Name())
	require.NoError(t, err)
	assert.Equal(t, "minerbench: -mb.batch=0: want an integer from 1 to 4096\n", string(got), "stderr has it too")

	assert.Nil(t, openTerminal(file, filepath.Join(dir, "missing")), "no terminal")
	r, pw, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer pw.Close()
	assert.Nil(t, openTerminal(pw, tty), "stderr is a pipe: its reader shows it")
}

// TestRefusalReachesTerminal checks that Main's refusal of a bad flag goes to
// the terminal as well as to stderr.
func TestRefusalReachesTerminal(t *testing.T) {
	var out bytes.Buffer
	cfg, err := parseFlags(t, &out, "-mb.batch=0")
	require.NoError(t, err)
	var stdout, stderr, tty bytes.Buffer
	code := execute(nil, cfg, []MinerSpec{{Name: "noop", Package: "./miners/noop"}}, &stdout, alerter{stderr: &stderr, tty: &tty})
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, tty.String(), "minerbench: -mb.batch=0: want an integer from 1 to 4096")
	assert.Equal(t, stderr.String(), tty.String())
	assert.Empty(t, stdout.String())
}

// TestFailedAlert checks the terminal's note of a failed run: the status and
// the failed benchmarks; nothing goes to stderr, which has the failures'
// own output.
func TestFailedAlert(t *testing.T) {
	var stderr, tty bytes.Buffer
	alerter{stderr: &stderr, tty: &tty}.failed(1, []string{"BenchmarkStandard/miner=noop/batch=10/block=10/conc=1", "BenchmarkCustom/miner=noop/batch=15/block=10/conc=1"})
	assert.Equal(t, "minerbench: the run failed (exit status 1); its output says why. Failed:\n"+
		"    BenchmarkStandard/miner=noop/batch=10/block=10/conc=1\n"+
		"    BenchmarkCustom/miner=noop/batch=15/block=10/conc=1\n", tty.String())
	assert.Empty(t, stderr.String())

	tty.Reset()
	alerter{stderr: &stderr, tty: &tty}.failed(2, nil)
	assert.Equal(t, "minerbench: the run failed (exit status 2); its output says why\n", tty.String())
	alerter{stderr: &stderr}.failed(1, nil) // no terminal: nothing to do
	assert.Empty(t, stderr.String())
}

// benchFailing is the body of TestBenchNotesFailures: Bench against a miner
// that could not start, whose benchmark fails; it logs what the harness
// noted.
func benchFailing(b *testing.B, results string) {
	cfg := defaultConfig()
	cfg.Results = results
	h := newHarness(b.Context(), cfg)
	h.miners = []*Target{{Name: "broken", err: errors.New("broken on purpose")}, {Name: "skipped", err: errors.New("skipped")}}
	saved := current
	current = h
	defer func() { current = saved }()
	Bench(b, Load{Batch: 1, Block: 1})
	b.Logf("failed benchmarks: %q", h.failedBenchmarks())
}

// TestBenchNotesFailures checks that Bench notes the benchmarks that failed,
// by name, for the terminal's note at the end of the run.
func TestBenchNotesFailures(t *testing.T) {
	res := benchInChild(t, "failing", 1, t.TempDir())
	require.Error(t, res.Err, res.Output)
	assert.Contains(t, res.Output, "broken on purpose")
	assert.Contains(t, res.Output, `failed benchmarks: ["BenchmarkInChild/miner=broken/batch=1/block=1/conc=1" "BenchmarkInChild/miner=skipped/batch=1/block=1/conc=1"]`)
}

// benchNoSuccess is the body of TestNoSuccess: a miner that refuses every
// query, its terminal a file under results; with fail, as with
// -mb.fail-on-no-success.
func benchNoSuccess(b *testing.B, results string, fail bool) {
	refuse := func(context.Context, tensor.Tensor) (tensor.Tensor, error) {
		return tensor.Tensor{}, &axon.CodeError{Code: wire.ReturnCode_NucleusFull, Message: "busy"}
	}
	h, m := inProcess(b, results, "refusing", 10*time.Second, refuse)
	h.cfg.FailOnNoSuccess = fail
	tty, err := os.Create(filepath.Join(results, "tty"))
	require.NoError(b, err)
	defer tty.Close()
	h.alert.tty = tty
	benchLoad(b, h, m, Load{Batch: 1, Block: 1})
}

// TestNoSuccess runs a benchmark in which no query succeeds: it says so in
// its log and on the terminal, with the codes the queries got, and keeps
// its result; with -mb.fail-on-no-success it fails.
func TestNoSuccess(t *testing.T) {
	const n = 5
	const want = "NO QUERY SUCCEEDED: 5 queries, 5 NucleusFull (is -mb.timeout=10s long enough? the miner's log may say why)"
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail=%t", fail), func(t *testing.T) {
			dir := t.TempDir()
			body := "no-success"
			if fail {
				body = "no-success-fail"
			}
			res := benchInChild(t, body, n, dir)
			assert.Contains(t, res.Output, want)
			tty, err := os.ReadFile(filepath.Join(dir, "tty"))
			require.NoError(t, err)
			assert.Equal(t, "minerbench: WARNING: BenchmarkInChild: "+want+"\n", string(tty))
			if !fail {
				require.NoError(t, res.Err, res.Output)
				assert.Equal(t, n, res.N, "the result is kept")
				assert.Equal(t, 0.0, res.Metrics["success-%"])
				return
			}
			require.Error(t, res.Err, res.Output)
			assert.Contains(t, res.Output, want+"; failing, as -mb.fail-on-no-success asks")
			assert.Zero(t, res.N, "no result line")
		})
	}
}

// TestNoSuccessFlag checks -mb.fail-on-no-success: off by default, set by
// the flag, and described in -h.
func TestNoSuccessFlag(t *testing.T) {
	c := defaultConfig()
	assert.False(t, c.FailOnNoSuccess)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var help bytes.Buffer
	fs.SetOutput(&help)
	c.registerFlags(fs)
	require.NoError(t, fs.Parse([]string{"-mb.fail-on-no-success"}))
	assert.True(t, c.FailOnNoSuccess)
	fs.PrintDefaults()
	assert.Contains(t, help.String(), "-mb.fail-on-no-success\n    \tfail a benchmark in which no query succeeded (for CI)")
}
