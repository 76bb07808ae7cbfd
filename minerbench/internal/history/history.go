// Package history reads and writes a benchmark's CSV query history.
//
// A history has one row per query. It is the file results/…/queries.csv
// that Bittensor 2.0.4's Python QueryBenchmark appended to. The columns are
// QueryBenchmark's, with the same meaning, plus start_time at the end.
// They are an unnamed index, then time, the query's latency in seconds, and
// code, its return code. elapsed is the seconds from the run's start to the
// answer. The run's settings follow: n_processes, n_calls, batch_size,
// block_size and world_size. start_time is the run's start in Unix seconds,
// the same on every row of a run.
//
// pandas.read_csv(path, index_col=0) reads a history written here. Seconds
// are written in their shortest exact decimal form, so pandas reads back
// the very float64 written. A duration reads back to the nanosecond, and a
// start time to the fraction of a microsecond a float64 holds.
//
// A Writer appends rows in place, so an append costs the same however long
// the history is. Open validates the whole file first. The file is locked
// while a Writer holds it, and is never left with a partial row (see Writer
// for the exact guarantee).
package history

import (
	"time"
)

// Header is the first line of a history file, without its newline.
//
// It holds QueryBenchmark's columns as pandas' DataFrame.to_csv wrote them,
// then start_time.
const Header = ",time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size,start_time"

// oldHeader is the header of a history without start_time.
//
// QueryBenchmark wrote it. So did earlier minerbench versions, which wrote
// the query's Unix send time under time and its latency under elapsed.
const oldHeader = ",time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size"

// columns names the fields of a history row in file order.
// The first is the unnamed index column.
var columns = [...]string{"index", "time", "code", "elapsed", "n_processes", "n_calls", "batch_size", "block_size", "world_size", "start_time"}

// The indexes in columns of the columns a run without token batches leaves
// empty.
const (
	batchSizeColumn = 6
	blockSizeColumn = 7
)

// Record is the outcome of one query.
// A failed query is a Record with its code, not an error.
type Record struct {
	// Latency is the time from the query's send to its answer, column
	// time. In an open loop it runs from the intended send time.
	Latency time.Duration
	// Code is the query's outcome, column code. It is a 2.0.x return code
	// or a synapse's HTTP status.
	Code Code
	// Elapsed is the time from the run's start to the query's answer,
	// column elapsed.
	Elapsed time.Duration
}

// RunInfo holds the settings of a run.
//
// They are written beside every record of the run, as QueryBenchmark did.
// The counts must be zero or positive.
type RunInfo struct {
	// NProcesses is the number of concurrent query workers.
	NProcesses int
	// NCalls is the number of queries the run was asked to make.
	NCalls int
	// BatchSize is the number of sequences in each query's token batch.
	// It is 0, and the column empty, when the queries carry no token
	// batch, as a synapse's do.
	BatchSize int
	// BlockSize is the number of tokens in each sequence. It is 0 when
	// BatchSize is.
	BlockSize int
	// WorldSize is the number of processes of QueryBenchmark's
	// distributed runs. A single run writes 1.
	WorldSize int
	// Start is when the run started, column start_time. It reads back in
	// UTC.
	Start time.Time
}

// Row is one line of a history file.
// It holds the index, the record and the settings of its run.
type Row struct {
	// Index is the value of the unnamed index column.
	Index int64
	Record
	RunInfo
}

// UnixSeconds returns t in float Unix seconds, as start_time holds it.
// It is the form of Python's time.time().
func UnixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}
