package minerbench_test

import (
	"bytes"
	"encoding/csv"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"
)

// gomaxprocsSuffix is the "-N" go test appends to benchmark names.
var gomaxprocsSuffix = regexp.MustCompile(`-[0-9]+$`)

// buildBenchFile compiles this repository's bench file into dir and returns
// the test binary.
func buildBenchFile(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bench.test")
	out, err := exec.Command("go", "test", "-c", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go test -c .\n%s", out)
	return bin
}

// TestBenchmarkOutputContract runs this repository's benchmarks briefly in a
// child test binary and reads its whole stdout as benchstat would: only the
// expected configuration keys, every metric of the contract on every result,
// the Unit lines, and names that parse into their keys.
func TestBenchmarkOutputContract(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bundled miners")
	}
	dir := t.TempDir()
	bin := buildBenchFile(t, dir)
	run := exec.Command(bin, "-test.run", "^$", "-test.bench", "Standard|Concurrency", "-test.benchtime", "5x",
		"-test.benchmem", "-mb.results", filepath.Join(dir, "results"))
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	require.NoError(t, run.Run(), "stderr:\n%s", stderr.String())

	reader := benchfmt.NewReader(bytes.NewReader(stdout.Bytes()), "stdout")
	results := map[string]bool{}
	for reader.Scan() {
		switch rec := reader.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("syntax error: %v", rec)
		case *benchfmt.Result:
			results[gomaxprocsSuffix.ReplaceAllString(rec.Name.String(), "")] = true
			checkResultContract(t, rec)
		}
	}
	require.NoError(t, reader.Err())
	units := reader.Units()
	for u, better := range map[string]string{"queries/s": "higher", "success-%": "higher",
		"p50-ns": "lower", "p90-ns": "lower", "p99-ns": "lower", "late-%": "lower", "dropped-%": "lower"} {
		meta := units.Get(u, "better")
		if assert.NotNil(t, meta, "no Unit %s better= line", u) {
			assert.Equal(t, better, meta.Value, u)
		}
	}
	for name := range results {
		assert.NotContains(t, name, "miner=flaky", "an optional miner ran though -mb.miners did not name it")
	}
	printed := stdout.String()
	for _, miner := range []string{"template", "noop"} {
		var names []string
		for _, conc := range []string{"1", "4", "16"} {
			name := "Concurrency/miner=" + miner + "/batch=10/block=10/conc=" + conc
			assert.Contains(t, results, name)
			names = append(names, name)
		}
		names = append(names, "Standard/miner="+miner+"/batch=10/block=10/conc=1")
		history := filepath.Join(dir, "results", "mock", "default", miner, "queries.csv")
		_, err := os.Stat(history)
		assert.NoError(t, err, "history of %s", miner)

		// Each result's analysis is in analysis.txt beside the history,
		// named once in stdout; each has a one-line summary in its log.
		analysis := filepath.Join(filepath.Dir(history), "analysis.txt")
		text, err := os.ReadFile(analysis)
		require.NoError(t, err)
		assert.Equal(t, 1, strings.Count(printed, analysis), "stdout names %s once:\n%s", analysis, printed)
		for _, name := range names {
			assert.Contains(t, string(text), "=== Benchmark"+name+"\n")
			assert.Regexp(t, `--- BENCH: Benchmark`+regexp.QuoteMeta(name)+`-\d+\n\s+\w+\.go:\d+: 5 queries: QPS [0-9.]+ \(1/mean\(time\), as QueryBenchmark computed it\), success 1, p50 `, printed)
		}
		assert.Equal(t, len(names), strings.Count(string(text), "\ndescribe() "), "one analysis per result")
	}
}

// flakyExample is the example of the flaky miner in docs/miners.md, as
// written there.
const flakyExample = `go test -run '^$' -bench . -benchtime 20x -mb.miners flaky \
    -mb.set flaky:flaky.code=NucleusFull -mb.set flaky:flaky.every=4`

// TestFlakyExample runs the docs' flaky example with the go command, as a
// user would, its histories sent to a temporary directory: only the optional
// flaky miner runs, and each benchmark reports the 75.00 success-% the
// page promises, from 5 NucleusFull answers in every 20 queries.
func TestFlakyExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the flaky miner")
	}
	doc, err := os.ReadFile("docs/miners.md")
	require.NoError(t, err)
	require.Contains(t, string(doc), flakyExample, "the example in docs/miners.md is not the one tested here")

	args := strings.Fields(strings.NewReplacer(`\`, "", "'", "").Replace(flakyExample))
	results := filepath.Join(t.TempDir(), "results")
	cmd := exec.Command(args[0], append(args[1:], "-mb.results", results)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())

	reader := benchfmt.NewReader(bytes.NewReader(stdout.Bytes()), "stdout")
	n := 0
	for reader.Scan() {
		rec, ok := reader.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		n++
		name := rec.Name.String()
		assert.Contains(t, name, "/miner=flaky/")
		assert.Equal(t, 20, rec.Iters, name)
		success, ok := rec.Value("success-%")
		if assert.True(t, ok, "%s: no success-%%", name) {
			assert.Equal(t, 75.0, success, name)
		}
	}
	require.NoError(t, reader.Err())
	assert.Positive(t, n, "no result; stdout:\n%s", stdout.String())

	// The history as pandas reads it: the code column, 1 for Success and
	// 18 for NucleusFull, as Bittensor 2.0.x numbers them.
	f, err := os.Open(filepath.Join(results, "mock", "default", "flaky", "queries.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(rows), 1, "a header and rows")
	require.Equal(t, "code", rows[0][2])
	codes := map[string]int{}
	for _, r := range rows[1:] {
		codes[r[2]]++
	}
	queries := len(rows) - 1
	assert.Equal(t, map[string]int{"18": queries / 4, "1": queries * 3 / 4}, codes)
}

// TestNoTestingBenchmark scans every test file of the repository: in a
// package that declares benchmarks, no test may call testing.Benchmark. Its
// first call in a process prints the goos, goarch, pkg and cpu lines to a
// discarded writer, once per process, so every benchmark output of that
// process lacks them, and benchstat groups results by them. A test that
// needs a *testing.B runs a benchmark in a child process instead (see
// minerbench's benchInChild).
func TestNoTestingBenchmark(t *testing.T) {
	type pkgFiles struct {
		benchmarks bool
		calls      []string // positions of testing.Benchmark calls
	}
	dirs := map[string]*pkgFiles{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		p := dirs[filepath.Dir(path)]
		if p == nil {
			p = &pkgFiles{}
			dirs[filepath.Dir(path)] = p
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Benchmark") {
				p.benchmarks = true
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Benchmark" {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "testing" {
					p.calls = append(p.calls, fset.Position(call.Pos()).String())
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, dirs, "no test file found")
	for dir, p := range dirs {
		if p.benchmarks {
			assert.Empty(t, p.calls, "package %s declares benchmarks, so its tests must not call testing.Benchmark: "+
				"it takes the goos/goarch/pkg/cpu lines from every benchmark output of the process", dir)
		}
	}
}

// checkResultContract checks that one result line has the contract's
// configuration keys, metrics and name keys.
func checkResultContract(t *testing.T, rec *benchfmt.Result) {
	allowedConfig := map[string]bool{"goos": true, "goarch": true, "pkg": true, "cpu": true}
	wantUnits := []string{"ns/op", "MB/s", "B/op", "allocs/op", "queries/s", "success-%", "p50-ns", "p90-ns", "p99-ns"}
	wantKeys := []string{"miner", "batch", "block", "conc"}
	name := rec.Name.String()
	for _, c := range rec.Config {
		assert.True(t, allowedConfig[c.Key], "%s: unexpected configuration key %q=%q", name, c.Key, c.Value)
	}
	got := map[string]float64{}
	for _, v := range rec.Values {
		if v.OrigUnit != "" { // benchfmt fills Orig* only for units it tidied
			got[v.OrigUnit] = v.OrigValue
		} else {
			got[v.Unit] = v.Value
		}
	}
	for _, u := range wantUnits {
		assert.Contains(t, got, u, "%s: missing metric %s", name, u)
	}
	assert.Equal(t, 100.0, got["success-%"], "%s: the bundled miners answer every query", name)
	assert.Positive(t, got["queries/s"], name)
	assert.LessOrEqual(t, got["p50-ns"], got["p99-ns"], name)
	_, parts := rec.Name.Parts()
	keys := map[string]string{}
	for _, p := range parts {
		if k, v, ok := strings.Cut(strings.TrimPrefix(string(p), "/"), "="); ok {
			keys[k] = v
		}
	}
	for _, k := range wantKeys {
		assert.NotEmpty(t, keys[k], "%s: name lacks key %s", name, k)
	}
}
