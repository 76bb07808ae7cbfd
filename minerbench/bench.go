package minerbench

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minerbench/minerbench/minerbench/analysis"
	"github.com/minerbench/minerbench/minerbench/history"
	"github.com/minerbench/minerbench/minerbench/internal/load"
	"github.com/minerbench/minerbench/minerbench/synapse"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// DefaultHistory is the name of the CSV history most benchmarks append to.
const DefaultHistory = "queries"

// Warm-up and batching constants of the query loop.
const (
	warmupQueries = 3 // per worker, before the timed region, not recorded
	tokenBatches  = 8 // distinct token batches cycled through
)

// Load says how to query a miner: what each query asks (a token batch over
// the 2.0.x protocol, or a synapse), how many workers query at once, the
// pause after each query, and the history file.
type Load struct {
	// Batch and Block give the token batch shape [Batch, Block] of a 2.0.x
	// load; both are 0 in a synapse load.
	Batch, Block int
	// Synapse, when set, makes this a synapse load: each query is the
	// synapse, sent to the miner's HTTP synapse axon (bittensor 6 and
	// later).
	Synapse *Synapse
	// Conc is the number of concurrent workers (n_processes of Bittensor
	// 2.0.4's QueryBenchmark); zero means 1.
	Conc int
	// Delay is the pause each worker makes after each query.
	Delay time.Duration
	// Rate, when positive, runs an open loop: queries are sent at Rate per
	// second on a fixed schedule by the Conc workers, and latency is
	// measured from each query's intended send time (see openloop.go and
	// package load).
	// Zero runs the closed loop.
	Rate float64
	// History is the CSV file name (without .csv) under the miner's results
	// directory; empty means DefaultHistory.
	History string
}

// Standard returns the load the -mb.* flags set, as QueryBenchmark's
// run_standard_benchmark did.
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
	if l.Synapse != nil {
		name = fmt.Sprintf("miner=%s/synapse=%s/conc=%d", miner, l.Synapse.Name, l.Conc)
	}
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
	for _, p := range l.problems() {
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

// problems returns what is wrong with the load's values.
func (l Load) problems() []loadProblem {
	if l.Synapse == nil {
		return checkLoad(l.Batch, l.Block, l.Conc, l.Delay, l.Rate, "a rate")
	}
	// A synapse load has no token batch; the loop's checks still apply.
	ps := checkLoad(1, 1, l.Conc, l.Delay, l.Rate, "a rate")
	if l.Batch != 0 || l.Block != 0 {
		ps = append(ps, loadProblem{"batch", l.Batch, "0, with block 0, in a synapse load (its queries carry no token batch)"})
	}
	return append(ps, l.Synapse.check()...)
}

// Bench runs load against every miner Run started, one sub-benchmark per
// miner.
//
// Each sub-benchmark is named miner=NAME/batch=B/block=S/conc=C (and
// /rate=R with a Rate) and runs b.N queries (-benchtime 100x is n_calls 100
// of Bittensor 2.0.4's QueryBenchmark). It appends every query to the
// miner's CSV history, reports queries/s, success-%, p50-ns, p90-ns, p99-ns
// and MB/s (an open loop adds p99-uncorrected-ns, late-% and dropped-%),
// appends QueryBenchmark's analysis to analysis.txt beside the history and
// logs a one-line summary. A failed query is a record with its return code;
// only a harness fault (such as a failed history write) or a miner that is
// gone fails the benchmark. A run in which no query succeeded is warned of,
// and fails with -mb.fail-on-no-success.
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

// bench is one sub-benchmark: b.N queries of ld against m.
func (h *harness) bench(b *testing.B, m *Target, ld Load) {
	if err := m.Err(); err != nil {
		b.Fatal(err)
	}
	if h.ctx.Err() != nil {
		b.Fatal(errInterrupted)
	}
	path := h.historyPath(m, ld)
	w, err := h.openHistory(path)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Abort()
	if torn := w.TornLine(); torn != "" {
		b.Logf("history %s: cut its partial last row %q, left by a run that died while writing it", path, torn)
	}
	clients := h.loadClients(b, m, ld)
	load.WarmUp(h.ctx, clients, warmupQueries, h.cfg.Timeout)
	if ld.Synapse != nil {
		if verdict, skip := warmUpVerdict(clients, ld.Synapse, m.plugin == nil); skip {
			b.Skipf("miner %s: %s", m.Name, verdict)
		} else if verdict != "" {
			b.Fatalf("miner %s: %s", m.Name, verdict)
		}
	}

	run := &benchRun{load: ld, timeout: h.cfg.Timeout, summary: &analysis.Summary{},
		info: history.RunInfo{NProcesses: ld.Conc, NCalls: callsRequested(), BatchSize: ld.Batch, BlockSize: ld.Block, WorldSize: 1, Start: time.Now()}}
	var done atomic.Int64
	progress := newProgress(m.Name, &done)
	cfg := load.Config{Delay: ld.Delay, Rate: ld.Rate, Timeout: h.cfg.Timeout, Start: run.info.Start, Progress: &done}
	run.stats, err = load.Run(h.ctx, cfg, clients, &benchSource{b: b, m: m}, &historySink{w: w, info: run.info, summary: run.summary})
	b.StopTimer()
	progress.stop()
	wall := time.Since(run.info.Start)
	if err != nil {
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
	run.messages = statusMessages(clients)
	run.report(b, wall)
	if err := h.writeAnalysis(b, run, path, wall); err != nil {
		b.Fatal(err)
	}
	h.checkSuccess(b, run)
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

// benchRun is what one sub-benchmark's query loop leaves to report.
type benchRun struct {
	load    Load
	timeout time.Duration
	info    history.RunInfo   // the run's settings and start
	summary *analysis.Summary // of every record written
	stats   *load.Stats
	// messages holds the first message of each failure status of a
	// synapse run.
	messages map[history.Code]string
}

// report reports the contract's metrics for the run, the open loop's when
// it was one, and the protocol's extras when it told any.
func (r *benchRun) report(b *testing.B, wall time.Duration) {
	report(b, r.summary, wall, r.load)
	if o := r.stats.Open; o != nil {
		reportOpenLoop(b, o, wall)
	}
	reportExtras(b, r.stats, wall)
}

// report prints the contract's metrics for one run.
func report(b *testing.B, s *analysis.Summary, wall time.Duration, ld Load) {
	n := s.Count()
	if n == 0 || wall <= 0 {
		return
	}
	b.SetBytes(int64(ld.Batch) * int64(ld.Block) * (8 + 4*wire.NetworkDim))
	b.ReportMetric(float64(n)/wall.Seconds(), "queries/s")
	b.ReportMetric(100*s.SuccessRate(), "success-%")
	latency := s.Latency()
	b.ReportMetric(float64(latency.Quantile(0.50)), "p50-ns")
	b.ReportMetric(float64(latency.Quantile(0.90)), "p90-ns")
	b.ReportMetric(float64(latency.Quantile(0.99)), "p99-ns")
}

// reportExtras reports what a protocol told beside its answers, each only
// when some answer told it: the server's own processing time
// (server-p50-ns), and for a streaming synapse the time to the first byte
// of an answer (ttfb-p50-ns), the chunks received per second (chunks/s)
// and, through b.SetBytes, the answers' bytes per second (MB/s). A
// streamed answer's latency, behind p50-ns and the others, is the time to
// its last chunk.
//
// The 2.0.x protocol tells none of them, so its results have none of these
// metrics.
func reportExtras(b *testing.B, s *load.Stats, wall time.Duration) {
	if s.Server.Count() > 0 {
		b.ReportMetric(float64(s.Server.Quantile(0.50)), "server-p50-ns")
	}
	if s.FirstByte.Count() > 0 {
		b.ReportMetric(float64(s.FirstByte.Quantile(0.50)), "ttfb-p50-ns")
	}
	if s.Streamed > 0 && wall > 0 {
		b.ReportMetric(float64(s.Chunks)/wall.Seconds(), "chunks/s")
		b.SetBytes(s.Bytes / s.Streamed)
	}
}

// benchSource hands out a sub-benchmark's queries: b.Loop's, until the
// miner is no longer available.
type benchSource struct {
	b *testing.B
	m *Target
}

// Next reports whether b.Loop asks for one more query of an available
// miner.
//
// b.Loop stops the timer when it hands out the last query; the queries
// still in flight belong to the timed region too, so Next starts it again.
func (s *benchSource) Next() bool {
	if s.m.Err() != nil || !s.b.Loop() {
		s.b.StartTimer()
		return false
	}
	return true
}

// Gone reports whether a query answered Unavailable (503 over HTTP) shows
// the miner gone.
func (s *benchSource) Gone(o load.Outcome) bool {
	unavailable := o.Code == int32(wire.ReturnCode_Unavailable) || o.Code == synapse.StatusUnavailable
	return unavailable && s.m.endIfDying()
}

// loadClients returns a client per worker of ld for m, in ld's protocol,
// or ends b: it skips when m does not speak that protocol.
func (h *harness) loadClients(b *testing.B, m *Target, ld Load) []load.Client {
	if ld.Synapse == nil {
		if m.Endpoint == "" {
			b.Skipf("miner %s serves only HTTP synapses (%s): this benchmark's token batches need a 2.0.x axon", m.Name, m.SynapseURL)
		}
		dendrites, err := m.clients(h.ctx, ld.Conc)
		if err != nil {
			b.Fatal(err)
		}
		return dendriteClients(dendrites, makeTokenBatches(ld.Batch, ld.Block))
	}
	if m.SynapseURL == "" {
		b.Skipf("miner %s serves no HTTP synapse axon, only the 2.0.x protocol (%s)", m.Name, m.Endpoint)
	}
	clients, err := m.synapseClients(ld, h.validator, h.cfg.Timeout)
	if err != nil {
		b.Fatal(err)
	}
	return clients
}

// historySink writes a sub-benchmark's records to its history and adds
// them to its summary.
type historySink struct {
	w       *history.Writer
	info    history.RunInfo
	summary *analysis.Summary
	rows    []history.Record // scratch of one Write
}

// Write appends recs to the history in one write and, once written, adds
// them to the summary.
func (s *historySink) Write(recs []load.Record) error {
	s.rows = s.rows[:0]
	for i := range recs {
		r := &recs[i]
		s.rows = append(s.rows, history.Record{Latency: r.Time, Code: history.Code(r.Code), Elapsed: r.Elapsed})
	}
	if err := s.w.Append(s.info, s.rows...); err != nil {
		return fmt.Errorf("stopped at the first failed write of the history: %w", err)
	}
	for _, rec := range s.rows {
		s.summary.Add(history.Row{Record: rec, RunInfo: s.info})
	}
	return nil
}

// checkSuccess says loudly, in the benchmark's log and on the terminal,
// that no query of run succeeded, and with -mb.fail-on-no-success fails
// the benchmark.
//
// Such a run measures failures, not the miner: a -mb.timeout too short for
// it, a miner that refuses every query. Its result line looks like any
// other, success-% aside, and is easily missed in a file of results.
func (h *harness) checkSuccess(b *testing.B, run *benchRun) {
	if run.stats.Recorded == 0 || run.stats.Succeeded > 0 {
		return
	}
	var codes []string
	for _, c := range run.summary.Counts() {
		codes = append(codes, fmt.Sprintf("%d %v", c.Count, c.Code))
	}
	msg := fmt.Sprintf("NO QUERY SUCCEEDED: %d queries, %s (is -%stimeout=%v long enough? the miner's log may say why)",
		run.stats.Recorded, strings.Join(codes, ", "), flagPrefix, run.timeout)
	h.alert.warn(b.Name() + ": " + msg)
	if h.cfg.FailOnNoSuccess {
		b.Errorf("%s; failing, as -%sfail-on-no-success asks", msg, flagPrefix)
		return
	}
	b.Log(msg)
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

// callsRequested returns N of -test.benchtime Nx (QueryBenchmark's
// n_calls), or 0 when the run is bounded by time instead.
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
