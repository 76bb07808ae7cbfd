// Package history owns the per-query records of a benchmark run: the CSV
// history the original Python QueryBenchmark appended to
// results/<network>/<wallet>/<miner>/queries.csv, and the statistics its
// print_query_analysis printed (QPS, success rate, counts per return code and
// a pandas describe() table).
//
// The CSV layout is the original's, so pandas.read_csv(path, index_col=0)
// reads a history written here and this package continues one written by
// pandas: an unnamed index column, then time, code, elapsed and the run's
// settings. Memory stays bounded however many queries a run makes: a Writer
// streams rows to disk and a Summary keeps counts, streaming moments and an
// HDR histogram instead of every record.
package history

import (
	"time"

	"github.com/minerbench/minerbench/minerbench/wire"
)

// Header is the exact first line of a history file (without its newline), as
// pandas' DataFrame.to_csv wrote it for the original's columns.
const Header = ",time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size"

// columns names the fields of a history row in file order; the first is the
// unnamed index column.
var columns = [...]string{"index", "time", "code", "elapsed", "n_processes", "n_calls", "batch_size", "block_size", "world_size"}

// Record is the outcome of one query: when it was sent, the return code it
// ended with and how long it took. A failed query is a Record with its code,
// not an error.
type Record struct {
	// Time is when the query was sent.
	Time time.Time
	// Code is the query's return code.
	Code wire.ReturnCode
	// Elapsed is the query's round-trip time.
	Elapsed time.Duration
}

// RunInfo holds the settings of a run, written beside every record of the
// run as the original did. All fields must be zero or positive.
type RunInfo struct {
	// NProcesses is the number of concurrent query workers.
	NProcesses int
	// NCalls is the number of queries the run was asked to make.
	NCalls int
	// BatchSize is the number of sequences in each query's token batch.
	BatchSize int
	// BlockSize is the number of tokens in each sequence.
	BlockSize int
	// WorldSize is the number of processes of the original's distributed
	// runs; a single run writes 1.
	WorldSize int
}

// Row is one line of a history file: its index, the record and the settings
// of the run that made it.
type Row struct {
	// Index is the value of the unnamed index column.
	Index int64
	Record
	RunInfo
}
