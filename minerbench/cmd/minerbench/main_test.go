package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const header = "Unit queries/s better=higher\nUnit success-% better=higher\n" +
	"Unit p50-ns better=lower\nUnit p90-ns better=lower\nUnit p99-ns better=lower\ngoos: linux\ngoarch: amd64\npkg: github.com/minerbench/minerbench\ncpu: Test CPU\n"

// results formats count runs of the standard benchmark of each miner, with
// a median latency of p50 seconds and a small spread; shift offsets the
// spread so that two files of equal p50 interleave.
func results(count int, p50 float64, shift float64, miners ...string) string {
	var b strings.Builder
	b.WriteString(header)
	for _, m := range miners {
		for i := range count {
			f := 1 + 0.002*(2*float64(i)+shift)
			fmt.Fprintf(&b, "BenchmarkStandard/miner=%s/batch=10/block=10/conc=1-2 \t 100\t %.0f ns/op\t %.0f p50-ns\t %.0f p90-ns\t %.0f p99-ns\t %.2f queries/s\t 100.0 success-%%\n",
				m, 1.1e9*p50*f, 1e9*p50*f, 1.6e9*p50*f, 3e9*p50*f, 1/(1.1*p50*f))
		}
	}
	return b.String()
}

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

// runCmd runs the command with args and returns its exit status, stdout and
// stderr.
func runCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := exitCode(run(&stdout, &stderr, args), &stderr)
	return code, stdout.String(), stderr.String()
}

func TestGateExitStatus(t *testing.T) {
	dir := t.TempDir()
	base := write(t, dir, "base.txt", results(10, 0.002, 0, "noop"))
	same := write(t, dir, "same.txt", results(10, 0.002, 1, "noop"))
	slow := write(t, dir, "slow.txt", results(10, 0.0024, 0, "noop"))
	fast := write(t, dir, "fast.txt", results(10, 0.0016, 0, "noop"))
	few := write(t, dir, "few.txt", results(3, 0.002, 0, "noop"))
	fewSlow := write(t, dir, "few-slow.txt", results(3, 0.003, 0, "noop"))
	other := write(t, dir, "other.txt", results(10, 0.002, 0, "template"))
	broken := write(t, dir, "broken.txt", header+"BenchmarkStandard/miner=noop-2 100 12 ns/op 7\n")
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		// stdout and stderr hold these
		stdout, stderr string
	}{
		{"noise", []string{base, same}, 0, "gate: ok: no significant regression beyond 5% in 4 metrics compared (judged: p50-sec, p99-sec, queries/s, success-%; p-values corrected by Holm's method over the 4)\n", ""},
		{"regression", []string{base, slow}, 1, "Standard/miner=noop/batch=10/block=10/conc=1-2", ""},
		{"regression within the threshold", []string{"-threshold", "25%", base, slow}, 0, "gate: ok: no significant regression beyond 25%", ""},
		{"a metric's own threshold", []string{"-threshold", "25%", "-metric", "p99-ns=10%", base, slow}, 1,
			"gate: FAIL: 1 significant regression beyond the threshold: Standard/miner=noop/batch=10/block=10/conc=1-2 p99-sec +20.00% (p=4.3e-05, threshold 10%)", ""},
		{"improvement", []string{base, fast}, 0, "significant improvements: Standard/miner=noop/batch=10/block=10/conc=1-2 queries/s +25.00% (p=4.3e-05, threshold 5%)", ""},
		{"too few runs", []string{few, fewSlow}, 2, "", "rerun go test with -count 5 or more"},
		{"no benchmark in common", []string{base, other}, 2, "", "no benchmark in common"},
		{"malformed file", []string{base, broken}, 2, "", "broken.txt:10: missing units"},
		{"missing file", []string{base, filepath.Join(dir, "nope.txt")}, 2, "", "nope.txt: stat"},
		{"one file", []string{base}, 2, "", "1 files given: want two, OLD and NEW"},
		{"bad threshold", []string{"-threshold", "5", base, same}, 2, "", `invalid value "5" for flag -threshold: "5": want a percentage, zero or more, such as 5%`},
		{"bad -metric", []string{"-metric", "p99-ns", base, same}, 2, "", `"p99-ns": want unit=percent`},
		{"every metric", []string{"-metrics", "all", base, slow}, 1, "corrected by Holm's method over the 6", ""},
		{"chosen metrics", []string{"-metrics", "p50-ns,sec/op", base, slow}, 1,
			"beyond the threshold: Standard/miner=noop/batch=10/block=10/conc=1-2 p50-sec +20.00% (p=2.2e-05, threshold 5%), " +
				"Standard/miner=noop/batch=10/block=10/conc=1-2 sec/op +20.00% (p=2.2e-05, threshold 5%) (judged: p50-sec, sec/op;", ""},
		{"bad -metrics", []string{"-metrics", "p50-ns,", base, same}, 2, "", `invalid value "p50-ns," for flag -metrics: "p50-ns,": want units separated by commas`},
		{"-metrics all with others", []string{"-metrics", "all,p50-ns", base, same}, 2, "", `all stands alone`},
		{"-metrics naming no metric", []string{"-metrics", "p95-ns", base, same}, 2, "", `-metrics p95-ns: no such metric in`},
		{"the same file twice", []string{base, base}, 0, "gate: ok: no significant regression beyond 5% in 4 metrics compared", ""},
		{"help", []string{"-h"}, 0, "", "Exit status: 0 no regression, 1 regression, 2\ncannot decide"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, stdout, stderr := runCmd(append([]string{"gate"}, tc.args...)...)
			assert.Equal(t, tc.status, status, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			assert.Contains(t, stdout, tc.stdout)
			assert.Contains(t, stderr, tc.stderr)
			if tc.status == 1 {
				assert.Contains(t, stdout, "\ngate: FAIL: ")
			}
		})
	}
}

func TestCommandUsage(t *testing.T) {
	status, stdout, _ := runCmd("-h")
	assert.Equal(t, 0, status)
	assert.Contains(t, stdout, "report")
	status, _, stderr := runCmd("plot")
	assert.Equal(t, 2, status)
	assert.Contains(t, stderr, `unknown command "plot": want report or gate`)
	status, _, stderr = runCmd()
	assert.Equal(t, 2, status)
	assert.Contains(t, stderr, "no command")
}

// history writes a history of n queries of miner at dir/mock/default/<miner>,
// with every code in codes answered in turn.
func history(t *testing.T, dir, miner string, n int, codes ...int) {
	var b strings.Builder
	b.WriteString(",time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size,start_time\n")
	elapsed := 0.0
	for i := range n {
		latency := 0.002 + 0.0005*float64(i%7)
		if i%97 == 0 {
			latency *= 10
		}
		elapsed += latency
		fmt.Fprintf(&b, "%d,%g,%d,%g,1,%d,10,10,1,1795990000.5\n", i, latency, codes[i%len(codes)], elapsed, n)
	}
	write(t, dir, filepath.Join("mock", "default", miner, "queries.csv"), b.String())
}

// reportInputs writes two result files, the noop miner 15% slower in the
// second and the flaky miner unchanged, and a results directory whose flaky
// history holds four return codes.
func reportInputs(t *testing.T) (old, cur, res string) {
	dir := t.TempDir()
	old = write(t, dir, "old.txt", results(6, 0.002, 0, "noop", "flaky"))
	cur = write(t, dir, "new.txt", results(6, 0.0023, 0, "noop")+strings.TrimPrefix(results(6, 0.002, 1, "flaky"), header))
	res = filepath.Join(dir, "results")
	history(t, res, "noop", 400, 1)
	history(t, res, "flaky", 400, 1, 1, 1, 1, 1, 18, 2, 22)
	return old, cur, res
}

func TestReportCommand(t *testing.T) {
	old, cur, res := reportInputs(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "report.html")
	plots := filepath.Join(dir, "plots")
	status, stdout, stderr := runCmd("report", "-o", out, old, cur, res)
	require.Equal(t, 0, status, stderr)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "report: wrote "+out)
	page, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(page, []byte("<!DOCTYPE html>")))
	for _, name := range []string{"comparison", "percentiles-Standard-batch=10-block=10-conc=1-2",
		"timeline-flaky-queries.csv-batch=10-block=10-conc=1-runs-of-old.txt", "codes-flaky-queries.csv-batch=10-block=10-conc=1-runs-of-old.txt"} {
		assert.Contains(t, string(page), `id="`+name+`"`)
	}

	// -svg, without histories: rasterizing their points is slow under -race.
	status, _, stderr = runCmd("report", "-o", out, "-svg", plots, old, cur)
	require.Equal(t, 0, status, stderr)
	for _, name := range []string{"comparison", "percentiles-Standard-batch=10-block=10-conc=1-2"} {
		for _, ext := range []string{".svg", ".png"} {
			assert.FileExists(t, filepath.Join(plots, name+ext))
		}
	}

	status, stdout, _ = runCmd("report", "-o", "-", old)
	assert.Equal(t, 0, status)
	assert.True(t, strings.HasPrefix(stdout, "<!DOCTYPE html>"), "-o - writes to stdout")

	status, _, stderr = runCmd("report", "-o", filepath.Join(dir, "bad.html"), old, filepath.Join(dir, "missing.txt"))
	assert.Equal(t, 2, status)
	assert.Contains(t, stderr, "missing.txt: stat")
	assert.NoFileExists(t, filepath.Join(dir, "bad.html"), "no half-written report is left")

	status, _, stderr = runCmd("report")
	assert.Equal(t, 2, status)
	assert.Contains(t, stderr, "no input")

	status, _, stderr = runCmd("report", "-gate", "-o", out, old)
	assert.Equal(t, 2, status)
	assert.Contains(t, stderr, "report: -gate with 1 benchmark files: want two or more, the first the baseline")
}

// TestReportOfOneFileTwice checks report f f reads the file twice, as f
// and f#2, and finds no change, where it used to say f held no result.
func TestReportOfOneFileTwice(t *testing.T) {
	old, _, _ := reportInputs(t)
	status, stdout, stderr := runCmd("report", "-gate", "-o", "-", old, old)
	require.Equal(t, 0, status, stderr)
	assert.Contains(t, stdout, old+"#2")
	assert.Contains(t, stdout, "Gate: PASS")
	assert.Contains(t, stdout, "No significant change")
}
