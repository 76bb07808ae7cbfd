package analysis

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Print writes the summary as an analysis for people to read.
//
// It is what QueryBenchmark's print_query_analysis printed, and more. It
// has QPS (1 / mean time) and the throughput over wall, the run's wall
// time. The throughput is left out when wall is not positive. Then come
// Success, the fraction of rows that succeeded, the counts per return
// code, and the describe() table.
func (s *Summary) Print(w io.Writer, wall time.Duration) error {
	var b strings.Builder
	if s.n == 0 {
		b.WriteString("No queries recorded.\n")
	} else {
		fmt.Fprintf(&b, "QPS: %s (1/mean(time), as Bittensor 2.0.4's QueryBenchmark computed it, which understates the rate under concurrency)\n", strconv.FormatFloat(s.QPS(), 'g', -1, 64))
		if wall > 0 {
			fmt.Fprintf(&b, "Throughput: %.3f queries per wall second (%d queries in %v)\n", float64(s.n)/wall.Seconds(), s.n, wall)
		}
		fmt.Fprintf(&b, "Success: %s (%d of %d queries answered Success)\n", strconv.FormatFloat(s.SuccessRate(), 'g', -1, 64), s.successes(), s.n)
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
	b.WriteString("describe() (time, elapsed and start_time in seconds):\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	_, err := s.Describe().WriteTo(w)
	return err
}
