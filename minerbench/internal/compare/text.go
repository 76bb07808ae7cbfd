package compare

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/perf/benchunit"
)

// Text writes tables as `go tool benchstat` prints them: the configuration
// lines that change before each table, a blank line between tables, and
// footnotes for the warnings. keep, when not nil, selects the rows to print;
// a table with no row kept is left out, and the geomean row is printed only
// when every row is kept.
func Text(w io.Writer, tables []*Table, keep func(*Table, *Row) bool) error {
	var prev []KeyValues
	first := true
	for _, t := range tables {
		rows := t.Rows
		if keep != nil {
			rows = slices.DeleteFunc(slices.Clone(t.Rows), func(r *Row) bool { return !keep(t, r) })
		}
		if len(rows) == 0 {
			continue
		}
		if !first {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		for i, kv := range t.Config {
			if first || i >= len(prev) || prev[i].Values[0] != kv.Values[0] {
				if _, err := fmt.Fprintf(w, "%s: %s\n", kv.Key, kv.Values[0]); err != nil {
					return err
				}
			}
		}
		first, prev = false, t.Config
		if err := t.text(w, rows, len(rows) == len(t.Rows)); err != nil {
			return err
		}
	}
	return nil
}

// Column groups of benchstat's text table: a label column, then per file
// <center> <± range> <warnings>, and after the first file
// <delta> <(p=… n=…)> <warnings>.
const (
	labelCols  = 1
	centerCols = 3
	deltaCols  = 3
)

func startCol(exp int) int {
	if exp == 0 {
		return labelCols
	}
	return labelCols + centerCols + (exp-1)*(centerCols+deltaCols)
}

// text writes t with the given rows, as benchstat's Table.ToText does.
func (t *Table) text(w io.Writer, rows []*Row, geomean bool) error {
	var tt tableText
	tt.header(t)
	class := benchunit.ClassOf(t.Unit)
	for _, r := range rows {
		tt.row(r, class)
	}
	if geomean && len(t.Rows) > 1 {
		tt.geomean(t, class)
	}
	return tt.write(w)
}

// tableText lays out one table as text and collects its footnotes.
type tableText struct {
	o     layout
	notes []string
}

// warn adds a cell of footnote marks for errs, numbering each new warning.
func (tt *tableText) warn(errs ...[]error) {
	var marks []string
	for _, list := range errs {
		for _, e := range list {
			i := slices.Index(tt.notes, e.Error())
			if i < 0 {
				i = len(tt.notes)
				tt.notes = append(tt.notes, e.Error())
			}
			marks = append(marks, superscript(i+1))
		}
	}
	tt.o.cell(strings.Join(marks, " "))
}

// header lays out the column labels, then the unit and "vs base" under them.
func (tt *tableText) header(t *Table) {
	o := &tt.o
	rEdge := startCol(len(t.Cols) + 1)
	o.row()
	for i, label := range t.Cols {
		l, r := startCol(i), startCol(i+1)
		o.col(l).span(r-l, label, center, margin(" │ "))
	}
	o.col(rEdge).cell("", left, margin(" │"))

	o.row()
	for i := range t.Cols {
		l := startCol(i)
		o.col(l).span(centerCols, t.Unit, center, margin(" │ "))
		if i > 0 {
			o.span(deltaCols, "vs base", left, margin("  "))
		}
		for j := l + 1; j < o.cur; j++ {
			o.setShrink(j)
		}
	}
	o.col(rEdge).cell("", left, margin(" │"))
}

// row lays out one benchmark: each file's center and range, and the delta
// against the base.
func (tt *tableText) row(r *Row, class benchunit.Class) {
	o := &tt.o
	o.row()
	o.cell(r.Name)
	var centers []float64
	for _, c := range r.Cells {
		if c != nil {
			centers = append(centers, c.Summary.Center)
		}
	}
	scaler := benchunit.CommonScale(centers, class)
	for exp, c := range r.Cells {
		if c == nil {
			continue
		}
		o.col(startCol(exp))
		o.cell(scaler.Format(c.Summary.Center), right)
		o.cell(c.Summary.PctRangeString(), right, margin(" ± "))
		tt.warn(c.Sample.Warnings, c.Summary.Warnings)
		if exp > 0 && c.Baseline != nil {
			o.cell(c.Comparison.FormatDelta(c.Baseline.Summary.Center, c.Summary.Center), right)
			o.cell("(" + c.Comparison.String() + ")")
			tt.warn(c.Comparison.Warnings)
		}
	}
}

// geomean lays out t's geomean row: each file's geomean and its ratio to the
// base.
func (tt *tableText) geomean(t *Table, class benchunit.Class) {
	o := &tt.o
	o.row()
	o.cell("geomean")
	for exp, s := range t.Summary {
		if s.HasCenter {
			o.col(startCol(exp))
			o.cell(benchunit.Scale(s.Center, class), right)
		}
		if exp > 0 {
			o.col(startCol(exp) + centerCols)
			if s.HasRatio {
				o.cell(fmt.Sprintf("%+.2f%%", (s.Ratio-1)*100), right)
			} else {
				o.cell("?")
			}
		}
		o.col(startCol(exp+1) - 1)
		tt.warn(s.Warnings)
	}
}

// write writes the laid-out table, then its footnotes.
func (tt *tableText) write(w io.Writer) error {
	if err := tt.o.format(w); err != nil {
		return err
	}
	for i, n := range tt.notes {
		if _, err := fmt.Fprintf(w, "%s %s\n", superscript(i+1), n); err != nil {
			return err
		}
	}
	return nil
}

func superscript(i int) string {
	const digits = "⁰¹²³⁴⁵⁶⁷⁸⁹"
	d := []rune(digits)
	var out []rune
	for ; i > 0; i /= 10 {
		out = append([]rune{d[i%10]}, out...)
	}
	return string(out)
}

type align int

const (
	alignLeft align = iota
	alignCenter
	alignRight
)

// cellOpt sets an alignment or a left margin of a layout cell.
type cellOpt func(*layoutCell)

var (
	left   cellOpt = func(c *layoutCell) { c.align = alignLeft }
	center cellOpt = func(c *layoutCell) { c.align = alignCenter }
	right  cellOpt = func(c *layoutCell) { c.align = alignRight }
)

func margin(s string) cellOpt { return func(c *layoutCell) { c.margin = s } }

// layoutCell is one cell of a layout: it starts at column col and spans
// span columns.
type layoutCell struct {
	row, col, span int
	value, margin  string
	align          align
}

// layout lays out a fixed-width text table with spanning cells, as
// benchstat's text tables are laid out: a column is as wide as its widest
// cell, a spanning cell widens the columns it spans (leaving "shrink"
// columns at their width), and each column's left margin is the widest
// margin given to a cell in it.
type layout struct {
	cells   []layoutCell
	cols    int
	shrink  map[int]bool
	r, cur  int
	started bool
}

func (o *layout) row() *layout {
	if o.started {
		o.r++
	}
	o.started = true
	o.cur = 0
	return o
}

func (o *layout) col(c int) *layout {
	o.cur = c
	return o
}

func (o *layout) setShrink(c int) {
	if o.shrink == nil {
		o.shrink = map[int]bool{}
	}
	o.shrink[c] = true
}

// cell adds a one-column cell at the current column.
func (o *layout) cell(value string, opts ...cellOpt) *layout {
	return o.span(1, value, opts...)
}

// span adds a cell spanning n columns at the current column.
func (o *layout) span(n int, value string, opts ...cellOpt) *layout {
	c := layoutCell{row: o.r, col: o.cur, span: n, value: value, margin: " "}
	if o.cur == 0 || value == "" {
		c.margin = ""
	}
	for _, opt := range opts {
		opt(&c)
	}
	o.cells = append(o.cells, c)
	o.cur += n
	o.cols = max(o.cols, o.cur)
	return o
}

func width(s string) int { return utf8.RuneCountInString(s) }

func (o *layout) format(w io.Writer) error {
	margin := make([]int, o.cols)
	for _, c := range o.cells {
		margin[c.col] = max(margin[c.col], width(c.margin))
	}
	ws := make([]int, o.cols)
	bySpan := slices.Clone(o.cells)
	slices.SortStableFunc(bySpan, func(a, b layoutCell) int { return a.span - b.span })
	for _, c := range bySpan {
		need := width(c.value) + margin[c.col]
		if c.span == 1 {
			ws[c.col] = max(ws[c.col], need)
			continue
		}
		total := 0
		for col := c.col; col < c.col+c.span; col++ {
			total += ws[col]
		}
		if total >= need {
			continue
		}
		var grow []int
		for col := c.col; col < c.col+c.span; col++ {
			if o.shrink[col] {
				need -= ws[col]
			} else {
				grow = append(grow, col)
			}
		}
		slices.SortStableFunc(grow, func(a, b int) int { return ws[b] - ws[a] })
		left := len(grow)
		for _, col := range grow {
			avg := (need + left - 1) / left
			ws[col] = max(ws[col], avg)
			need -= ws[col]
			left--
		}
	}
	offs := make([]int, o.cols+1)
	for i, cw := range ws {
		offs[i+1] = offs[i] + cw
	}

	var b strings.Builder
	row, off := 0, 0
	for _, c := range o.cells {
		if strings.TrimSpace(c.value) == "" && strings.TrimSpace(c.margin) == "" {
			continue
		}
		for c.row > row {
			b.WriteByte('\n')
			row++
			off = 0
		}
		fmt.Fprintf(&b, "%*s%*s", offs[c.col]-off, "", margin[c.col], c.margin)
		off = offs[c.col] + margin[c.col]
		tw := offs[c.col+c.span] - offs[c.col] - margin[c.col]
		s := c.value
		switch c.align {
		case alignCenter:
			s = strings.Repeat(" ", (tw-width(s))/2) + s
		case alignRight:
			s = fmt.Sprintf("%*s", tw, s)
		}
		b.WriteString(s)
		off += width(s)
	}
	if len(o.cells) > 0 {
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
