// Package compare builds benchstat's comparison tables from benchfmt files.
//
// It groups results as `go tool benchstat` does by default (a table per
// file-level configuration and unit, a row per full benchmark name, a column
// per file), summarizes each cell with x/perf's benchmath (the median and its
// 95% confidence interval, unless a unit says assume=exact) and compares every
// column with the first by the Mann-Whitney U test at alpha 0.05. Its text
// output is benchstat's table, so its numbers are the ones benchstat prints.
package compare

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"
)

// Confidence is the confidence level of the summaries' intervals, benchstat's
// default.
const Confidence = 0.95

// Set is the results of a list of benchfmt files, as comparison tables.
type Set struct {
	// Files are the column labels, one per file in the order given: the
	// path, or the label of a label=path argument.
	Files []string
	// Units is the unit metadata the files declare (Unit … better=… lines).
	Units benchfmt.UnitMetadataMap
	// Config lists, per file, the file-level configuration lines (goos,
	// goarch, cpu, pkg, …) in the order they first appear, with every value
	// each key took.
	Config [][]KeyValues
	// Tables are the comparison tables, in benchstat's order.
	Tables []*Table
}

// KeyValues is a file-level configuration key and the values it took.
type KeyValues struct {
	Key    string
	Values []string
}

// Table compares the results of one unit under one file-level configuration.
type Table struct {
	// Config is the file-level configuration the table's results share, as
	// key: value lines, which benchstat prints above a table when they change.
	Config []KeyValues
	// Unit is the tidied unit of every value in the table (ns/op becomes
	// sec/op, as in benchstat).
	Unit string
	// Assumption is the distributional assumption of the unit.
	Assumption benchmath.Assumption
	// Cols are the file labels of the table's columns; the first is the
	// baseline the others are compared with.
	Cols []string
	// Rows are the benchmarks, in the order they were first seen.
	Rows []*Row
	// Summary is the geomean row, one entry per column.
	Summary []Summary
}

// Row is one benchmark of a Table.
type Row struct {
	// Name is the benchmark's full name without its "Benchmark" prefix.
	Name string
	// Cells holds one cell per column of the table, nil where the file has no
	// result of this benchmark.
	Cells []*Cell
}

// Cell summarizes the values of one benchmark in one file.
type Cell struct {
	// Sample is the values, sorted.
	Sample *benchmath.Sample
	// Summary is the sample's center and confidence interval.
	Summary benchmath.Summary
	// Baseline is the cell of the same row in the first column, or nil in the
	// first column and where the first file lacks the benchmark.
	Baseline *Cell
	// Comparison is the test of this cell against Baseline; meaningless
	// when Baseline is nil.
	Comparison benchmath.Comparison
}

// Delta is the relative change of the cell's center from its baseline's
// (0.05 for +5%; ±Inf from a zero baseline), and whether the comparison
// found it significant, as benchstat marks it. ok is false when the cell has
// no baseline.
func (c *Cell) Delta() (delta float64, significant, ok bool) {
	if c.Baseline == nil {
		return 0, false, false
	}
	old, cur := c.Baseline.Summary.Center, c.Summary.Center
	significant = c.Comparison.P <= c.Comparison.Alpha
	switch {
	case old == cur:
		return 0, significant, true
	case old == 0:
		return math.Inf(int(math.Copysign(1, cur))), significant, true
	}
	return cur/old - 1, significant, true
}

// Summary is a table's geomean of one column, as benchstat's last row.
type Summary struct {
	// Center is the geomean of the column's centers; HasCenter is false when
	// some center is not positive.
	Center    float64
	HasCenter bool
	// Ratio is the geomean of the column's ratios to the baseline; HasRatio
	// is false in the first column or when a ratio cannot be taken.
	Ratio    float64
	HasRatio bool
	Warnings []error
}

// InputError reports a file that cannot be compared: missing, unreadable,
// holding no benchmark result, or holding a malformed result line.
type InputError struct {
	// File is the path or label of the file.
	File string
	// Line is the 1-based line of a malformed result, or 0.
	Line int
	// Err says what is wrong.
	Err error
}

// Error implements error.
func (e *InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return e.File + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *InputError) Unwrap() error { return e.Err }

// errNoResults is the Err of an InputError for a file with no result line.
var errNoResults = errors.New("no benchmark result: want the output of go test -bench")

// Read reads the benchfmt files at paths (each a path or label=path, as
// benchstat accepts) and builds their comparison tables with thresholds
// (benchmath.DefaultThresholds when nil). A label given again is numbered,
// f then f#2, so a file given twice is read as two columns. A file that is
// missing, holds a malformed result line or no result at all is an
// *InputError.
func Read(paths []string, thresholds *benchmath.Thresholds) (*Set, error) {
	if thresholds == nil {
		thresholds = &benchmath.DefaultThresholds
	}
	var parser benchproc.ProjectionParser
	filter, _ := benchproc.NewFilter("*")
	tableBy, _, err := parser.ParseWithUnit(".config", filter)
	if err != nil {
		return nil, err
	}
	rowBy, err := parser.Parse(".fullname", filter)
	if err != nil {
		return nil, err
	}
	colBy, err := parser.Parse(".file", filter)
	if err != nil {
		return nil, err
	}
	b := builder{tableBy: tableBy, rowBy: rowBy, colBy: colBy, residue: parser.Residue(),
		tables: map[benchproc.Key]*builderTable{}}

	labels := make([]string, len(paths))
	labeled := make([]string, len(paths))
	labelOf := map[string]string{}
	seen := map[string]int{}
	for i, p := range paths {
		label, path := p, p
		if l, rest, ok := strings.Cut(p, "="); ok {
			label, path = l, rest
		}
		if _, err := os.Stat(path); err != nil {
			return nil, &InputError{File: label, Err: err}
		}
		label = uniqueLabel(label, seen)
		labels[i], labeled[i] = label, label+"="+path
		if _, ok := labelOf[path]; !ok {
			labelOf[path] = label
		}
	}
	files := benchfmt.Files{Paths: labeled, AllowLabels: true}
	count := map[string]int{}
	config := map[string]*configList{}
	for files.Scan() {
		switch rec := files.Result().(type) {
		case *benchfmt.SyntaxError:
			return nil, &InputError{File: labelOf[rec.FileName], Line: rec.Line, Err: errors.New(rec.Msg)}
		case *benchfmt.Result:
			label := rec.GetConfig(".file")
			count[label]++
			if config[label] == nil {
				config[label] = &configList{}
			}
			config[label].add(rec)
			b.add(rec)
		}
	}
	if err := files.Err(); err != nil {
		return nil, &InputError{File: "input", Err: err}
	}
	set := &Set{Units: files.Units()}
	for _, label := range labels {
		if count[label] == 0 {
			return nil, &InputError{File: label, Err: errNoResults}
		}
		set.Files = append(set.Files, label)
		set.Config = append(set.Config, config[label].list)
	}
	set.Tables = b.finish(set.Units, thresholds)
	return set, nil
}

// uniqueLabel is label, or label#2, label#3, … when an earlier file took
// it: the same file given twice is two columns, not one column of both.
func uniqueLabel(label string, seen map[string]int) string {
	seen[label]++
	for n := seen[label]; n > 1; n++ {
		l := fmt.Sprintf("%s#%d", label, n)
		if seen[l] == 0 {
			seen[l] = 1
			return l
		}
	}
	return label
}

// configList accumulates a file's configuration lines in order.
type configList struct {
	list []KeyValues
}

func (c *configList) add(rec *benchfmt.Result) {
	for _, cfg := range rec.Config {
		if !cfg.File {
			continue
		}
		value := string(cfg.Value)
		i := 0
		for i < len(c.list) && c.list[i].Key != cfg.Key {
			i++
		}
		if i == len(c.list) {
			c.list = append(c.list, KeyValues{Key: cfg.Key})
		}
		kv := &c.list[i]
		if len(kv.Values) == 0 || kv.Values[len(kv.Values)-1] != value {
			kv.Values = append(kv.Values, value)
		}
	}
}

// builder collects results into cells, as benchstat's table builder does.
type builder struct {
	tableBy, rowBy, colBy, residue *benchproc.Projection
	tables                         map[benchproc.Key]*builderTable
}

type cellKey struct{ row, col benchproc.Key }

type builderTable struct {
	rows, cols map[benchproc.Key]bool
	cells      map[cellKey]*builderCell
}

type builderCell struct {
	values  []float64
	residue map[benchproc.Key]bool
}

func (b *builder) add(rec *benchfmt.Result) {
	row, col := b.rowBy.Project(rec), b.colBy.Project(rec)
	residue := b.residue.Project(rec)
	for i, key := range b.tableBy.ProjectValues(rec) {
		t := b.tables[key]
		if t == nil {
			t = &builderTable{rows: map[benchproc.Key]bool{}, cols: map[benchproc.Key]bool{},
				cells: map[cellKey]*builderCell{}}
			b.tables[key] = t
		}
		ck := cellKey{row, col}
		c := t.cells[ck]
		if c == nil {
			c = &builderCell{residue: map[benchproc.Key]bool{}}
			t.cells[ck] = c
			t.rows[row] = true
			t.cols[col] = true
		}
		c.values = append(c.values, rec.Values[i].Value)
		c.residue[residue] = true
	}
}

// finish finishes the builder into Tables, in benchstat's order.
func (b *builder) finish(units benchfmt.UnitMetadataMap, thresholds *benchmath.Thresholds) []*Table {
	keys := sortedKeys(b.tables)
	var out []*Table
	for _, key := range keys {
		bt := b.tables[key]
		fields := key.Projection().FlattenedFields()
		t := &Table{}
		for _, f := range fields {
			if f.Name == ".unit" {
				t.Unit = key.Get(f)
				continue
			}
			t.Config = append(t.Config, KeyValues{Key: f.Name, Values: []string{key.Get(f)}})
		}
		t.Assumption = units.GetAssumption(t.Unit)
		rows, cols := sortedKeys(bt.rows), sortedKeys(bt.cols)
		for _, c := range cols {
			t.Cols = append(t.Cols, c.StringValues())
		}
		for _, r := range rows {
			row := &Row{Name: r.StringValues(), Cells: make([]*Cell, len(cols))}
			for j, c := range cols {
				bc := bt.cells[cellKey{r, c}]
				if bc == nil {
					continue
				}
				cell := &Cell{Sample: benchmath.NewSample(bc.values, thresholds)}
				cell.Summary = t.Assumption.Summary(cell.Sample, Confidence)
				if nsk := benchproc.NonSingularFields(sortedKeys(bc.residue)); len(nsk) > 0 {
					names := make([]string, len(nsk))
					for i, f := range nsk {
						names[i] = f.Name
					}
					cell.Sample.Warnings = append(cell.Sample.Warnings,
						errors.New("benchmarks vary in "+strings.Join(names, ", ")))
				}
				if j > 0 && row.Cells[0] != nil {
					cell.Baseline = row.Cells[0]
					cell.Comparison = t.Assumption.Compare(cell.Baseline.Sample, cell.Sample)
				}
				row.Cells[j] = cell
			}
			t.Rows = append(t.Rows, row)
		}
		t.summarize()
		out = append(out, t)
	}
	return out
}

// summarize fills the geomean row, as benchstat's summarizeCol does.
func (t *Table) summarize() {
	nBase := 0
	for _, r := range t.Rows {
		if r.Cells[0] != nil {
			nBase++
		}
	}
	t.Summary = make([]Summary, len(t.Cols))
	for j := range t.Cols {
		s := &t.Summary[j]
		var centers, ratios []float64
		badRatio := false
		for _, r := range t.Rows {
			c := r.Cells[j]
			if c == nil {
				continue
			}
			centers = append(centers, c.Summary.Center)
			if c.Baseline == nil {
				continue
			}
			a, b := c.Summary.Center, c.Baseline.Summary.Center
			switch {
			case a == b:
				ratios = append(ratios, 1)
			case b == 0:
				badRatio = true
				ratios = append(ratios, 0)
			default:
				ratios = append(ratios, a/b)
			}
		}
		if j > 0 && nBase != len(ratios) {
			s.Warnings = append(s.Warnings, errors.New("benchmark set differs from baseline; geomeans may not be comparable"))
		}
		if gm := stats.GeoMean(centers); math.IsNaN(gm) {
			s.Warnings = append(s.Warnings, errors.New("summaries must be >0 to compute geomean"))
		} else {
			s.Center, s.HasCenter = gm, true
		}
		if j > 0 && !badRatio {
			if gm := stats.GeoMean(ratios); math.IsNaN(gm) {
				s.Warnings = append(s.Warnings, errors.New("ratios must be >0 to compute geomean"))
			} else {
				s.Ratio, s.HasRatio = gm, true
			}
		}
	}
}

func sortedKeys[V any](m map[benchproc.Key]V) []benchproc.Key {
	keys := make([]benchproc.Key, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	benchproc.SortKeys(keys)
	return keys
}
