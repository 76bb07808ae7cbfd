package history

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// describeRows are the row labels of pandas' describe().
var describeRows = [...]string{"count", "mean", "std", "min", "25%", "50%", "75%", "max"}

// describeQuantiles are the quantiles of the 25%, 50% and 75% rows.
var describeQuantiles = [...]float64{0.25, 0.5, 0.75}

// Describe writes a table like pandas' describe() of the code and elapsed
// columns: count, mean, sample std, min, quartiles and max. Code statistics
// are exact (from the counts); elapsed is in seconds, its quartiles within
// the histogram's 0.1% (see Quantile). A statistic pandas leaves undefined
// (all of them without records, std with one) prints as NaN.
func (s *Summary) Describe(w io.Writer) error {
	code := s.describeCode()
	elapsed := s.describeElapsed()
	cols := [...]struct {
		name   string
		format func(float64) string
		values [len(describeRows)]float64
	}{
		{"code", fixed(6), code},
		{"elapsed", fixed(9), elapsed},
	}

	labelWidth := 0
	for _, l := range describeRows {
		labelWidth = max(labelWidth, len(l))
	}
	cells := make([][len(describeRows) + 1]string, len(cols))
	widths := make([]int, len(cols))
	for i, c := range cols {
		cells[i][0] = c.name
		for j, v := range c.values {
			if j == 0 {
				cells[i][j+1] = strconv.FormatInt(s.n, 10)
			} else {
				cells[i][j+1] = c.format(v)
			}
		}
		for _, cell := range cells[i] {
			widths[i] = max(widths[i], len(cell))
		}
	}

	var b strings.Builder
	for r := range len(describeRows) + 1 {
		label := ""
		if r > 0 {
			label = describeRows[r-1]
		}
		fmt.Fprintf(&b, "%-*s", labelWidth, label)
		for i := range cols {
			fmt.Fprintf(&b, "  %*s", widths[i], cells[i][r])
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fixed formats a float with the given decimals, and NaN as pandas does.
func fixed(decimals int) func(float64) string {
	return func(v float64) string {
		if math.IsNaN(v) {
			return "NaN"
		}
		return strconv.FormatFloat(v, 'f', decimals, 64)
	}
}

// describeElapsed returns the describe() column of elapsed, in seconds.
func (s *Summary) describeElapsed() [len(describeRows)]float64 {
	nan := math.NaN()
	col := [len(describeRows)]float64{float64(s.n), nan, nan, nan, nan, nan, nan, nan}
	if s.n == 0 {
		return col
	}
	col[1] = s.mean / 1e9
	if s.n > 1 {
		col[2] = s.stdNanos() / 1e9
	}
	col[3] = s.min.Seconds()
	for i, q := range describeQuantiles {
		col[4+i] = s.Quantile(q).Seconds()
	}
	col[7] = s.max.Seconds()
	return col
}

// describeCode returns the describe() column of code, computed exactly
// from the counts per code.
func (s *Summary) describeCode() [len(describeRows)]float64 {
	nan := math.NaN()
	col := [len(describeRows)]float64{float64(s.n), nan, nan, nan, nan, nan, nan, nan}
	if s.n == 0 {
		return col
	}
	counts := s.Counts()
	slices.SortFunc(counts, func(a, b CodeCount) int { return cmp.Compare(a.Code, b.Code) })
	n := float64(s.n)
	var sum float64
	for _, c := range counts {
		sum += float64(c.Code) * float64(c.Count)
	}
	mean := sum / n
	col[1] = mean
	if s.n > 1 {
		var ss float64
		for _, c := range counts {
			d := float64(c.Code) - mean
			ss += d * d * float64(c.Count)
		}
		col[2] = math.Sqrt(ss / (n - 1))
	}
	// rank returns the code of 0-based rank k in sorted order.
	rank := func(k int64) float64 {
		for _, c := range counts {
			if k < c.Count {
				return float64(c.Code)
			}
			k -= c.Count
		}
		return float64(counts[len(counts)-1].Code)
	}
	col[3] = float64(counts[0].Code)
	for i, q := range describeQuantiles {
		pos := q * float64(s.n-1)
		k := int64(math.Floor(pos))
		lo := rank(k)
		col[4+i] = lo + (pos-float64(k))*(rank(k+1)-lo)
	}
	col[7] = float64(counts[len(counts)-1].Code)
	return col
}

// Analysis writes what the original's print_query_analysis printed, and
// more: its QPS (1 / mean latency), the real throughput over wall (the wall
// time of the run), the success rate, the counts per return code and the
// Describe table.
func (s *Summary) Analysis(w io.Writer, wall time.Duration) error {
	var b strings.Builder
	if s.n == 0 {
		b.WriteString("No queries recorded.\n")
	} else {
		fmt.Fprintf(&b, "QPS (1/mean latency, as the original): %.3f\n", s.QPS())
		if wall > 0 {
			fmt.Fprintf(&b, "Throughput (completed queries / wall second): %.3f (%d queries in %v)\n", s.Throughput(wall), s.n, wall)
		} else {
			b.WriteString("Throughput (completed queries / wall second): n/a (no wall time)\n")
		}
		ok := s.codes[successCode]
		fmt.Fprintf(&b, "Success rate: %.2f%% (%d of %d)\n", 100*s.SuccessRate(), ok, s.n)
		fmt.Fprintf(&b, "Queries sent from %s to %s\n", s.first.UTC().Format(time.RFC3339Nano), s.last.UTC().Format(time.RFC3339Nano))
		b.WriteString("Counts per return code:\n")
		counts := s.Counts()
		nameWidth, countWidth := 0, 0
		for _, c := range counts {
			nameWidth = max(nameWidth, len(c.Code.String()))
			countWidth = max(countWidth, len(strconv.FormatInt(c.Count, 10)))
		}
		for _, c := range counts {
			fmt.Fprintf(&b, "  %-*s  %*d\n", nameWidth, c.Code.String(), countWidth, c.Count)
		}
	}
	b.WriteString("Statistics (elapsed in seconds):\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return s.Describe(w)
}
