package minerbench_test

import (
	"bytes"
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

// TestBenchmarkOutputContract runs this repository's benchmarks briefly in a
// child test binary and reads its whole stdout as benchstat would: only the
// expected configuration keys, every metric of the contract on every result,
// the Unit lines, and names that parse into their keys.
func TestBenchmarkOutputContract(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bundled miners")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bench.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	run := exec.Command(bin, "-test.run", "^$", "-test.bench", "Standard|Concurrency", "-test.benchtime", "5x",
		"-test.benchmem", "-mb.results", filepath.Join(dir, "results"))
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	require.NoError(t, run.Run(), "stderr:\n%s", stderr.String())

	allowedConfig := map[string]bool{"goos": true, "goarch": true, "pkg": true, "cpu": true}
	wantUnits := []string{"ns/op", "MB/s", "B/op", "allocs/op", "queries/s", "success-%", "p50-ns", "p90-ns", "p99-ns"}
	wantKeys := []string{"miner", "batch", "block", "conc"}

	reader := benchfmt.NewReader(bytes.NewReader(stdout.Bytes()), "stdout")
	results := map[string]bool{}
	for reader.Scan() {
		switch rec := reader.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("syntax error: %v", rec)
		case *benchfmt.Result:
			name := rec.Name.String()
			results[gomaxprocsSuffix.ReplaceAllString(name, "")] = true
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
	}
	require.NoError(t, reader.Err())
	units := reader.Units()
	for u, better := range map[string]string{"queries/s": "higher", "success-%": "higher",
		"p50-ns": "lower", "p90-ns": "lower", "p99-ns": "lower"} {
		meta := units.Get(u, "better")
		if assert.NotNil(t, meta, "no Unit %s better= line", u) {
			assert.Equal(t, better, meta.Value, u)
		}
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
			assert.Regexp(t, `--- BENCH: Benchmark`+regexp.QuoteMeta(name)+`-\d+\n\s+\w+\.go:\d+: 5 queries: QPS [0-9.]+ \(1/mean\(time\), as the original\), success 1, p50 `, printed)
		}
		assert.Equal(t, len(names), strings.Count(string(text), "\ndescribe() "), "one analysis per result")
	}
}
