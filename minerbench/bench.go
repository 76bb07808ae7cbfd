package minerbench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minerbench/minerbench/minerbench/analysis"
	"github.com/minerbench/minerbench/minerbench/dendrite"
	"github.com/minerbench/minerbench/minerbench/history"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// DefaultHistory is the name of the CSV history most benchmarks append to.
const DefaultHistory = "queries"

// Warm-up and batching constants of the query loop.
const (
	warmupQueries = 3   // per worker, before the timed region, not recorded
	tokenBatches  = 8   // distinct token batches cycled through
	flushEvery    = 256 // records a worker buffers before writing them out
)

// Load says how to query a miner: the shape of each token batch, how many
// workers query at once, the pause after each query, and the history file.
type Load struct {
	// Batch and Block give the token batch shape [Batch, Block].
	Batch, Block int
	// Conc is the number of concurrent workers (the original's n_processes);
	// zero means 1.
	Conc int
	// Delay is the pause each worker makes after each query.
	Delay time.Duration
	// Rate, when positive, runs an open loop: queries are sent at Rate per
	// second on a fixed schedule by the Conc workers, and latency is
	// measured from each query's intended send time (see openloop.go).
	// Zero runs the closed loop.
	Rate float64
	// History is the CSV file name (without .csv) under the miner's results
	// directory; empty means DefaultHistory.
	History string
}

// Standard returns the load the -mb.* flags set, the original's
// run_standard_benchmark.
func Standard() Load {
	c := configOrDefault()
	return Load{Batch: c.Batch, Block: c.Block, Conc: c.Conc, Delay: c.Delay, Rate: c.Rate}
}

func configOrDefault() config {
	if current != nil {
		return current.cfg
	}
	return defaultConfig()
}

// name returns the sub-benchmark name carrying the load's keys.
func (l Load) name(miner string) string {
	name := fmt.Sprintf("miner=%s/batch=%d/block=%d/conc=%d", miner, l.Batch, l.Block, l.Conc)
	if l.Rate > 0 {
		name += "/rate=" + strconv.FormatFloat(l.Rate, 'f', -1, 64)
	}
	return name
}

func (l Load) normalize() (Load, error) {
	if l.Conc == 0 {
		l.Conc = 1
	}
	if l.History == "" {
		l.History = DefaultHistory
	}
	var errs []error
	for _, p := range checkLoad(l.Batch, l.Block, l.Conc, l.Delay, l.Rate, "a rate") {
		errs = append(errs, fmt.Errorf("load %s %v: want %s", p.field, p.value, p.want))
	}
	if strings.ContainsAny(l.History, `/\`) || l.History == "." || l.History == ".." {
		errs = append(errs, fmt.Errorf("load history %q: want a file name without a path", l.History))
	}
	if len(errs) > 0 {
		return l, errors.Join(errs...)
	}
	return l, nil
}

// Bench runs load against every miner Run started, one sub-benchmark per
// miner named miner=NAME/batch=B/block=S/conc=C (and /rate=R with a Rate).
// Each sub-benchmark runs b.N queries (-benchtime 100x is the original's
// n_calls 100), appends every query to the miner's CSV history, reports
// queries/s, success-%, p50-ns, p90-ns, p99-ns and MB/s (an open loop adds
// p99-uncorrected-ns, late-% and dropped-%), appends the original's analysis to
// analysis.txt beside the history and logs a one-line summary. A failed
// query is a record with its return code; only a harness fault (such as a
// failed history write) or a miner that is gone fails the benchmark.
func Bench(b *testing.B, load Load) {
	b.Helper()
	h, load := benchSetup(b, load)
	for _, m := range h.miners {
		h.run(b, m, load)
	}
}

// BenchMiner runs load against the miner the bench file names minerName,
// as Bench does against each miner. It skips when that miner was not
// started (-mb.miners leaves it out, or -mb.endpoint replaces the miners)
// and fails when the bench file names no such miner.
func BenchMiner(b *testing.B, minerName string, load Load) {
	b.Helper()
	h, load := benchSetup(b, load)
	for _, m := range h.miners {
		if m.Name == minerName {
			h.run(b, m, load)
			return
		}
	}
	if !slices.Contains(h.specNames, minerName) {
		b.Fatalf("BenchMiner: miner %q: want a miner the bench file names: %s", minerName, strings.Join(h.specNames, ", "))
	}
	b.Skipf("miner %s was not started (-%sminers or -%sendpoint)", minerName, flagPrefix, flagPrefix)
}

// benchSetup returns the running harness and load with its defaults, or
// ends b when there is no harness or load is invalid.
func benchSetup(b *testing.B, load Load) (*harness, Load) {
	b.Helper()
	h := current
	if h == nil {
		b.Skip("minerbench.Run did not start any miner (is TestMain calling minerbench.Main or minerbench.Run?)")
	}
	load, err := load.normalize()
	if err != nil {
		b.Fatal(err)
	}
	return h, load
}

// run runs load against m as a sub-benchmark of b, noting it when it fails
// so that the run's end names it.
func (h *harness) run(b *testing.B, m *Target, load Load) {
	if !b.Run(load.name(m.Name), func(b *testing.B) { h.bench(b, m, load) }) {
		h.noteFailed(b.Name() + "/" + load.name(m.Name))
	}
}

// bench is one sub-benchmark: b.N queries of load against m.
func (h *harness) bench(b *testing.B, m *Target, load Load) {
	if err := m.Err(); err != nil {
		b.Fatal(err)
	}
	if h.ctx.Err() != nil {
		b.Fatal(errInterrupted)
	}
	inputs := makeTokenBatches(load.Batch, load.Block)
	path := h.historyPath(m, load)
	w, err := h.openHistory(path)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Abort()
	if torn := w.TornLine(); torn != "" {
		b.Logf("history %s: cut its partial last row %q, left by a run that died while writing it", path, torn)
	}

	clients, err := m.clients(h.ctx, load.Conc)
	if err != nil {
		b.Fatal(err)
	}
	run := &queryRun{h: h, m: m, load: load, inputs: inputs, clients: clients, w: w, summary: &analysis.Summary{}}
	run.warmUp()
	run.info = history.RunInfo{NProcesses: load.Conc, NCalls: callsRequested(), BatchSize: load.Batch, BlockSize: load.Block, WorldSize: 1, Start: time.Now()}
	run.loop(b)
	wall := time.Since(run.info.Start)
	if err := run.writeErr(); err != nil {
		b.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	if h.ctx.Err() != nil {
		b.Fatal(errInterrupted)
	}
	if err := m.Err(); err != nil {
		b.Fatal(err)
	}
	report(b, run.summary, wall, load)
	if load.Rate > 0 {
		run.reportOpenLoop(b, wall)
	}
	if err := h.writeAnalysis(b, run, path, wall); err != nil {
		b.Fatal(err)
	}
}

// historyPath returns the file of the load's history of m.
func (h *harness) historyPath(m *Target, load Load) string {
	return filepath.Join(m.dir, load.History+".csv")
}

// openHistory opens the history at path. With -mb.restart, the first open
// of a file in this run starts it fresh; later ones append to it.
func (h *harness) openHistory(path string) (*history.Writer, error) {
	h.historyMu.Lock()
	restart := h.cfg.Restart && !h.restarted[path]
	h.restarted[path] = true
	h.historyMu.Unlock()
	w, err := history.Open(path, restart)
	if errors.Is(err, history.ErrOldFormat) {
		return nil, fmt.Errorf("%w (-mb.restart starts a fresh history in its place, which replaces it when the first benchmark that writes it ends)", err)
	}
	return w, err
}

// report prints the contract's metrics for one run.
func report(b *testing.B, s *analysis.Summary, wall time.Duration, load Load) {
	n := s.Count()
	if n == 0 || wall <= 0 {
		return
	}
	b.SetBytes(int64(load.Batch) * int64(load.Block) * (8 + 4*wire.NetworkDim))
	b.ReportMetric(float64(n)/wall.Seconds(), "queries/s")
	b.ReportMetric(100*s.SuccessRate(), "success-%")
	latency := s.Latency()
	b.ReportMetric(float64(latency.Quantile(0.50)), "p50-ns")
	b.ReportMetric(float64(latency.Quantile(0.90)), "p90-ns")
	b.ReportMetric(float64(latency.Quantile(0.99)), "p99-ns")
}

// queryRun is the state of one sub-benchmark's query loop.
type queryRun struct {
	h       *harness
	m       *Target
	load    Load
	inputs  []tensor.Tensor
	clients []*dendrite.Dendrite // one per worker

	open *openStats // set by openLoop

	// info holds the run's settings and start, set before the timed loop.
	info history.RunInfo

	w       *history.Writer
	writeMu sync.Mutex        // guards werr and summary, taken per flush
	werr    error             // the first failed history write
	failed  atomic.Bool       // werr is set: the loop stops
	summary *analysis.Summary // of every record written
	done    atomic.Int64
}

// query sends one token batch through client, cut by qt once timeout has
// passed, and returns its return code and latency.
func (r *queryRun) query(client *dendrite.Dendrite, qt *queryTimer, input tensor.Tensor, timeout time.Duration) (wire.ReturnCode, time.Duration) {
	ctx := qt.start(timeout)
	code, latency := client.Measure(ctx, input)
	qt.stop()
	return code, latency
}

// queryTimer bounds one goroutine's queries, one at a time, by the per-query
// timeout without allocating per query: one cancellable context serves query
// after query, and one timer, armed for each query, cancels it with cause
// context.DeadlineExceeded, which the dendrite records as Timeout. Only a
// query the timer cut costs a new context and timer. The deadline stays on
// the client's side: the axon learns of a cut query by its cancellation.
type queryTimer struct {
	parent context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
}

func newQueryTimer(parent context.Context) *queryTimer {
	qt := &queryTimer{parent: parent}
	qt.renew()
	return qt
}

// renew replaces the context; start makes the timer that cancels it.
func (qt *queryTimer) renew() {
	qt.ctx, qt.cancel = context.WithCancelCause(qt.parent)
	qt.timer = nil
}

// start arms the timer to fire after timeout and returns the context of the
// next query.
func (qt *queryTimer) start(timeout time.Duration) context.Context {
	if qt.timer == nil {
		cancel := qt.cancel
		qt.timer = time.AfterFunc(timeout, func() { cancel(context.DeadlineExceeded) })
	} else {
		qt.timer.Reset(timeout)
	}
	return qt.ctx
}

// stop disarms the timer once the query has ended; if it had fired, the
// context is spent and is replaced.
func (qt *queryTimer) stop() {
	if !qt.timer.Stop() {
		qt.cancel(context.DeadlineExceeded)
		qt.renew()
	}
}

// release frees the context of an idle timer.
func (qt *queryTimer) release() {
	qt.cancel(context.Canceled)
}

// warmUp sends a few unrecorded queries per worker before the timed region.
func (r *queryRun) warmUp() {
	var wg sync.WaitGroup
	for _, client := range r.clients {
		wg.Go(func() {
			qt := newQueryTimer(r.h.ctx)
			defer qt.release()
			for i := range warmupQueries {
				r.query(client, qt, r.inputs[i%len(r.inputs)], r.h.cfg.Timeout)
			}
		})
	}
	wg.Wait()
}

// loop runs the timed queries. Each worker asks b.Loop, under a lock, for
// its next query, so that a worker finishing a query goes on at once,
// without waking another goroutine.
func (r *queryRun) loop(b *testing.B) {
	if r.load.Rate > 0 {
		r.openLoop(b)
		return
	}
	progress := newProgress(r.m.Name, &r.done)
	defer progress.stop()
	var (
		mu   sync.Mutex
		done bool
	)
	next := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return false
		}
		if r.h.ctx.Err() != nil || r.m.Err() != nil || r.failed.Load() || !b.Loop() {
			done = true
			// b.Loop stopped the timer when it handed out the last
			// query; the queries still in flight belong to the timed
			// region too.
			b.StartTimer()
			return false
		}
		return true
	}
	var wg sync.WaitGroup
	for i := range r.load.Conc {
		wk := r.newWorker(i)
		wg.Go(func() {
			// Once the run is interrupted, the miner is gone or a history
			// write failed, the worker stops; next tells the others.
			for next() && wk.step() {
			}
			wk.finish()
		})
	}
	wg.Wait()
	b.StopTimer()
}

// worker is one querying goroutine's state: its query timer (made by its
// first step) and its buffered records, so the hot path takes no lock and
// allocates nothing.
type worker struct {
	r      *queryRun
	client *dendrite.Dendrite
	timer  *queryTimer
	delay  *time.Timer // of the pause after each query, made by the first
	next   int
	buf    []history.Record
}

func (r *queryRun) newWorker(i int) *worker {
	return &worker{r: r, client: r.clients[i], next: i, buf: make([]history.Record, 0, flushEvery)}
}

// step sends one query, which next has just handed out, and records it; it
// reports false once the run is interrupted, the miner is gone or a history
// write failed.
func (wk *worker) step() bool {
	r := wk.r
	if wk.timer == nil {
		wk.timer = newQueryTimer(r.h.ctx)
	}
	code, latency := r.query(wk.client, wk.timer, r.inputs[wk.next%len(r.inputs)], r.h.cfg.Timeout)
	if r.h.ctx.Err() != nil {
		return false // cut by the interrupt: no answer of the miner's to record
	}
	wk.next++
	wk.record(code, latency, time.Now())
	if r.failed.Load() || code == wire.ReturnCode_Unavailable && r.m.endIfDying() {
		return false
	}
	if r.load.Delay > 0 {
		return wk.pause(r.load.Delay)
	}
	return true
}

// pause waits d, the load's delay after a query; it reports false if the run
// was interrupted during it.
func (wk *worker) pause(d time.Duration) bool {
	if wk.delay == nil {
		wk.delay = time.NewTimer(d)
	} else {
		wk.delay.Reset(d)
	}
	select {
	case <-wk.delay.C:
		return true
	case <-wk.r.h.ctx.Done():
		wk.delay.Stop()
		return false
	}
}

// record buffers the record of a query answered at end, writing the buffer
// out when it is full.
func (wk *worker) record(code wire.ReturnCode, latency time.Duration, end time.Time) {
	wk.buf = append(wk.buf, history.Record{Latency: latency, Code: history.ReturnCode(code), Elapsed: end.Sub(wk.r.info.Start)})
	if len(wk.buf) == cap(wk.buf) {
		wk.flush()
	}
	wk.r.done.Add(1)
}

// finish writes out the worker's last records and frees its timer.
func (wk *worker) finish() {
	wk.flush()
	if wk.timer != nil {
		wk.timer.release()
	}
}

// flush writes the worker's buffered records to the history, in one write,
// and adds them to the run's summary. The first failed write stops the run.
func (wk *worker) flush() {
	r := wk.r
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if r.werr == nil && len(wk.buf) > 0 {
		if err := r.w.Append(r.info, wk.buf...); err != nil {
			r.werr = fmt.Errorf("stopped at the first failed write of the history: %w", err)
			r.failed.Store(true)
		} else {
			for _, rec := range wk.buf {
				r.summary.Add(history.Row{Record: rec, RunInfo: r.info})
			}
		}
	}
	wk.buf = wk.buf[:0]
}

// writeErr returns the error of the first failed history write.
func (r *queryRun) writeErr() error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	return r.werr
}

// makeTokenBatches returns distinct, deterministic [batch, block] token
// batches with ids in [0, wire.VocabSize).
func makeTokenBatches(batch, block int) []tensor.Tensor {
	rng := rand.New(rand.NewPCG(uint64(batch), uint64(block)))
	out := make([]tensor.Tensor, tokenBatches)
	for i := range out {
		ids := make([]int64, batch*block)
		for j := range ids {
			ids[j] = rng.Int64N(wire.VocabSize)
		}
		out[i] = tensor.FromInt64([]int64{int64(batch), int64(block)}, ids)
	}
	return out
}

// callsRequested returns N of -test.benchtime Nx (the original's n_calls), or
// 0 when the run is bounded by time instead.
func callsRequested() int {
	f := flag.Lookup("test.benchtime")
	if f == nil {
		return 0
	}
	s := f.Value.String()
	if n, err := strconv.Atoi(strings.TrimSuffix(s, "x")); err == nil && strings.HasSuffix(s, "x") {
		return n
	}
	return 0
}
