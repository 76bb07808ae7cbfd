// Package load sends a benchmark's queries: the closed and the open loop,
// their pacing (a delay after each query, or a rate schedule), the warm-up,
// and the per-worker buffered recording of what came back.
//
// It knows nothing of miners, harnesses or testing.B, so that its loops run
// in tests in-process and fast. A Client sends one query and says what came
// back, one implementation per protocol; a Source hands out the next query
// or says stop; a Sink records what came back. Each worker sends its
// queries through its own Client, bounds each by the timeout without
// allocating (queryTimer), and buffers its records, which it hands to the
// Sink in one call, under one lock, per flush.
package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minerbench/minerbench/minerbench/analysis"
)

// Buffering of the records.
const (
	// FlushEvery is the number of records a worker buffers before it hands
	// them to the Sink.
	FlushEvery = 256
	// DefaultFlushInterval bounds how long a record waits in a worker's
	// buffer, when Config.FlushInterval is zero.
	//
	// A slow server fills a buffer slowly: without a bound, the records of
	// a run killed before its end (SIGKILL, a crash) would be lost with the
	// buffers. With it, a kill loses at most about this much of the run.
	DefaultFlushInterval = time.Second
)

// LateAfter is how much later than its intended time a query of the open
// loop may be sent before it counts as late.
const LateAfter = time.Millisecond

// Outcome is what one query came back with.
//
// Code and OK are the protocol's own: a 2.0.x client gives a ReturnCode
// and OK for Success, an HTTP client the status (200, 401, 408, 503, …) and
// OK for its success statuses. The loops read only OK; a Sink records Code.
type Outcome struct {
	// Code is the protocol's code of the answer, or of what went wrong.
	Code int32
	// OK says the query succeeded.
	OK bool
	// Latency is the round trip as the client measured it, from the send
	// to the end of the answer.
	Latency time.Duration
	// Extra is what the protocol tells beside the answer; zero when it
	// tells nothing, as the 2.0.x protocol does.
	Extra Extra
}

// Extra is what a protocol may tell about an answer beside its code and
// latency.
//
// The 2.0.x protocol tells none of it; an HTTP synapse client fills what
// its answer tells. Each zero field means "not told": Stats sums only what
// was told, and the harness reports a figure only when some answer told it.
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

// Record is a recorded query: its outcome, the latency the history records
// as its time, and when it ended.
type Record struct {
	Outcome
	// Time is the latency to record: Outcome.Latency in the closed loop; in
	// the open loop, from the query's intended send time to its answer
	// (for a dropped query, its wait).
	Time time.Duration
	// Elapsed is the time from Config.Start to the answer (to the drop of
	// a dropped query).
	Elapsed time.Duration
	// Dropped says an open loop dropped the query unsent, its timeout past
	// before a worker was free; Outcome is then Client.TimeoutCode's.
	Dropped bool
}

// Client sends queries of one protocol to one server. The loops give each
// worker a Client of its own, so a Client need not be safe for concurrent
// use.
type Client interface {
	// Query sends the query numbered seq (the client picks its input from
	// it) and says what came back. ctx bounds the query: it is cancelled
	// with cause context.DeadlineExceeded when the query's timeout passes,
	// which the Outcome must report as the protocol's timeout.
	Query(ctx context.Context, seq int) Outcome
	// TimeoutCode is the protocol's code of a query cut by its timeout;
	// the open loop records a query it drops with it.
	TimeoutCode() int32
}

// Source hands out the queries of a run and tells when it must stop.
type Source interface {
	// Next reports whether to send one more query. The loops call it from
	// one goroutine at a time, and not again once it has returned false.
	Next() bool
	// Gone reports whether outcome o shows that the server is gone: the
	// run then stops.
	Gone(o Outcome) bool
}

// Sink records the queries.
type Sink interface {
	// Write records recs, a worker's buffered records in the order they
	// were answered. The loops call it under their lock, one call at a
	// time; it must not keep recs. An error stops the run.
	Write(recs []Record) error
}

// Config is the pacing of a run.
type Config struct {
	// Delay is the pause each worker of the closed loop makes after each
	// query.
	Delay time.Duration
	// Rate, when positive, runs the open loop at Rate queries per second;
	// zero runs the closed loop.
	Rate float64
	// Timeout bounds each query; must be positive.
	Timeout time.Duration
	// Start is the run's start, which Record.Elapsed counts from; zero
	// means when Run is called.
	Start time.Time
	// FlushInterval bounds how long a record stays in a worker's buffer;
	// zero means DefaultFlushInterval.
	FlushInterval time.Duration
	// Progress, when set, counts the recorded queries as they are
	// recorded, for a progress display.
	Progress *atomic.Int64
}

// check returns what is wrong with c for the n clients of a run.
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

// Stats are the figures of a run beside its records.
type Stats struct {
	// Recorded is the number of records written; Succeeded, those whose
	// Outcome was OK.
	Recorded, Succeeded int64
	// Open holds the open loop's figures; nil for the closed loop.
	Open *OpenStats
	// Server and FirstByte are the Extra times of the outcomes that told
	// them.
	Server, FirstByte analysis.Durations
	// Streamed is the number of outcomes that told a chunk count; Chunks
	// and Bytes sum their Extra.
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
	// Uncorrected is the latency from the actual send of the queries sent.
	Uncorrected analysis.Durations
	// Late is the number of queries sent more than LateAfter after their
	// intended time; Dropped, of those dropped unsent.
	Late, Dropped int64
}

// Achieved returns the queries sent per second of wall, dropped ones left
// out; 0 for no time.
func (o *OpenStats) Achieved(wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return float64(o.Uncorrected.Count()) / wall.Seconds()
}

// WarmUp sends n queries through each client, numbered 0 to n-1, each
// bounded by timeout, and records none of them.
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

// Run sends the queries src hands out, one worker per client, paced as cfg
// says, and writes their records to sink; it returns once every worker has
// ended. It stops early once ctx ends (a query cut by that is not
// recorded), src says the server is gone, or a write to sink fails: the
// first such error is returned. Worker i numbers its queries i, i+1, …, so
// that the workers start on different inputs.
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

// run is the state of one Run.
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
