// Package analysis summarizes a query history and prints the summary.
//
// It computes what Bittensor 2.0.4's QueryBenchmark printed in its
// print_query_analysis. That is QPS as 1 / mean(time), the success rate,
// the counts per return code, and pandas' describe() of every column.
//
// A Summary takes history rows one at a time. So a run of any length, or a
// whole file read with history.NewReader, fits in bounded memory. Columns
// that take few values, such as code, the settings and start_time, are
// counted exactly. The durations, time and elapsed, keep streaming
// moments, exact extremes and an HDR histogram for quantiles.
package analysis

import (
	"cmp"
	"slices"

	"github.com/minerbench/minerbench/minerbench/internal/history"
)

// Summary accumulates the statistics of history rows.
// The zero Summary is empty and ready to use. It is not safe for
// concurrent use.
type Summary struct {
	n        int64
	latency  Durations // column time
	elapsed  Durations // column elapsed
	code     discrete
	settings [5]discrete // n_processes, n_calls, batch_size, block_size, world_size
	start    discrete    // start_time, in Unix seconds
}

// settingNames are the history's names of Summary.settings.
var settingNames = [...]string{"n_processes", "n_calls", "batch_size", "block_size", "world_size"}

// emptiable marks the settings a zero stands for when they are empty.
// A run without token batches leaves batch_size and block_size empty.
var emptiable = [...]bool{false, false, true, true, false}

// CodeCount is the number of rows with one return code.
type CodeCount struct {
	// Code is the return code or HTTP status; Code.String() names it.
	Code history.Code
	// Count is the number of rows with Code.
	Count int64
}

// Add accumulates r. Its Index is not a column and is ignored.
func (s *Summary) Add(r history.Row) {
	s.elapsed.highest = runTimeHighest // before its histogram is made
	s.n++
	s.latency.Add(r.Latency)
	s.elapsed.Add(r.Elapsed)
	s.code.add(float64(r.Code))
	for i, v := range [...]int{r.NProcesses, r.NCalls, r.BatchSize, r.BlockSize, r.WorldSize} {
		if v == 0 && emptiable[i] {
			continue // an empty cell: not counted, as pandas counts no NaN
		}
		s.settings[i].add(float64(v))
	}
	s.start.add(history.UnixSeconds(r.Start))
}

// Count returns the number of rows.
func (s *Summary) Count() int64 { return s.n }

// Latency returns the statistics of the time column, the latencies.
func (s *Summary) Latency() *Durations { return &s.latency }

// Elapsed returns the statistics of the elapsed column.
// It holds the times from the run's start to each query's answer.
func (s *Summary) Elapsed() *Durations { return &s.elapsed }

// SuccessRate returns the fraction of rows whose code means success.
// It is QueryBenchmark's "Success", and 0 without rows.
func (s *Summary) SuccessRate() float64 {
	if s.n == 0 {
		return 0
	}
	return float64(s.successes()) / float64(s.n)
}

// successes returns the number of rows whose code means success (see
// history.Code.Success).
func (s *Summary) successes() int64 {
	var n int64
	for _, v := range s.code.sorted() {
		if history.Code(v.value).Success() {
			n += v.count
		}
	}
	return n
}

// QPS returns QueryBenchmark's QPS, 1 / mean(time) in seconds.
//
// It is 0 without rows. Under concurrency it understates the real rate of
// queries.
func (s *Summary) QPS() float64 {
	if s.n == 0 {
		return 0
	}
	return 1e9 / s.latency.mean
}

// Counts returns the number of rows per return code.
// As in pandas' value_counts, the most frequent come first. Ties go by
// ascending code.
func (s *Summary) Counts() []CodeCount {
	vals := s.code.sorted()
	out := make([]CodeCount, len(vals))
	for i, v := range vals {
		out[i] = CodeCount{history.Code(v.value), v.count}
	}
	slices.SortStableFunc(out, func(a, b CodeCount) int { return cmp.Compare(b.Count, a.Count) })
	return out
}

// Describe returns pandas' describe() of every column of the rows.
//
// QueryBenchmark printed it for each run. The columns are time, code,
// elapsed, n_processes, n_calls, batch_size, block_size, world_size and
// start_time.
func (s *Summary) Describe() Table {
	t := Table{
		s.latency.describe("time"),
		s.code.describe("code", s.n),
		s.elapsed.describe("elapsed"),
	}
	for i := range s.settings {
		t = append(t, s.settings[i].describe(settingNames[i], s.settings[i].total()))
	}
	return append(t, s.start.describe("start_time", s.n))
}
