package gate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/compare"
)

const header = "Unit queries/s better=higher\ngoos: linux\ngoarch: amd64\npkg: example.com/m\n"

// metric is one metric of a fixture benchmark: n runs of value base,
// spread by step, offset by shift (to interleave two files' values).
type metric struct {
	unit              string
	base, step, shift float64
}

// lines formats n result lines of benchmark name.
func lines(name string, n int, metrics ...metric) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Benchmark%s-2 \t 100", name)
		for _, m := range metrics {
			fmt.Fprintf(&b, "\t %g %s", m.base+m.step*(float64(i)*2+m.shift), m.unit)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func ns(base, shift float64) metric  { return metric{"ns/op", base, base / 1000, shift} }
func qps(base, shift float64) metric { return metric{"queries/s", base, base / 1000, shift} }

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		opts     Options
		// regressions, improvements and unjudged, as Change strings
		regressions, improvements, unjudged []string
		notes                               []string
		// err is a part of the error, when Check must refuse
		err string
	}{{
		name:        "clear regression",
		old:         header + lines("Query/miner=noop", 10, ns(1000, 0), qps(1000, 0)),
		new:         header + lines("Query/miner=noop", 10, ns(1200, 0), qps(833, 0)),
		opts:        Options{Judge: []string{"all"}},
		regressions: []string{"Query/miner=noop-2 sec/op +20.00%", "Query/miner=noop-2 queries/s -16.70%"},
	}, {
		name:        "only the default metrics judged",
		old:         header + lines("Query/miner=noop", 10, ns(1000, 0), qps(1000, 0)),
		new:         header + lines("Query/miner=noop", 10, ns(1200, 0), qps(833, 0)),
		regressions: []string{"Query/miner=noop-2 queries/s -16.70%"},
	}, {
		name: "noise",
		old:  header + lines("Query", 10, ns(1000, 0), qps(1000, 0)),
		new:  header + lines("Query", 10, ns(1000, 1), qps(1000, 1)),
	}, {
		name:         "improvement",
		old:          header + lines("Query", 10, ns(1000, 0), qps(1000, 0)),
		new:          header + lines("Query", 10, ns(800, 0), qps(1250, 0)),
		opts:         Options{Judge: []string{"ns/op", "queries/s"}},
		improvements: []string{"Query-2 queries/s +25.00%", "Query-2 sec/op -20.00%"},
	}, {
		name:        "better=higher metric falling",
		old:         header + lines("Conc", 10, ns(1000, 0), qps(4000, 0)),
		new:         header + lines("Conc", 10, ns(1000, 1), qps(3000, 0)),
		regressions: []string{"Conc-2 queries/s -25.00%"},
	}, {
		name:        "within the threshold",
		old:         header + lines("Query", 10, ns(1000, 0)),
		new:         header + lines("Query", 10, ns(1030, 0)),
		opts:        Options{Threshold: 0.05, Judge: []string{"all"}},
		regressions: nil,
	}, {
		name:        "a metric's own threshold",
		old:         header + lines("Query", 10, ns(1000, 0)),
		new:         header + lines("Query", 10, ns(1030, 0)),
		opts:        Options{Threshold: 0.05, Metrics: map[string]float64{"ns/op": 0.01}},
		regressions: []string{"Query-2 sec/op +3.00%"},
	}, {
		name:     "a unit of no known direction",
		old:      header + lines("Query", 10, metric{"p99-ns", 1000, 1, 0}),
		new:      header + lines("Query", 10, metric{"p99-ns", 2000, 1, 0}),
		opts:     Options{Judge: []string{"all"}},
		unjudged: []string{"Query-2 p99-sec +99.11%"},
	}, {
		name:        "names in only one file",
		old:         header + lines("Both", 10, ns(1000, 0)) + lines("Gone", 10, ns(1000, 0)),
		new:         header + lines("Both", 10, ns(1500, 0)) + lines("Added", 10, ns(1000, 0)),
		opts:        Options{Judge: []string{"all"}},
		regressions: []string{"Both-2 sec/op +50.00%"},
		notes:       []string{"Gone-2 only in OLD: not compared", "Added-2 only in NEW: not compared"},
	}, {
		name: "no benchmark in common",
		old:  header + lines("Gone", 10, ns(1000, 0)),
		new:  header + lines("Added", 10, ns(1000, 0)),
		opts: Options{Judge: []string{"all"}},
		err:  "no benchmark in common between OLD and NEW",
	}, {
		name: "no default metric",
		old:  header + lines("Query", 10, ns(1000, 0)),
		new:  header + lines("Query", 10, ns(2000, 0)),
		err:  "no metric to judge in OLD and NEW: they report none of queries/s, success-%, p50-ns, p99-ns; choose with -metrics",
	}, {
		name: "too few samples",
		old:  header + lines("Query", 3, ns(1000, 0)),
		new:  header + lines("Query", 3, ns(2000, 0)),
		opts: Options{Judge: []string{"ns/op"}},
		err:  "too few runs to decide: with 1 metrics judged, Holm's correction asks a p-value of 0.05 or less, which benchstat's U test cannot give with fewer than 4 runs of a benchmark in each file; rerun go test with -count 4 or more (benchstat advises 10), or judge fewer metrics (-metrics): Query-2 (3 runs in OLD, 3 in NEW)",
	}, {
		name: "too few samples for the metrics judged",
		old:  header + lines("Query", 4, ns(1000, 0), qps(1000, 0)) + lines("Other", 4, ns(1000, 0), qps(1000, 0)),
		new:  header + lines("Query", 4, ns(2000, 0), qps(500, 0)) + lines("Other", 4, ns(1000, 1), qps(1000, 1)),
		opts: Options{Judge: []string{"all"}},
		err:  "with 4 metrics judged, Holm's correction asks a p-value of 0.0125 or less, which benchstat's U test cannot give with fewer than 5 runs",
	}, {
		name: "malformed file",
		old:  header + lines("Query", 10, ns(1000, 0)),
		new:  header + "BenchmarkQuery-2 100 1000\n",
		err:  "NEW:5: missing units",
	}, {
		name: "not a benchmark file",
		old:  header + lines("Query", 10, ns(1000, 0)),
		new:  "PASS\nok  example.com/m 0.1s\n",
		err:  "NEW: no benchmark result: want the output of go test -bench",
	}, {
		name: "a -metric no file has",
		old:  header + lines("Query", 10, ns(1000, 0)),
		new:  header + lines("Query", 10, ns(1000, 0)),
		opts: Options{Metrics: map[string]float64{"p95-ns": 0.1}},
		err:  "-metric p95-ns: no such metric in OLD or NEW; their metrics are sec/op",
	}, {
		name: "a -metrics no file has",
		old:  header + lines("Query", 10, ns(1000, 0)),
		new:  header + lines("Query", 10, ns(1000, 0)),
		opts: Options{Judge: []string{"p95-ns"}},
		err:  "-metrics p95-ns: no such metric in OLD or NEW; their metrics are sec/op",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			oldPath, newPath := filepath.Join(dir, "old.txt"), filepath.Join(dir, "new.txt")
			require.NoError(t, os.WriteFile(oldPath, []byte(tc.old), 0o644))
			require.NoError(t, os.WriteFile(newPath, []byte(tc.new), 0o644))
			v, err := Check("OLD="+oldPath, "NEW="+newPath, tc.opts)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Nil(t, v)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.regressions, names(v.Regressions), "regressions")
			assert.Equal(t, tc.improvements, names(v.Improvements), "improvements")
			assert.Equal(t, tc.unjudged, names(v.Unjudged), "unjudged")
			assert.Equal(t, tc.notes, v.Notes)
			assert.Equal(t, len(tc.regressions) > 0, v.Failed())

			var out, notes bytes.Buffer
			require.NoError(t, v.Write(&out, &notes))
			text := out.String()
			verdict := text[strings.LastIndex(strings.TrimSuffix(text, "\n"), "\n")+1:]
			if v.Failed() {
				assert.True(t, strings.HasPrefix(verdict, "gate: FAIL: "), verdict)
				for _, r := range v.Regressions {
					assert.Contains(t, text, r.Row.Name+" ", "the offending row is printed")
				}
			} else {
				assert.Equal(t, text, verdict, "only the verdict line")
				assert.True(t, strings.HasPrefix(verdict, "gate: ok: no significant regression"), verdict)
			}
			for _, c := range v.Improvements {
				assert.Contains(t, verdict, c.String())
			}
			for _, n := range tc.notes {
				assert.Contains(t, notes.String(), "gate: "+n+"\n")
			}
		})
	}
}

func names(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

// TestFailedPrintsBenchstatRows checks a failed gate prints the regressed
// rows as benchstat's table prints them, and no other row.
func TestFailedPrintsBenchstatRows(t *testing.T) {
	dir := t.TempDir()
	oldPath, newPath := filepath.Join(dir, "old.txt"), filepath.Join(dir, "new.txt")
	require.NoError(t, os.WriteFile(oldPath, []byte(header+lines("Slow", 10, ns(1000, 0))+lines("Same", 10, ns(1000, 0))), 0o644))
	require.NoError(t, os.WriteFile(newPath, []byte(header+lines("Slow", 10, ns(1300, 0))+lines("Same", 10, ns(1000, 1))), 0o644))
	v, err := Check(oldPath, newPath, Options{Threshold: 0.05, Judge: []string{"ns/op"}})
	require.NoError(t, err)
	var out, notes bytes.Buffer
	require.NoError(t, v.Write(&out, &notes))

	set, err := compare.Read([]string{oldPath, newPath}, nil)
	require.NoError(t, err)
	var full bytes.Buffer
	require.NoError(t, compare.Text(&full, set.Tables, nil))
	row := func(text string) []string {
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "Slow-2 ") {
				return strings.Fields(l)
			}
		}
		return nil
	}
	require.NotEmpty(t, row(full.String()))
	assert.Equal(t, row(full.String()), row(out.String()), "the row as benchstat prints it")
	assert.Contains(t, out.String(), "goos: linux\n")
	assert.NotContains(t, out.String(), "Same-2")
	assert.Contains(t, out.String(), "gate: FAIL: 1 significant regression beyond the threshold: Slow-2 sec/op +30.00% (p=2.2e-05, threshold 5%) (judged: sec/op; p-values corrected by Holm's method over the 2)\n")
	assert.Empty(t, notes.String())
}

func TestNeededRuns(t *testing.T) {
	// benchmath's table of the U test's smallest p-value for n and n values.
	assert.InDelta(t, 0.1, minP(3, 3), 1e-12)
	assert.InDelta(t, 0.02857142857142857, minP(4, 4), 1e-12)
	assert.InDelta(t, 4.113533525298231e-05, minP(9, 9), 1e-15)
	assert.Equal(t, 1.0, minP(1, 1))
	assert.Equal(t, 4, neededRuns(0.05))
	assert.Equal(t, 5, neededRuns(0.01))
}

// TestHolm checks the adjusted p-values against ones worked by hand: sorted,
// 0.005, 0.01, 0.03, 0.04 are multiplied by 4, 3, 2 and 1 (0.02, 0.03, 0.06,
// 0.04), and each is raised to the largest before it (0.04 to 0.06).
func TestHolm(t *testing.T) {
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	require.Len(t, got, len(want))
	for i := range want {
		assert.InDelta(t, want[i], got[i], 1e-12, "p[%d]", i)
	}
	// Capped at 1; ties keep their order; one p-value is left as it is.
	assert.Equal(t, []float64{1, 1, 1}, Holm([]float64{0.5, 0.9, 0.5}))
	assert.Equal(t, []float64{0.2}, Holm([]float64{0.2}))
	assert.Empty(t, Holm(nil))
	// Bonferroni would keep only 0.01 (0.01 × 3 = 0.03 ≤ 0.05); Holm also
	// keeps 0.02 (× 2 = 0.04).
	adj := Holm([]float64{0.01, 0.02, 0.2})
	assert.InDelta(t, 0.03, adj[0], 1e-12)
	assert.InDelta(t, 0.04, adj[1], 1e-12)
	assert.InDelta(t, 0.2, adj[2], 1e-12)
}

// TestDefaultMetrics checks the metrics judged by default: queries/s,
// success-%, p50 and p99 (p50-ns and p99-ns, which benchstat names
// p50-sec and p99-sec), not the
// others, and that -metric adds the one it names.
func TestDefaultMetrics(t *testing.T) {
	assert.Equal(t, []string{"queries/s", "success-%", "p50-ns", "p99-ns"}, DefaultMetrics)
	dir := t.TempDir()
	all := func(f float64) []metric {
		return []metric{ns(1000*f, 0), qps(1000/f, 0), {"success-%", 100 / f, 0.01 / f, 0}, {"p50-ns", 800 * f, f, 0},
			{"p99-ns", 3000 * f, 3 * f, 0}, {"B/op", 10 * f, 0.01 * f, 0}}
	}
	oldPath, newPath := filepath.Join(dir, "old.txt"), filepath.Join(dir, "new.txt")
	units := header + "Unit p99-ns better=lower\nUnit p50-ns better=lower\n"
	require.NoError(t, os.WriteFile(oldPath, []byte(units+lines("Q", 10, all(1)...)), 0o644))
	require.NoError(t, os.WriteFile(newPath, []byte(units+lines("Q", 10, all(1.2)...)), 0o644))
	v, err := Check(oldPath, newPath, Options{Threshold: 0.05})
	require.NoError(t, err)
	assert.Equal(t, []string{"p50-sec", "p99-sec", "queries/s", "success-%"}, v.Units)
	assert.Equal(t, 4, v.Compared)
	assert.Equal(t, []string{"Q-2 p50-sec +20.00%", "Q-2 p99-sec +20.00%", "Q-2 queries/s -16.67%"}, names(v.Regressions),
		"success-% has no better= line here: its change is listed, not judged")
	assert.Equal(t, []string{"Q-2 success-% -16.67%"}, names(v.Unjudged))

	v, err = Check(oldPath, newPath, Options{Threshold: 0.05, Metrics: map[string]float64{"B/op": 0.1}})
	require.NoError(t, err)
	assert.Equal(t, []string{"B/op", "p50-sec", "p99-sec", "queries/s", "success-%"}, v.Units)
	assert.Contains(t, names(v.Regressions), "Q-2 B/op +20.00%")
}
