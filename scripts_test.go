package minerbench_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"
)

// fakeBenchFile stands in for a bench file in TestCompareScript: it refuses
// -mb.batch below 1 as Main does, and has one quick benchmark.
const fakeBenchFile = `package fake

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var (
	batch   = flag.Int("mb.batch", 10, "")
	results = flag.String("mb.results", "", "")
)

func TestMain(m *testing.M) {
	flag.Parse()
	if *batch < 1 {
		fmt.Fprintf(os.Stderr, "minerbench: -mb.batch=%d: want an integer from 1 to 4096\n", *batch)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// BenchmarkFake appends a run of one query to a history under
// -mb.results, as a miner's benchmark does.
func BenchmarkFake(b *testing.B) {
	for b.Loop() {
	}
	path := filepath.Join(*results, "mock", "default", "fake", "queries.csv")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Size() == 0 {
		fmt.Fprintln(f, ",time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size,start_time")
	}
	fmt.Fprintf(f, "0,0.001,1,0.001,1,1,%d,10,1,%d\n", *batch, time.Now().UnixNano())
}
`

// TestCompareScript runs scripts/compare.sh in a scratch git repository
// whose bench file is a stand-in: a refused flag is shown and ends the script
// with go test's status, leaving no old.txt or new.txt (an earlier
// comparison's are removed); a good run writes both and each side's
// histories apart, each side first in turn, and prints benchstat's table
// and the report's command; NEW_ARGS reach the new side only.
func TestCompareScript(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test and go tool benchstat in a scratch repository")
	}
	for _, tool := range []string{"bash", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("compare.sh needs %s: %v", tool, err)
		}
	}
	repo := compareRepo(t)
	results := []string{filepath.Join(repo, "old.txt"), filepath.Join(repo, "new.txt")}

	t.Run("refused flag", func(t *testing.T) {
		for _, f := range results {
			require.NoError(t, os.WriteFile(f, []byte("BenchmarkStale 1 1 ns/op\n"), 0o644))
		}
		_, stderr, code := runCompare(t, repo, "HEAD", "-benchtime", "1x", "-mb.batch", "0")
		assert.Equal(t, 1, code, "go test's exit status; stderr:\n%s", stderr)
		assert.Contains(t, stderr, "minerbench: -mb.batch=0: want an integer from 1 to 4096")
		assert.Contains(t, stderr, "failed with exit status 1; its output:")
		for _, f := range results {
			assert.NoFileExists(t, f, "a stale result file looks current")
		}
	})
	t.Run("no benchmark matched", func(t *testing.T) {
		cmd := exec.Command("bash", "scripts/compare.sh", "HEAD", "-benchtime", "1x")
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "COUNT=1", "BENCH=NoSuchBenchmark")
		out, err := cmd.CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "printed no benchmark result")
		for _, f := range results {
			assert.NoFileExists(t, f)
		}
	})
	t.Run("good run", func(t *testing.T) { testCompareGoodRun(t, repo, results) })
	t.Run("OUT and NEW_ARGS", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "cmp")
		_, stderr, code := runScript(t, repo, []string{"COUNT=1", "OUT=" + out, "NEW_ARGS=-mb.batch 0"}, "scripts/compare.sh", "HEAD", "-benchtime", "1x")
		assert.Equal(t, 1, code, "stderr:\n%s", stderr)
		assert.Contains(t, stderr, "the new run ("+repo+") failed", "the old side ran without NEW_ARGS")
		assert.NotContains(t, stderr, "the old run")
		assert.NoFileExists(t, filepath.Join(out, "old.txt"))

		_, stderr, code = runScript(t, repo, []string{"COUNT=1", "OUT=" + out, "NEW_ARGS=-mb.batch 3"}, "scripts/compare.sh", "HEAD", "-benchtime", "1x")
		require.Zero(t, code, "stderr:\n%s", stderr)
		for side, batch := range map[string]string{"old": "10", "new": "3"} {
			b, err := os.ReadFile(filepath.Join(out, side+"-results", "mock", "default", "fake", "queries.csv"))
			require.NoError(t, err)
			assert.Contains(t, string(b), ",1,1,"+batch+",10,1,", "the %s side's batch", side)
			assert.FileExists(t, filepath.Join(out, side+".txt"))
		}
	})
}

// compareRepo makes a scratch git repository holding scripts/compare.sh,
// the module's go.mod and go.sum and the stand-in bench file, committed.
func compareRepo(t *testing.T) string {
	t.Helper()
	repo := t.TempDir()
	script, err := os.ReadFile(filepath.Join("scripts", "compare.sh"))
	require.NoError(t, err)
	// The repository's own go.mod and go.sum give go tool benchstat.
	files := map[string]string{"scripts/compare.sh": string(script), "fake_test.go": fakeBenchFile}
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		files[name] = string(b)
	}
	for name, content := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(repo, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(repo, name), []byte(content), 0o755))
	}
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v\n%s", args, out)
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "fake bench file")
	return repo
}

// runCompare runs scripts/compare.sh in repo with two runs of each side.
func runCompare(t *testing.T, repo string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runScript(t, repo, []string{"COUNT=2"}, "scripts/compare.sh", args...)
}

// testCompareGoodRun checks a good run in repo writes both result files and
// each side's histories, each side first in turn, and prints benchstat's
// table and the report's command.
func testCompareGoodRun(t *testing.T, repo string, results []string) {
	stdout, stderr, code := runCompare(t, repo, "HEAD", "-benchtime", "1x")
	require.Zero(t, code, "stderr:\n%s", stderr)
	for _, f := range results {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Contains(t, string(b), "BenchmarkFake")
	}
	assert.True(t, strings.Contains(stdout, "old.txt") && strings.Contains(stdout, "new.txt") && strings.Contains(stdout, "Fake"),
		"benchstat's table:\n%s", stdout)
	starts := map[string][]string{}
	for _, side := range []string{"old", "new"} {
		b, err := os.ReadFile(filepath.Join(repo, side+"-results", "mock", "default", "fake", "queries.csv"))
		require.NoError(t, err, "the %s side's histories are kept", side)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		require.Len(t, lines, 3, "the header and the %s side's 2 runs, no other's", side)
		for _, l := range lines[1:] {
			fields := strings.Split(l, ",")
			starts[side] = append(starts[side], fields[len(fields)-1])
		}
	}
	// The fake's start times are Unix nanoseconds, all of one length.
	assert.Less(t, starts["old"][0], starts["new"][0], "the old side first in the first pair")
	assert.Less(t, starts["new"][1], starts["old"][1], "the new side first in the second")
	assert.Contains(t, stderr, "go tool minerbench report -o "+filepath.Join(repo, "report.html")+
		" old="+filepath.Join(repo, "old.txt")+" new="+filepath.Join(repo, "new.txt")+
		" old="+filepath.Join(repo, "old-results")+" new="+filepath.Join(repo, "new-results"))
}

// loopBenchFile is the module TestInstructionsScript measures: two
// benchmarks whose ops differ by a known amount of work, the second with a
// regular-expression character in its name.
const loopBenchFile = `package loop

import "testing"

var sink uint64

func spin(n int) {
	x := sink
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	sink = x
}

func BenchmarkLoop(b *testing.B) {
	b.Run("n=20000", func(b *testing.B) {
		for b.Loop() {
			spin(20000)
		}
	})
	b.Run("n=20000+20000", func(b *testing.B) {
		for b.Loop() {
			spin(40000)
		}
	})
}
`

// TestInstructionsScript runs scripts/instructions.sh on a scratch module:
// its lines parse as benchmark results, each benchmark is measured on its
// own (a name with "+" is matched literally), the counts scale with the
// work, and bad arguments are refused with a message.
func TestInstructionsScript(t *testing.T) {
	if testing.Short() {
		t.Skip("runs benchmarks under valgrind")
	}
	if _, err := exec.LookPath("valgrind"); err != nil {
		t.Skip("instructions.sh needs valgrind (Debian: apt-get install valgrind)")
	}
	script, err := filepath.Abs(filepath.Join("scripts", "instructions.sh"))
	require.NoError(t, err)
	mod := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":       "module loop\n\ngo 1.26\n",
		"loop_test.go": loopBenchFile,
	} {
		require.NoError(t, os.WriteFile(filepath.Join(mod, name), []byte(content), 0o644))
	}
	run := func(args ...string) (stdout, stderr string, code int) {
		return runScript(t, mod, []string{"N1=20", "N2=220"}, script, args...)
	}

	t.Run("counts", func(t *testing.T) {
		stdout, stderr, code := run(".", "Loop")
		require.Zero(t, code, "stderr:\n%s", stderr)
		counts := map[string]float64{}
		better := ""
		reader := benchfmt.NewReader(strings.NewReader(stdout), "stdout")
		for reader.Scan() {
			switch rec := reader.Result().(type) {
			case *benchfmt.SyntaxError:
				t.Errorf("not a benchmark line: %v", rec)
			case *benchfmt.UnitMetadata:
				if rec.Unit == "instructions/op" && rec.Key == "better" {
					better = rec.Value
				}
			case *benchfmt.Result:
				assert.Equal(t, 200, rec.Iters, "N2 - N1 ops")
				v, ok := rec.Value("instructions/op")
				require.True(t, ok, "%s has no instructions/op", rec.Name.Full())
				counts[string(rec.Name.Full())] = v
			}
		}
		require.NoError(t, reader.Err())
		assert.Equal(t, "lower", better, "the unit's direction, for go tool minerbench gate")
		single, double := counts["Loop/n=20000"], counts["Loop/n=20000+20000"]
		require.Len(t, counts, 2, "one line per benchmark:\n%s", stdout)
		assert.Greater(t, single, 20000.0, "at least an instruction per iteration")
		assert.InEpsilon(t, 2, double/single, 0.05, "twice the work, twice the instructions: %v and %v", single, double)
	})
	t.Run("no arguments", func(t *testing.T) {
		_, stderr, code := run()
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "Usage: scripts/instructions.sh PACKAGE BENCH")
	})
	t.Run("no benchmark matched", func(t *testing.T) {
		_, stderr, code := run(".", "NoSuchBenchmark")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "no benchmark of . matches NoSuchBenchmark")
	})
}

// runScript runs the bash script at path in dir, with env added to the
// environment, and returns its output and exit status.
func runScript(t *testing.T, dir string, env []string, path string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{path}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), exit.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), errOut.String(), 0
}
