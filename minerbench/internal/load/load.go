// Package load sends a benchmark's queries and records what came back.
//
// Send runs a closed loop, with a delay after each query, or an open loop
// on a rate schedule. WarmUp sends queries it does not record. The package
// knows nothing of miners, harnesses or testing.B, so its loops run fast
// in tests, in-process.
//
// A Client sends one query and says what came back; there is one per
// protocol. A Source hands out the next query or says stop. A Sink records
// what came back. Each worker sends its queries through its own Client and
// bounds each by the timeout without allocating. It buffers its records
// and hands them to the Sink in one call per flush, under one lock.
package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/analysis"
)

// Buffering of the records.
const (
	// FlushEvery is the number of records a worker buffers before it hands
	// them to the Sink.
	FlushEvery = 256
	// DefaultFlushInterval bounds how long a record waits in a worker's
	// buffer when Config.FlushInterval is zero.
	//
	// A slow server fills a buffer slowly. Without a bound, a run killed
	// before its end, by SIGKILL or a crash, would lose the buffered
	// records. With it, a kill loses at most about this much of the run.
	DefaultFlushInterval = time.Second
)

// LateAfter is how late an open loop's query may be sent without counting
// as late.
const LateAfter = time.Millisecond

// Outcome is what one query came back with.
//
// Code and OK are the protocol's own. A 2.0.x client gives a ReturnCode,
// and OK for Success. An HTTP client gives the status, such as 200 or 503,
// and OK for its success statuses. The loops read only OK. A Sink records
// Code.
type Outcome struct {
	// Code is the protocol's code of the answer, or of what went wrong.
	Code int32
	// OK says the query succeeded.
	OK bool
	// Latency is the round trip as the client measured it, from the send
	// to the end of the answer.
	Latency time.Duration
	// Extra is what the protocol tells beside the answer. It is zero when
	// the protocol tells nothing, as 2.0.x does.
	Extra Extra
}

// Extra is what a protocol may tell about an answer beside its code and
// latency.
//
// The 2.0.x protocol tells none of it. An HTTP synapse client fills what
// its answer tells. A zero field means "not told". Stats sums only what was
// told, and the harness reports a figure only when some answer told it.
type Extra struct {
	// Server is the server's own processing time, as a response header
	// reports it (an HTTP synapse's bt_header_axon_process_time).
	Server time.Duration
	// FirstByte is the time from the send to the first byte of a streamed
	// answer.
	FirstByte time.Duration
	// Chunks is the number of chunks of a streamed answer.
	Chunks int64
	// Bytes is the size of a streamed answer.
	Bytes int64
}

// Record is a recorded query.
type Record struct {
	Outcome
	// Time is the latency the history records.
	//
	// In the closed loop it is Outcome.Latency. In the open loop it runs
	// from the query's intended send time to its answer. For a dropped
	// query, it is the wait.
	Time time.Duration
	// Elapsed is the time from Config.Start to the answer, or to the drop.
	Elapsed time.Duration
	// Dropped says an open loop dropped the query unsent.
	//
	// Its timeout passed before a worker was free. Outcome then has
	// Client.TimeoutCode's code.
	Dropped bool
}

// Client sends queries of one protocol to one server.
//
// Each worker has a Client of its own, so a Client need not be safe for
// concurrent use.
type Client interface {
	// Query sends the query numbered seq and says what came back.
	//
	// The client picks its input by seq. When the query's timeout passes,
	// ctx is cancelled with cause context.DeadlineExceeded. The Outcome
	// must then report the protocol's timeout.
	Query(ctx context.Context, seq int) Outcome
	// TimeoutCode is the protocol's code of a query cut by its timeout.
	// The open loop records a dropped query with it.
	TimeoutCode() int32
}

// Source hands out the queries and says when to stop.
type Source interface {
	// Next reports whether to send one more query.
	//
	// The loops call it from one goroutine at a time. After it returns
	// false, they do not call it again.
	Next() bool
	// Gone reports whether outcome o shows that the server is gone.
	// Send then stops.
	Gone(o Outcome) bool
}

// Sink records the queries.
type Sink interface {
	// Write records recs, a worker's records in the order of their answers.
	//
	// The loops call it under their lock, one call at a time. It must not
	// keep recs. An error stops Send.
	Write(recs []Record) error
}

// Config sets the pacing and bounds of Send.
type Config struct {
	// Delay is the pause a closed-loop worker makes after each query.
	Delay time.Duration
	// Rate is the open loop's queries per second. Zero runs the closed
	// loop.
	Rate float64
	// Timeout bounds each query. It must be positive.
	Timeout time.Duration
	// Start is when Record.Elapsed counts from. Zero means the call of
	// Send.
	Start time.Time
	// FlushInterval bounds how long a record stays in a worker's buffer.
	// Zero means DefaultFlushInterval.
	FlushInterval time.Duration
	// Progress, when set, counts the records as they are made, for a
	// progress display.
	Progress *atomic.Int64
}

// check returns what is wrong with c for n clients.
func (c Config) check(n int) error {
	var errs []error
	if n < 1 {
		errs = append(errs, fmt.Errorf("load: %d clients: want one or more", n))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("load: Config.Timeout %v: want a positive duration", c.Timeout))
	}
	if c.Delay < 0 {
		errs = append(errs, fmt.Errorf("load: Config.Delay %v: want 0 or more", c.Delay))
	}
	if !(c.Rate >= 0) || math.IsInf(c.Rate, 1) {
		errs = append(errs, fmt.Errorf("load: Config.Rate %v: want 0 (closed loop) or queries per second", c.Rate))
	}
	if c.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("load: Config.FlushInterval %v: want 0 (the default) or more", c.FlushInterval))
	}
	return errors.Join(errs...)
}

// Stats are the figures of a Send beside its records.
type Stats struct {
	// Recorded is the number of records written. Succeeded counts those
	// whose Outcome was OK.
	Recorded, Succeeded int64
	// Open holds the open loop's figures. It is nil for the closed loop.
	Open *OpenStats
	// Server and FirstByte are the Extra times of the outcomes that told
	// them.
	Server, FirstByte analysis.Durations
	// Streamed counts the outcomes that told a chunk count. Chunks and
	// Bytes sum their Extra.
	Streamed, Chunks, Bytes int64
}

// add counts recs, which the Sink has written.
func (s *Stats) add(recs []Record) {
	for i := range recs {
		rec := &recs[i]
		s.Recorded++
		if rec.OK {
			s.Succeeded++
		}
		if s.Open != nil && !rec.Dropped {
			s.Open.Uncorrected.Add(rec.Latency)
		}
		if x := rec.Extra; x != (Extra{}) {
			s.addExtra(x)
		}
	}
}

func (s *Stats) addExtra(x Extra) {
	if x.Server > 0 {
		s.Server.Add(x.Server)
	}
	if x.FirstByte > 0 {
		s.FirstByte.Add(x.FirstByte)
	}
	if x.Chunks > 0 {
		s.Streamed++
		s.Chunks += x.Chunks
		s.Bytes += x.Bytes
	}
}

// OpenStats are an open loop's figures.
type OpenStats struct {
	// Uncorrected is the latency of the sent queries from the actual send.
	Uncorrected analysis.Durations
	// Late counts the queries sent more than LateAfter after their
	// intended time. Dropped counts those dropped unsent.
	Late, Dropped int64
}

// Achieved returns the queries sent per second of wall.
// Dropped queries are left out. It returns 0 for no time.
func (o *OpenStats) Achieved(wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return float64(o.Uncorrected.Count()) / wall.Seconds()
}

// WarmUp sends queries 0 to n-1 through each client and records none.
// Each query is bounded by timeout.
func WarmUp(ctx context.Context, clients []Client, n int, timeout time.Duration) {
	var wg sync.WaitGroup
	for _, client := range clients {
		wg.Go(func() {
			qt := newQueryTimer(ctx)
			defer qt.release()
			for i := range n {
				qt.query(client, i, timeout)
			}
		})
	}
	wg.Wait()
}

// Send sends the queries src hands out and writes their records to sink.
//
// There is one worker per client, paced as cfg says. Send returns once
// every worker has ended. It stops early when ctx ends, when src says the
// server is gone, or when a write to sink fails. It returns the first
// failed write's error. A query cut by the end of ctx is not recorded.
// Worker i numbers its queries i, i+1, …, so that the workers start on
// different inputs.
func Send(ctx context.Context, cfg Config, clients []Client, src Source, sink Sink) (*Stats, error) {
	if err := cfg.check(len(clients)); err != nil {
		return nil, err
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Now()
	}
	s := &sender{cfg: cfg, src: src, sink: sink, stats: &Stats{}}
	s.workers = make([]*worker, len(clients))
	for i, c := range clients {
		s.workers[i] = &worker{s: s, client: c, seq: i, buf: make([]Record, 0, FlushEvery)}
	}
	stopFlusher := s.startFlusher()
	if cfg.Rate > 0 {
		s.stats.Open = &OpenStats{}
		s.openLoop(ctx)
	} else {
		s.closedLoop(ctx)
	}
	stopFlusher()
	for _, wk := range s.workers {
		wk.finish()
	}
	return s.stats, s.err
}

// sender is the state of one Send.
type sender struct {
	cfg     Config
	src     Source
	sink    Sink
	workers []*worker

	mu     sync.Mutex // taken per flush: guards err, stats and the calls of sink
	err    error      // the first failed write
	failed atomic.Bool
	stats  *Stats
}
