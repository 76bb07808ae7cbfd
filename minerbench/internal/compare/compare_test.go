package compare

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeFile writes text to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

// bench formats count result lines of name, the i-th with ns/op base+i*step
// and the custom metrics scaled alike.
func bench(name string, count int, base, step float64) string {
	var b strings.Builder
	for i := range count {
		ns := base + float64(i)*step
		fmt.Fprintf(&b, "Benchmark%s-2 \t 100\t %.0f ns/op\t %.1f queries/s\t %.0f p99-ns\t 100.0 success-%%\n",
			name, ns, 1e9/ns, 2*ns)
	}
	return b.String()
}

const header = "Unit queries/s better=higher\nUnit success-% better=higher\ngoos: linux\ngoarch: amd64\npkg: example.com/m\ncpu: Test CPU\n"

// fixtures writes an old and a new file: Fast gets 20% slower, Same stays,
// OnlyOld and OnlyNew are in one file each, and Few has 2 runs on each side.
func fixtures(t *testing.T) (old, cur string) {
	dir := t.TempDir()
	old = writeFile(t, dir, "old.txt", header+
		bench("Fast/miner=noop", 10, 1000, 3)+
		bench("Same/miner=noop", 10, 5000, 7)+
		bench("OnlyOld", 10, 100, 1)+
		bench("Few", 2, 100, 1))
	cur = writeFile(t, dir, "new.txt", header+
		bench("Fast/miner=noop", 10, 1200, 3)+
		bench("Same/miner=noop", 10, 5002, 7)+
		bench("OnlyNew", 10, 100, 1)+
		bench("Few", 2, 200, 1))
	return old, cur
}

// TestTextIsBenchstats checks the text is byte for byte what go tool
// benchstat prints for the same files, footnotes and geomeans included.
func TestTextIsBenchstats(t *testing.T) {
	old, cur := fixtures(t)
	for _, args := range [][]string{{old, cur}, {old}, {"base=" + old, "head=" + cur, old}} {
		set, err := Read(args, nil)
		require.NoError(t, err)
		var got bytes.Buffer
		require.NoError(t, Text(&got, set.Tables, nil))

		cmd := exec.Command("go", append([]string{"tool", "benchstat"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		want, err := cmd.Output()
		require.NoError(t, err, stderr.String())
		assert.Equal(t, string(want), got.String(), "args %q", args)
	}
}

func TestReadRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.txt", header+bench("A", 3, 100, 1))
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty.txt", "", "empty.txt: no benchmark result: want the output of go test -bench"},
		{"prose.txt", "hello\nworld\n", "prose.txt: no benchmark result"},
		{"broken.txt", header + "BenchmarkA-2 100 12 ns/op 7\n", "broken.txt:7: missing units"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, tc.name, tc.text)
			_, err := Read([]string{good, path}, nil)
			var ie *InputError
			require.ErrorAs(t, err, &ie)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := Read([]string{good, filepath.Join(dir, "missing.txt")}, nil)
	var ie *InputError
	require.ErrorAs(t, err, &ie)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestReadKeepsConfigAndUnits(t *testing.T) {
	old, cur := fixtures(t)
	set, err := Read([]string{old, cur}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{old, cur}, set.Files)
	require.Len(t, set.Config, 2)
	assert.Equal(t, []KeyValues{{"goos", []string{"linux"}}, {"goarch", []string{"amd64"}},
		{"pkg", []string{"example.com/m"}}, {"cpu", []string{"Test CPU"}}}, set.Config[0])
	assert.Equal(t, 1, set.Units.GetBetter("queries/s"))

	var fast *Cell
	for _, tb := range set.Tables {
		if tb.Unit != "sec/op" {
			continue
		}
		for _, r := range tb.Rows {
			if r.Name == "Fast/miner=noop-2" {
				fast = r.Cells[1]
			}
		}
	}
	require.NotNil(t, fast)
	delta, significant, ok := fast.Delta()
	assert.True(t, ok)
	assert.True(t, significant)
	assert.InDelta(t, 0.2, delta, 0.01)
}

// TestReadNumbersRepeatedFiles checks a file given twice is read twice, as
// two columns labelled f and f#2, with no change between them.
func TestReadNumbersRepeatedFiles(t *testing.T) {
	old, _ := fixtures(t)
	set, err := Read([]string{old, old, "x=" + old, "x=" + old}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{old, old + "#2", "x", "x#2"}, set.Files)
	for _, tb := range set.Tables {
		assert.Equal(t, set.Files, tb.Cols)
		for _, r := range tb.Rows {
			for _, c := range r.Cells[1:] {
				require.NotNil(t, c, "%s %s", r.Name, tb.Unit)
				delta, _, ok := c.Delta()
				assert.True(t, ok)
				assert.Zero(t, delta)
			}
		}
	}
}
