package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/minerbench/minerbench/minerbench/internal/compare"
	"github.com/minerbench/minerbench/minerbench/internal/gate"
)

// verdictView is the verdict on one later file against the first, as the
// first screen of a report shows it.
type verdictView struct {
	Old, New string
	// Gate is "PASS" or "FAIL" when the gate was asked for, GateLine its
	// one-line verdict.
	Gate, GateLine string
	// Error says why nothing could be decided.
	Error string
	// Rows are the significant changes beyond their thresholds, largest
	// first; None says plainly that there is none.
	Rows []changeRow
	None string
	// Judged says what was judged and how.
	Judged string
}

// changeRow is one significant change.
type changeRow struct {
	// Class is worse, better or unknown (a unit of no known direction).
	Class, Benchmark, Metric, Old, New, Change, Interval, P string
}

// verdicts judges each later file of set against the first, as the gate
// does with opts.Judge.
func verdicts(set *compare.Set, opts Options) []verdictView {
	var out []verdictView
	names := shortNames(set.Files)
	for cur := 1; cur < len(set.Files); cur++ {
		view := verdictView{Old: names[0], New: names[cur]}
		v, err := gate.Judge(set, cur, opts.Judge)
		if err != nil {
			view.Error = err.Error()
			out = append(out, view)
			continue
		}
		if opts.Gate {
			view.Gate, view.GateLine = "PASS", v.Line()
			if v.Failed() {
				view.Gate = "FAIL"
			}
		}
		for _, c := range changes(v) {
			view.Rows = append(view.Rows, changeView(c.Change, c.class))
		}
		view.Judged = fmt.Sprintf("Judged as go tool minerbench gate judges: %s of every benchmark in both files, %d comparisons, "+
			"the U test's p-values corrected by Holm's method so that the chance of any false alarm stays within %g; "+
			"a change is listed when significant and larger than its threshold (%s by default).",
			strings.Join(v.Units, ", "), v.Compared, gate.Alpha, pct(v.Threshold))
		if len(view.Rows) == 0 {
			view.None = fmt.Sprintf("No significant change: no metric judged moved by more than %s at p ≤ %g after correction.",
				pct(v.Threshold), gate.Alpha)
		}
		out = append(out, view)
	}
	return out
}

type classified struct {
	gate.Change
	class string
}

// changes are the verdict's changes, largest first.
func changes(v *gate.Verdict) []classified {
	var out []classified
	for class, list := range map[string][]gate.Change{"worse": v.Regressions, "better": v.Improvements, "unknown": v.Unjudged} {
		for _, c := range list {
			out = append(out, classified{c, class})
		}
	}
	slices.SortFunc(out, func(a, b classified) int {
		return cmp.Or(cmp.Compare(math.Abs(b.Delta), math.Abs(a.Delta)), strings.Compare(a.Row.Name, b.Row.Name),
			strings.Compare(a.Table.Unit, b.Table.Unit))
	})
	return out
}

// changeView formats a change: the medians, the change, its conservative
// 95% interval (the ratio of the new interval's bounds to the old's) and
// the corrected p-value.
func changeView(c gate.Change, class string) changeRow {
	old, cur := c.Cell.Baseline.Summary, c.Cell.Summary
	interval := "n/a (too few runs)"
	if old.Lo > 0 && !math.IsInf(old.Hi, 0) && !math.IsInf(cur.Hi, 0) && !math.IsInf(cur.Lo, 0) {
		interval = fmt.Sprintf("%+.1f%% to %+.1f%%", 100*(cur.Lo/old.Hi-1), 100*(cur.Hi/old.Lo-1))
	}
	return changeRow{Class: class, Benchmark: c.Row.Name, Metric: c.Table.Unit,
		Old: formatValue(c.Table.Unit, old.Center), New: formatValue(c.Table.Unit, cur.Center),
		Change: fmt.Sprintf("%+.1f%%", 100*c.Delta), Interval: interval, P: fmt.Sprintf("%.2g", c.P)}
}

// formatValue formats a value of a tidied unit: seconds with a readable
// unit, the rest with four significant digits.
func formatValue(unit string, v float64) string {
	if unit == "sec/op" || strings.HasSuffix(unit, "-sec") {
		return seconds(v)
	}
	return fmt.Sprintf("%.4g", v)
}

func pct(f float64) string { return fmt.Sprintf("%.3g%%", 100*f) }

// summaryUnits are the columns of the one-file summary.
var summaryUnits = []struct{ unit, title string }{
	{"queries/s", "queries/s"}, {"success-%", "success %"}, {"p50-sec", "p50"}, {"p99-sec", "p99"},
}

// summaryTable is the summary of one file: a header row, then a row per
// benchmark and miner with the medians of its runs.
func summaryTable(set *compare.Set) [][]string {
	header := []string{"benchmark", "miner"}
	for _, u := range summaryUnits {
		header = append(header, u.title)
	}
	rows := [][]string{append(header, "runs")}
	index := map[string]int{}
	for _, t := range set.Tables {
		col := slices.IndexFunc(summaryUnits, func(u struct{ unit, title string }) bool { return u.unit == t.Unit })
		for _, r := range t.Rows {
			c := r.Cells[0]
			if c == nil || (col < 0 && t.Unit != "sec/op") {
				continue
			}
			i, ok := index[r.Name]
			if !ok {
				name, miner, _ := splitName(r.Name)
				row := make([]string, len(header)+1)
				row[0], row[1] = name, miner
				i, index[r.Name] = len(rows), len(rows)
				rows = append(rows, row)
			}
			rows[i][len(header)] = fmt.Sprint(len(c.Sample.Values))
			if col >= 0 {
				rows[i][2+col] = formatValue(t.Unit, c.Summary.Center) + " ± " + c.Summary.PctRangeString()
			}
		}
	}
	slices.SortStableFunc(rows[1:], func(a, b []string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
	return rows
}
