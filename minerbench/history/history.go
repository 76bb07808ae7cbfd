// Package history owns the CSV query history of a benchmark: the file the
// original Python QueryBenchmark appended to, results/…/queries.csv, one row
// per query.
//
// The columns are the original's, with the original's meaning, and one more
// after them: an unnamed index, time (the query's latency in seconds), code
// (its return code), elapsed (seconds from the run's start to the query's
// answer), the run's settings n_processes, n_calls, batch_size, block_size and
// world_size, and start_time (the run's start in Unix seconds, the same on
// every row of a run). pandas.read_csv(path, index_col=0) reads a history
// written here. Seconds are written in their shortest exact decimal form, so
// pandas reads back the very float64 written; a duration reads back to the
// nanosecond, a start time to the fraction of a microsecond a float64 holds.
//
// A Writer appends rows in place, so appending costs the same however long
// the history is; Open validates the whole file first. The file is locked
// while a Writer holds it, and is never left with a partial row: see Writer
// for the exact guarantee.
//
// It is an implementation detail of minerbench, importable for now but not a
// supported API: it may change or move without notice.
package history

import (
	"time"
)

// Header is the exact first line of a history file, without its newline:
// the original's columns as pandas' DataFrame.to_csv wrote them, then
// start_time.
const Header = ",time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size,start_time"

// oldHeader is the header of a history without start_time: the original's
// own, and that of earlier minerbench versions, which wrote the query's Unix
// send time under time and its latency under elapsed.
const oldHeader = ",time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size"

// columns names the fields of a history row in file order; the first is the
// unnamed index column.
var columns = [...]string{"index", "time", "code", "elapsed", "n_processes", "n_calls", "batch_size", "block_size", "world_size", "start_time"}

// The indexes in columns of the two columns a run without token batches
// leaves empty.
const (
	batchSizeColumn = 6
	blockSizeColumn = 7
)

// Record is the outcome of one query. A failed query is a Record with its
// code, not an error.
type Record struct {
	// Latency is the query's latency, column time: from its send to its
	// answer (in an open loop, from its intended send time).
	Latency time.Duration
	// Code is the query's outcome, column code: a 2.0.x return code or a
	// synapse's HTTP status.
	Code Code
	// Elapsed is the time from the run's start to the query's answer,
	// column elapsed.
	Elapsed time.Duration
}

// RunInfo holds the settings of a run, written beside every record of the
// run as the original did. The counts must be zero or positive.
type RunInfo struct {
	// NProcesses is the number of concurrent query workers.
	NProcesses int
	// NCalls is the number of queries the run was asked to make.
	NCalls int
	// BatchSize is the number of sequences in each query's token batch.
	// It is 0 for a run whose queries carry no token batch (a synapse
	// run), and the column is then left empty.
	BatchSize int
	// BlockSize is the number of tokens in each sequence; 0, and an empty
	// column, as BatchSize.
	BlockSize int
	// WorldSize is the number of processes of the original's distributed
	// runs; a single run writes 1.
	WorldSize int
	// Start is when the run started, column start_time; read back in UTC.
	Start time.Time
}

// Row is one line of a history file: its index, the record and the settings
// of the run that made it.
type Row struct {
	// Index is the value of the unnamed index column.
	Index int64
	Record
	RunInfo
}

// UnixSeconds returns t as float Unix seconds, as Python's time.time() gives
// it and the start_time column holds it.
func UnixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}
