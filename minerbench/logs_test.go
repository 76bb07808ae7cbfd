//go:build unix

package minerbench

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/history"
)

// TestMinerLog runs a real bench file (testdata/logs) over the printer
// miner, which logs through its logger and prints to stdout and stderr from
// inside its forward function, and checks the miner's log: everything it
// wrote is in logs.log in its results directory, whole lines, appended run
// after run under a header; the directory is announced once on stderr and
// never on stdout; -mb.debug shows the log live on stderr; and the
// directory follows the wallet name the miner is given.
func TestMinerLog(t *testing.T) {
	bin := buildBenchFile(t, "logs")
	results := t.TempDir()
	run := func(t *testing.T, args ...string) *lifeRun {
		t.Helper()
		r := newLifeRun(t)
		r.results = results
		r.start(t, bin, "3x", append([]string{"-test.bench", "Logs"}, args...))
		r.waitEnd(t)
		require.Equal(t, 0, r.cmd.ProcessState.ExitCode(), "stdout:\n%s\nstderr:\n%s", r.stdout.String(), r.stderr.String())
		return r
	}
	dir := filepath.Join(results, "mock", "default", "printer")
	logPath := filepath.Join(dir, "logs.log")
	queryLine := regexp.MustCompile(`^printer: query (\d+) on (stdout|stderr)$`)

	first := run(t)
	assert.Equal(t, 1, strings.Count(first.stderr.String(), "Logging to: "), "stderr:\n%s", first.stderr.String())
	assert.Contains(t, first.stderr.String(), "Logging to: "+dir+"\n")
	assert.NotContains(t, first.stdout.String(), "Logging to: ")
	assert.NotContains(t, first.stderr.String()+first.stdout.String(), "printer: query", "the miner's prints show only with -mb.debug")

	log, err := os.ReadFile(logPath)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(log), "\n"), "\n")
	require.Regexp(t, `^=== \S+ minerbench: launching miner printer \(.+\)$`, lines[0])
	queries := map[string]int{} // stream → queries printed
	for _, l := range lines[1:] {
		if m := queryLine.FindStringSubmatch(l); m != nil {
			assert.Equal(t, fmt.Sprint(queries[m[2]]+1), m[1], "%s lines in order", m[2])
			queries[m[2]]++
			continue
		}
		assert.Regexp(t, `^time=\S+ level=\w+ msg=.* miner=printer`, l, "a line of the miner's logger, whole")
	}
	assert.Contains(t, string(log), `level=INFO msg="printer ready" miner=printer`+"\n", "New's logger")
	rows, err := history.Read(filepath.Join(dir, DefaultHistory+".csv"))
	require.NoError(t, err)
	want := len(rows) + warmupQueries
	assert.Equal(t, map[string]int{"stdout": want, "stderr": want}, queries, "a line per query on each stream")

	second := run(t, "-mb.debug")
	assert.Contains(t, second.stderr.String(), "printer: query 1 on stderr\n", "-mb.debug shows the log")
	assert.Contains(t, second.stderr.String(), "printer: query 1 on stdout\n")
	log, err = os.ReadFile(logPath)
	require.NoError(t, err)
	assert.Len(t, regexp.MustCompile(`(?m)^=== .* launching miner printer`).FindAllString(string(log), -1), 2, "each run appends under its header")
	assert.Equal(t, 2, strings.Count(string(log), "printer: query 1 on stderr\n"))

	third := run(t, "-mb.set", "wallet.name=alice")
	alice := filepath.Join(results, "mock", "alice", "printer")
	assert.Contains(t, third.stderr.String(), "Logging to: "+alice+"\n")
	assert.FileExists(t, filepath.Join(alice, "logs.log"))
	assert.FileExists(t, filepath.Join(alice, DefaultHistory+".csv"))
}
