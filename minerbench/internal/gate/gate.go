// Package gate decides whether a benchmark change is a regression, for CI.
//
// It compares two benchfmt files with benchstat's own statistics (through
// package compare) and fails when a metric of a benchmark in both files got
// significantly worse by more than a threshold. "Worse" follows each unit's
// better= metadata (`Unit queries/s better=higher`), with benchstat's defaults
// for the units that declare none (lower sec/op, B/op and allocs/op, higher
// B/s); a unit with no known direction is reported, not judged.
//
// A gate judges a few primary metrics (DefaultMetrics) and corrects their
// p-values by Holm's method, so that its chance of a false alarm stays
// within Alpha however many benchmarks it judges; a change smaller than the
// threshold, the minimum effect, is not reported. Judging every metric of
// every benchmark at 0.05 each failed on machine-load drift alone.
package gate

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchunit"

	"github.com/minerbench/minerbench/minerbench/internal/compare"
)

// DefaultMetrics are the metrics a gate judges unless told otherwise: the
// throughput, the success rate, and the median and 99th percentile of
// latency.
//
// Each judged metric is one more chance of a false alarm, and the others
// (p90, ns/op, MB/s) move with these, so judging them adds alarms more than
// it adds information. The median is the steadiest of them on a busy
// machine: a delay of 0.2 ms on each of the flaky miner's queries moved its
// p50 by +35% at p = 0.002 in six runs a side, where queries/s and p99,
// thrown about by the load, were not significant.
var DefaultMetrics = []string{"queries/s", "success-%", "p50-ns", "p99-ns"}

// Alpha is the family-wise error rate of a gate: the chance that it finds
// any significant change where there is none, across every metric it judges.
const Alpha = 0.05

// Options configure a gate.
type Options struct {
	// Threshold is how much worse than OLD, relatively, a significant change
	// must be to fail the gate: 0.05 for 5%. It is the minimum effect: a
	// smaller change is not reported, however significant.
	Threshold float64
	// Metrics overrides Threshold per metric, keyed by unit as a benchmark
	// reports it (p99-ns, queries/s, ns/op) or as benchstat prints it
	// (p99-sec, sec/op). A metric named here is judged.
	Metrics map[string]float64
	// Judge are the metrics judged, by unit as in Metrics; nil means
	// DefaultMetrics, and "all" every metric of the files.
	Judge []string
}

// Change is a significant change of one metric of one benchmark.
type Change struct {
	// Table holds the row; its Unit names the metric.
	Table *compare.Table
	// Row is the benchmark.
	Row *compare.Row
	// Cell is the new file's cell of the row, with its comparison.
	Cell *compare.Cell
	// Delta is the relative change of NEW from OLD (0.05 for +5%).
	Delta float64
	// P is the U test's p-value after Holm's correction for the number of
	// metrics judged.
	P float64
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
	// direction. Each list is ordered by the size of the change, largest
	// first.
	Regressions, Improvements, Unjudged []Change
	// Compared counts the metrics judged: the family Holm's correction
	// spans.
	Compared int
	// Units are the units judged, as benchstat names them.
	Units []string
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
// metric naming no metric of the files.
func Check(oldPath, newPath string, opts Options) (*Verdict, error) {
	set, err := compare.Read([]string{oldPath, newPath}, nil)
	if err != nil {
		return nil, err
	}
	return Judge(set, 1, opts)
}

// candidate is a judged comparison before Holm's correction.
type candidate struct {
	Change
	better int
}

// Judge compares the file set.Files[cur] of set with its first file under
// opts, as Check does.
func Judge(set *compare.Set, cur int, opts Options) (*Verdict, error) {
	if opts.Threshold < 0 || math.IsNaN(opts.Threshold) {
		return nil, &Error{Reason: fmt.Sprintf("threshold %v: want zero or more", opts.Threshold)}
	}
	thresholds, judged, err := metricThresholds(set, opts)
	if err != nil {
		return nil, err
	}
	v := &Verdict{Old: set.Files[0], New: set.Files[cur], Threshold: opts.Threshold, Units: judged}
	var cands []candidate
	var runs [][2]int
	var few []string
	for _, t := range set.Tables {
		if !slices.Contains(judged, t.Unit) {
			continue
		}
		threshold, ok := thresholds[t.Unit]
		if !ok {
			threshold = opts.Threshold
		}
		for _, r := range t.Rows {
			old, c := r.Cells[0], r.Cells[cur]
			if old == nil || c == nil || c.Baseline != old {
				continue
			}
			n1, n2 := len(c.Baseline.Sample.Values), len(c.Sample.Values)
			if t.Assumption == benchmath.AssumeNothing {
				runs = append(runs, [2]int{n1, n2})
				few = append(few, fmt.Sprintf("%s (%d runs in %s, %d in %s)", r.Name, n1, v.Old, n2, v.New))
			}
			delta, _, _ := c.Delta()
			cands = append(cands, candidate{Change{Table: t, Row: r, Cell: c, Delta: delta, P: c.Comparison.P, Threshold: threshold},
				set.Units.GetBetter(t.Unit)})
		}
	}
	v.Compared = len(cands)
	v.tables = set.Tables
	v.Notes = onlyInOne(set, cur)
	if v.Compared == 0 {
		return nil, &Error{Reason: noCommon(set, cur, judged)}
	}
	if err := tooFew(runs, few, v.Compared); err != nil {
		return nil, err
	}
	v.classify(cands)
	return v, nil
}

// classify corrects the candidates' p-values by Holm's method and sorts the
// significant changes beyond their thresholds into the verdict's lists.
func (v *Verdict) classify(cands []candidate) {
	ps := make([]float64, len(cands))
	for i, c := range cands {
		ps[i] = c.P
	}
	for i, p := range Holm(ps) {
		c := cands[i]
		c.P = p
		if p > Alpha || math.Abs(c.Delta) <= c.Threshold {
			continue
		}
		switch {
		case c.better == 0:
			v.Unjudged = append(v.Unjudged, c.Change)
		case (c.Delta > 0) == (c.better > 0):
			v.Improvements = append(v.Improvements, c.Change)
		default:
			v.Regressions = append(v.Regressions, c.Change)
		}
	}
	for _, list := range [][]Change{v.Regressions, v.Improvements, v.Unjudged} {
		slices.SortStableFunc(list, func(a, b Change) int { return cmp.Compare(math.Abs(b.Delta), math.Abs(a.Delta)) })
	}
}

// Holm returns the p-values ps adjusted by Holm's step-down method, in the
// order given: the i-th smallest of m is multiplied by m-i+1, capped at 1,
// and raised to the largest adjusted value before it.
//
// Rejecting every hypothesis whose adjusted p-value is at most alpha keeps
// the chance of any false rejection among the m within alpha, whatever
// their dependence, and rejects at least as much as Bonferroni's method.
func Holm(ps []float64) []float64 {
	order := make([]int, len(ps))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ps[a], ps[b]) })
	out := make([]float64, len(ps))
	running := 0.0
	for rank, i := range order {
		running = max(running, min(1, float64(len(ps)-rank)*ps[i]))
		out[i] = running
	}
	return out
}

// tooFew refuses a comparison whose samples are too small for the U test to
// reach Holm's first step, alpha/m, for m judged metrics.
func tooFew(runs [][2]int, names []string, m int) error {
	alpha := Alpha / float64(m)
	var few []string
	for i, n := range runs {
		if minP(n[0], n[1]) > alpha {
			few = append(few, names[i])
		}
	}
	if len(few) == 0 {
		return nil
	}
	slices.Sort(few)
	few = slices.Compact(few)
	need := neededRuns(alpha)
	return &Error{Reason: fmt.Sprintf(
		"too few runs to decide: with %d metrics judged, Holm's correction asks a p-value of %.3g or less, which benchstat's U test "+
			"cannot give with fewer than %d runs of a benchmark in each file; rerun go test with -count %d or more "+
			"(benchstat advises 10), or judge fewer metrics (-metrics): %s",
		m, alpha, need, need, strings.Join(few, "; "))}
}

// metricThresholds maps the tidied units of opts.Metrics to their
// thresholds and lists the tidied units judged, refusing a metric no table
// has.
func metricThresholds(set *compare.Set, opts Options) (map[string]float64, []string, error) {
	var units []string
	for _, t := range set.Tables {
		if !slices.Contains(units, t.Unit) {
			units = append(units, t.Unit)
		}
	}
	tidy := func(flag, name string) (string, error) {
		_, unit := benchunit.Tidy(1, name)
		if !slices.Contains(units, unit) {
			return "", &Error{Reason: fmt.Sprintf("%s %s: no such metric in %s or %s; their metrics are %s (as benchstat names them)",
				flag, name, set.Files[0], set.Files[len(set.Files)-1], strings.Join(units, ", "))}
		}
		return unit, nil
	}
	out := map[string]float64{}
	var judged []string
	for name, threshold := range opts.Metrics {
		unit, err := tidy("-metric", name)
		if err != nil {
			return nil, nil, err
		}
		if threshold < 0 || math.IsNaN(threshold) {
			return nil, nil, &Error{Reason: fmt.Sprintf("-metric %s: threshold %v: want zero or more", name, threshold)}
		}
		out[unit] = threshold
		judged = append(judged, unit)
	}
	switch {
	case slices.Equal(opts.Judge, []string{"all"}):
		judged = units
	case opts.Judge == nil:
		// The defaults a file lacks are left out: a benchmark need not
		// report them all.
		for _, name := range DefaultMetrics {
			if _, unit := benchunit.Tidy(1, name); slices.Contains(units, unit) {
				judged = append(judged, unit)
			}
		}
	default:
		for _, name := range opts.Judge {
			unit, err := tidy("-metrics", name)
			if err != nil {
				return nil, nil, err
			}
			judged = append(judged, unit)
		}
	}
	slices.Sort(judged)
	return out, slices.Compact(judged), nil
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
func onlyInOne(set *compare.Set, cur int) []string {
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
			inOld, inNew := r.Cells[0] != nil, r.Cells[cur] != nil
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
			notes = append(notes, fmt.Sprintf("%s only in %s: not compared", name, set.Files[cur]))
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

// noCommon explains why no metric judged is in both files.
func noCommon(set *compare.Set, cur int, judged []string) string {
	if len(judged) == 0 {
		return fmt.Sprintf("no metric to judge in %s and %s: they report none of %s; choose with -metrics",
			set.Files[0], set.Files[cur], strings.Join(DefaultMetrics, ", "))
	}
	msg := fmt.Sprintf("no benchmark in common between %s and %s", set.Files[0], set.Files[cur])
	var diff []string
	for _, kv := range set.Config[0] {
		for _, other := range set.Config[cur] {
			if other.Key == kv.Key && !slices.Equal(other.Values, kv.Values) {
				diff = append(diff, fmt.Sprintf("%s %q vs %q", kv.Key, strings.Join(kv.Values, ", "), strings.Join(other.Values, ", ")))
			}
		}
	}
	if len(diff) > 0 {
		msg += "; benchstat compares only results of equal configuration, and theirs differs: " + strings.Join(diff, "; ")
	}
	return msg + " in the metrics judged (" + strings.Join(judged, ", ") + ")"
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
	_, err := fmt.Fprintln(w, v.Line())
	return err
}

// Line is the one-line verdict the gate prints last: ok or FAIL, the
// changes beyond their thresholds and the metrics judged.
func (v *Verdict) Line() string {
	var b strings.Builder
	if v.Failed() {
		fmt.Fprintf(&b, "gate: FAIL: %d significant regression%s beyond the threshold: %s",
			len(v.Regressions), plural(len(v.Regressions)), changes(v.Regressions))
	} else {
		fmt.Fprintf(&b, "gate: ok: no significant regression beyond %s in %d metrics compared", percent(v.Threshold), v.Compared)
	}
	fmt.Fprintf(&b, " (judged: %s; p-values corrected by Holm's method over the %d)", strings.Join(v.Units, ", "), v.Compared)
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
		parts[i] = fmt.Sprintf("%s (p=%.2g, threshold %s)", c, c.P, percent(c.Threshold))
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
