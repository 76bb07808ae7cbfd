package analysis

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Column is pandas' describe() of one column of a history.
//
// It holds the count, mean, sample standard deviation (n-1 in the
// denominator), minimum, quartiles and maximum. The quartiles interpolate
// linearly between order statistics. Durations and start_time are in
// seconds. A statistic pandas leaves undefined is NaN, such as Std of one
// row.
type Column struct {
	// Name is the column's name in the history's header.
	Name string
	// Count is the number of rows.
	Count int64
	// Mean, Std, Min, P25, P50, P75 and Max are the statistics of the rows
	// labelled mean, std, min, 25%, 50%, 75% and max.
	Mean, Std, Min, P25, P50, P75, Max float64
	// Approximate is set when the quartiles come from a histogram: each is
	// then within 0.1% of the exact one. Every other statistic is exact.
	Approximate bool
}

func (c *Column) setNaN() {
	nan := math.NaN()
	c.Mean, c.Std, c.Min, c.P25, c.P50, c.P75, c.Max = nan, nan, nan, nan, nan, nan, nan
}

// describeRows are the row labels of pandas' describe().
var describeRows = [...]string{"count", "mean", "std", "min", "25%", "50%", "75%", "max"}

// stats returns c's statistics in the order of describeRows, from mean on.
func (c Column) stats() [len(describeRows) - 1]float64 {
	return [...]float64{c.Mean, c.Std, c.Min, c.P25, c.P50, c.P75, c.Max}
}

// Table is pandas' describe() of a whole history.
// It has one Column per column of the file after the index, in file order.
type Table []Column

// decimals is the number of decimals WriteTo prints.
// It is pandas' default display precision.
const decimals = 6

// WriteTo writes t as pandas prints a describe() frame.
//
// There is a row per statistic and a column per history column. Each
// figure has 6 decimals, the count none, and NaN prints as NaN. A line
// below says which quartiles are approximate.
func (t Table) WriteTo(w io.Writer) (int64, error) {
	labelWidth := 0
	for _, l := range describeRows {
		labelWidth = max(labelWidth, len(l))
	}
	cells := make([][len(describeRows) + 1]string, len(t))
	widths := make([]int, len(t))
	var approx []string
	for i, c := range t {
		cells[i][0] = c.Name
		cells[i][1] = strconv.FormatInt(c.Count, 10)
		for j, v := range c.stats() {
			cells[i][j+2] = formatStat(v)
		}
		for _, cell := range cells[i] {
			widths[i] = max(widths[i], len(cell))
		}
		if c.Approximate {
			approx = append(approx, c.Name)
		}
	}

	var b strings.Builder
	for r := range len(describeRows) + 1 {
		label := ""
		if r > 0 {
			label = describeRows[r-1]
		}
		fmt.Fprintf(&b, "%-*s", labelWidth, label)
		for i := range t {
			fmt.Fprintf(&b, "  %*s", widths[i], cells[i][r])
		}
		b.WriteByte('\n')
	}
	if len(approx) > 0 {
		fmt.Fprintf(&b, "(quartiles of %s from a histogram, within 0.1%%; every other figure exact)\n", strings.Join(approx, " and "))
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// formatStat formats a describe() statistic as WriteTo prints it.
func formatStat(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}
