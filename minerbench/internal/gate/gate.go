// Package gate decides whether a benchmark change is a regression, for CI.
//
// It compares two benchfmt files with benchstat's own statistics (through
// package compare) and fails when a metric of a benchmark in both files got
// significantly worse by more than a threshold. "Worse" follows each unit's
// better= metadata (`Unit queries/s better=higher`), with benchstat's defaults
// for the units that declare none (lower sec/op, B/op and allocs/op, higher
// B/s); a unit with no known direction is reported, not judged.
package gate

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchunit"

	"github.com/minerbench/minerbench/minerbench/internal/compare"
)

// Options configure a gate.
type Options struct {
	// Threshold is how much worse than OLD, relatively, a significant change
	// must be to fail the gate: 0.05 for 5%.
	Threshold float64
	// Metrics overrides Threshold per metric, keyed by unit as a benchmark
	// reports it (p99-ns, queries/s, ns/op) or as benchstat prints it
	// (p99-sec, sec/op).
	Metrics map[string]float64
}

// Change is a significant change of one metric of one benchmark.
type Change struct {
	// Table holds the row; its Unit names the metric.
	Table *compare.Table
	// Row is the benchmark.
	Row *compare.Row
	// Delta is the relative change of NEW from OLD (0.05 for +5%).
	Delta float64
	// Threshold is the threshold the change was judged by.
	Threshold float64
}

// String is the change as "Name unit +5.00%".
func (c Change) String() string {
	return fmt.Sprintf("%s %s %+.2f%%", c.Row.Name, c.Table.Unit, 100*c.Delta)
}

// Verdict is the outcome of a gate.
type Verdict struct {
	// Old and New label the two files.
	Old, New string
	// Threshold is Options.Threshold.
	Threshold float64
	// Regressions are the significant changes for the worse beyond their
	// threshold; Improvements the significant changes for the better beyond
	// it; Unjudged the significant changes beyond it in units of no known
	// direction.
	Regressions, Improvements, Unjudged []Change
	// Compared counts the metrics compared.
	Compared int
	// Notes say what was not compared: benchmarks and metrics present in
	// only one of the files.
	Notes []string

	tables []*compare.Table
}

// Failed reports whether the gate failed: some metric regressed.
func (v *Verdict) Failed() bool { return len(v.Regressions) > 0 }

// Error is a gate that cannot decide: its inputs are unusable (a missing or
// malformed file is a *compare.InputError instead).
type Error struct {
	// Reason says what is wrong and how to fix it.
	Reason string
}

// Error implements error.
func (e *Error) Error() string { return e.Reason }

// Check compares the benchfmt files at oldPath and newPath (each a path or
// label=path) under opts. The error is a *compare.InputError for a missing or
// malformed file and an *Error when nothing can be decided: no benchmark in
// both files, too few runs for the test to ever find a difference, or a
// -metric naming no metric of the files.
func Check(oldPath, newPath string, opts Options) (*Verdict, error) {
	if opts.Threshold < 0 || math.IsNaN(opts.Threshold) {
		return nil, &Error{Reason: fmt.Sprintf("threshold %v: want zero or more", opts.Threshold)}
	}
	set, err := compare.Read([]string{oldPath, newPath}, nil)
	if err != nil {
		return nil, err
	}
	thresholds, err := metricThresholds(set, opts)
	if err != nil {
		return nil, err
	}
	v := &Verdict{Old: set.Files[0], New: set.Files[1], Threshold: opts.Threshold}
	var few []string
	need := neededRuns(benchmath.DefaultThresholds.CompareAlpha)
	for _, t := range set.Tables {
		threshold, ok := thresholds[t.Unit]
		if !ok {
			threshold = opts.Threshold
		}
		better := set.Units.GetBetter(t.Unit)
		for _, r := range t.Rows {
			old, c := pair(set, t, r)
			if old == nil || c == nil || c.Baseline != old {
				continue
			}
			v.Compared++
			n1, n2 := len(c.Baseline.Sample.Values), len(c.Sample.Values)
			if t.Assumption == benchmath.AssumeNothing && minP(n1, n2) > benchmath.DefaultThresholds.CompareAlpha {
				few = append(few, fmt.Sprintf("%s (%d runs in %s, %d in %s)", r.Name, n1, v.Old, n2, v.New))
				continue
			}
			delta, significant, _ := c.Delta()
			if !significant || math.Abs(delta) <= threshold {
				continue
			}
			ch := Change{Table: t, Row: r, Delta: delta, Threshold: threshold}
			switch {
			case better == 0:
				v.Unjudged = append(v.Unjudged, ch)
			case (delta > 0) == (better > 0):
				v.Improvements = append(v.Improvements, ch)
			default:
				v.Regressions = append(v.Regressions, ch)
			}
		}
	}
	v.tables = set.Tables
	v.Notes = onlyInOne(set)
	if len(few) > 0 {
		slices.Sort(few)
		few = slices.Compact(few)
		return nil, &Error{Reason: fmt.Sprintf(
			"too few runs to decide: benchstat's U test at alpha %v can find no difference with fewer than %d runs of a benchmark in each file; "+
				"rerun go test with -count %d or more (benchstat advises 10): %s",
			benchmath.DefaultThresholds.CompareAlpha, need, need, strings.Join(few, "; "))}
	}
	if v.Compared == 0 {
		return nil, &Error{Reason: noCommon(set)}
	}
	return v, nil
}

// metricThresholds maps the tidied units of opts.Metrics to their
// thresholds, refusing a metric no table has.
func metricThresholds(set *compare.Set, opts Options) (map[string]float64, error) {
	var units []string
	for _, t := range set.Tables {
		if !slices.Contains(units, t.Unit) {
			units = append(units, t.Unit)
		}
	}
	out := map[string]float64{}
	for name, threshold := range opts.Metrics {
		_, unit := benchunit.Tidy(1, name)
		if !slices.Contains(units, unit) {
			return nil, &Error{Reason: fmt.Sprintf("-metric %s: no such metric in %s or %s; their metrics are %s (as benchstat names them)",
				name, set.Files[0], set.Files[1], strings.Join(units, ", "))}
		}
		if threshold < 0 || math.IsNaN(threshold) {
			return nil, &Error{Reason: fmt.Sprintf("-metric %s: threshold %v: want zero or more", name, threshold)}
		}
		out[unit] = threshold
	}
	return out, nil
}

// pair returns the cells of row r of table t from the old and the new file,
// nil where a file has none.
func pair(set *compare.Set, t *compare.Table, r *compare.Row) (old, cur *compare.Cell) {
	for j, label := range t.Cols {
		switch label {
		case set.Files[0]:
			old = r.Cells[j]
		case set.Files[1]:
			cur = r.Cells[j]
		}
	}
	return old, cur
}

// minP is the smallest two-sided p-value the Mann-Whitney U test can give
// samples of n1 and n2 values: that of two samples apart with no overlap,
// 2 / C(n1+n2, n1).
func minP(n1, n2 int) float64 {
	ways := 1.0
	for i := 1; i <= n1; i++ {
		ways = ways * float64(n2+i) / float64(i)
	}
	return math.Min(1, 2/ways)
}

// neededRuns is the fewest runs of each side for which the U test can find
// a difference at alpha.
func neededRuns(alpha float64) int {
	n := 1
	for minP(n, n) > alpha {
		n++
	}
	return n
}

// onlyInOne lists the benchmarks, and the metrics of benchmarks, found in
// one of the two files only.
func onlyInOne(set *compare.Set) []string {
	type presence struct{ old, new bool }
	names := map[string]*presence{}
	var order []string
	var metrics []string
	for _, t := range set.Tables {
		for _, r := range t.Rows {
			p := names[r.Name]
			if p == nil {
				p = &presence{}
				names[r.Name] = p
				order = append(order, r.Name)
			}
			old, cur := pair(set, t, r)
			inOld, inNew := old != nil, cur != nil
			p.old = p.old || inOld
			p.new = p.new || inNew
			if inOld != inNew {
				metrics = append(metrics, fmt.Sprintf("%s %s", r.Name, t.Unit))
			}
		}
	}
	var notes []string
	for _, name := range order {
		p := names[name]
		switch {
		case !p.new:
			notes = append(notes, fmt.Sprintf("%s only in %s: not compared", name, set.Files[0]))
		case !p.old:
			notes = append(notes, fmt.Sprintf("%s only in %s: not compared", name, set.Files[1]))
		}
	}
	for _, m := range metrics {
		name, _, _ := strings.Cut(m, " ")
		if p := names[name]; p.old && p.new {
			notes = append(notes, fmt.Sprintf("metric %s in one file only: not compared", m))
		}
	}
	return notes
}

// noCommon explains why no benchmark is in both files.
func noCommon(set *compare.Set) string {
	msg := fmt.Sprintf("no benchmark in common between %s and %s", set.Files[0], set.Files[1])
	var diff []string
	for _, kv := range set.Config[0] {
		for _, other := range set.Config[1] {
			if other.Key == kv.Key && !slices.Equal(other.Values, kv.Values) {
				diff = append(diff, fmt.Sprintf("%s %q vs %q", kv.Key, strings.Join(kv.Values, ", "), strings.Join(other.Values, ", ")))
			}
		}
	}
	if len(diff) > 0 {
		msg += "; benchstat compares only results of equal configuration, and theirs differs: " + strings.Join(diff, "; ")
	}
	return msg
}

// Write prints the verdict: the regressions as benchstat's table rows, then
// one line, to w; the notes to notes.
func (v *Verdict) Write(w, notes io.Writer) error {
	for _, n := range v.Notes {
		if _, err := fmt.Fprintf(notes, "gate: %s\n", n); err != nil {
			return err
		}
	}
	if v.Failed() {
		keep := func(t *compare.Table, r *compare.Row) bool {
			return slices.ContainsFunc(v.Regressions, func(c Change) bool { return c.Table == t && c.Row == r })
		}
		if err := compare.Text(w, v.tables, keep); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, v.line())
	return err
}

// line is the one-line verdict.
func (v *Verdict) line() string {
	var b strings.Builder
	if v.Failed() {
		fmt.Fprintf(&b, "gate: FAIL: %d significant regression%s beyond the threshold: %s",
			len(v.Regressions), plural(len(v.Regressions)), changes(v.Regressions))
	} else {
		fmt.Fprintf(&b, "gate: ok: no significant regression beyond %s in %d metrics compared", percent(v.Threshold), v.Compared)
	}
	if len(v.Improvements) > 0 {
		fmt.Fprintf(&b, "; significant improvements: %s", changes(v.Improvements))
	}
	if len(v.Unjudged) > 0 {
		fmt.Fprintf(&b, "; significant changes in units of no known direction (add a Unit … better=higher|lower line): %s", changes(v.Unjudged))
	}
	return b.String()
}

func changes(cs []Change) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s (threshold %s)", c, percent(c.Threshold))
	}
	return strings.Join(parts, ", ")
}

func percent(f float64) string { return fmt.Sprintf("%.4g%%", 100*f) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
