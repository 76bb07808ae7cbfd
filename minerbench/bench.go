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

	"github.com/minerbench/minerbench/minerbench/internal/analysis"
	"github.com/minerbench/minerbench/minerbench/internal/history"
	"github.com/minerbench/minerbench/minerbench/internal/load"
	"github.com/minerbench/minerbench/minerbench/internal/synapse"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// DefaultHistory is the history file a Load without History appends to.
const DefaultHistory = "queries"

const (
	warmupQueries = 3 // per worker, before the timed region, not recorded
	tokenBatches  = 8 // distinct token batches the queries cycle through
)

// Load describes how a benchmark queries a miner.
//
// The fields follow Bittensor 2.0.4's QueryBenchmark. Batch and Block are
// its batch_size and block_size, and Conc its n_processes. A synapse load
// sends a synapse of today's protocol instead of a token batch.
type Load struct {
	// Batch and Block give the shape of each token batch, [Batch, Block].
	// Both are 0 in a synapse load.
	Batch, Block int
	// Synapse, when set, makes this a synapse load. Each query is then the
	// synapse, sent to the miner's HTTP synapse axon (bittensor 6 and
	// later).
	Synapse *Synapse
	// Conc is the number of workers that query at once. Zero means 1.
	Conc int
	// Delay is the pause each worker makes after each query.
	Delay time.Duration
	// Rate is the number of queries per second of an open loop.
	//
	// Zero runs the closed loop, where each worker sends its next query
	// once the last is answered. A positive Rate sends queries on a fixed
	// schedule instead. Their latency is then measured from each query's
	// intended send time (see package load).
	Rate float64
	// History names the CSV file, without .csv, in the miner's results
	// directory. Empty means DefaultHistory.
	History string
}

// Standard returns the load the -mb.* flags set.
//
// It plays the part of QueryBenchmark's run_standard_benchmark.
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

// name returns the sub-benchmark name of the load against a miner.
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

// Bench queries every miner Run started, one sub-benchmark per miner.
//
// A sub-benchmark is named miner=NAME/batch=B/block=S/conc=C, plus
// /rate=R for an open loop. It sends b.N queries, so -benchtime 100x is
// n_calls 100 of Bittensor 2.0.4's QueryBenchmark. Every query goes to the
// miner's CSV history. The metrics are queries/s, success-%, p50-ns,
// p90-ns, p99-ns and MB/s. An open loop adds p99-uncorrected-ns, late-%
// and dropped-%. QueryBenchmark's analysis goes to analysis.txt beside the
// history, and a one-line summary to the benchmark's log.
//
// A failed query is a record with its return code. Only a harness fault,
// such as a failed history write, or a miner that is gone fails the
// benchmark. When no query succeeded, Bench warns loudly; with
// -mb.fail-on-no-success it also fails.
func Bench(b *testing.B, load Load) {
	b.Helper()
	h, load := benchSetup(b, load)
	for _, m := range h.miners {
		h.benchTarget(b, m, load)
	}
}

// BenchMiner queries one miner, by its name, as Bench queries each.
//
// It skips when that miner was not started, because -mb.miners leaves it
// out or -mb.endpoint replaces the miners. It fails when the bench file
// names no such miner.
func BenchMiner(b *testing.B, minerName string, load Load) {
	b.Helper()
	h, load := benchSetup(b, load)
	for _, m := range h.miners {
		if m.Name == minerName {
			h.benchTarget(b, m, load)
			return
		}
	}
	if !slices.Contains(h.specNames, minerName) {
		b.Fatalf("BenchMiner: miner %q: want a miner the bench file names: %s", minerName, strings.Join(h.specNames, ", "))
	}
	b.Skipf("miner %s was not started (-%sminers or -%sendpoint)", minerName, flagPrefix, flagPrefix)
}

// benchSetup returns the running harness and load with its defaults.
// It ends b when there is no harness or load is invalid.
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

// benchTarget runs the sub-benchmark of load against m.
// A failed one is noted, so that the end of Run can name it.
func (h *harness) benchTarget(b *testing.B, m *Target, load Load) {
	if !b.Run(load.name(m.Name), func(b *testing.B) { h.bench(b, m, load) }) {
		h.noteFailed(b.Name() + "/" + load.name(m.Name))
	}
}

// bench sends b.N queries of ld to m and reports them.
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

	res := &benchResult{load: ld, timeout: h.cfg.Timeout, summary: &analysis.Summary{},
		info: history.RunInfo{NProcesses: ld.Conc, NCalls: callsRequested(), BatchSize: ld.Batch, BlockSize: ld.Block, WorldSize: 1, Start: time.Now()}}
	var done atomic.Int64
	progress := newProgress(m.Name, &done)
	cfg := load.Config{Delay: ld.Delay, Rate: ld.Rate, Timeout: h.cfg.Timeout, Start: res.info.Start, Progress: &done}
	res.stats, err = load.Send(h.ctx, cfg, clients, &benchSource{b: b, m: m}, &historySink{w: w, info: res.info, summary: res.summary})
	b.StopTimer()
	progress.stop()
	wall := time.Since(res.info.Start)
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
	res.messages = statusMessages(clients)
	res.reportMetrics(b, wall)
	if err := h.writeAnalysis(b, res, path, wall); err != nil {
		b.Fatal(err)
	}
	h.checkSuccess(b, res)
}

// historyPath returns the path of m's history file for load.
func (h *harness) historyPath(m *Target, load Load) string {
	return filepath.Join(m.dir, load.History+".csv")
}

// openHistory opens the history at path for appending.
// With -mb.restart, its first open by this process starts it afresh.
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

// benchResult holds what one sub-benchmark's queries left behind.
type benchResult struct {
	load    Load
	timeout time.Duration
	info    history.RunInfo   // the sub-benchmark's settings and start
	summary *analysis.Summary // of every record written
	stats   *load.Stats
	// messages holds the first message of each failure status of a
	// synapse run.
	messages map[history.Code]string
}

// reportMetrics reports all of r's metrics to b.
// The open loop's and the protocol's extras come only when r has them.
func (r *benchResult) reportMetrics(b *testing.B, wall time.Duration) {
	reportQueryMetrics(b, r.summary, wall, r.load)
	if o := r.stats.Open; o != nil {
		reportOpenLoopMetrics(b, o, wall)
	}
	reportExtraMetrics(b, r.stats, wall)
}

// reportQueryMetrics reports the metrics every benchmark has.
func reportQueryMetrics(b *testing.B, s *analysis.Summary, wall time.Duration, ld Load) {
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

// reportExtraMetrics reports what a protocol told beside its answers.
//
// These are the server's own processing time (server-p50-ns) and, for a
// streaming synapse, the time to the first byte of an answer
// (ttfb-p50-ns), the chunks received per second (chunks/s) and, through
// b.SetBytes, the answers' MB/s. A streamed answer's latency quantiles are
// the time to its last chunk. Each comes only when some answer told it.
// The 2.0.x protocol tells none of them.
func reportExtraMetrics(b *testing.B, s *load.Stats, wall time.Duration) {
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

// benchSource hands out b.Loop's queries while the miner is available.
type benchSource struct {
	b *testing.B
	m *Target
}

// Next reports whether b.Loop asks for one more query.
//
// b.Loop stops the timer when it hands out the last query. The queries
// still in flight belong to the timed region too, so Next restarts it.
func (s *benchSource) Next() bool {
	if s.m.Err() != nil || !s.b.Loop() {
		s.b.StartTimer()
		return false
	}
	return true
}

// Gone reports whether the miner is gone.
// It looks only after an Unavailable answer (503 over HTTP).
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

// historySink writes records to the history and adds them to a summary.
type historySink struct {
	w       *history.Writer
	info    history.RunInfo
	summary *analysis.Summary
	rows    []history.Record // scratch of one Write
}

// Write appends recs to the history in one write.
// Only written records are added to the summary.
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

// checkSuccess warns loudly when no query of res succeeded.
//
// Such a result measures failures, not the miner. The cause may be a
// -mb.timeout too short for the miner, or a miner that refuses every
// query. Its result line looks like any other, success-% aside, and is
// easily missed. So the warning goes to the benchmark's log and to the
// terminal, and -mb.fail-on-no-success fails the benchmark.
func (h *harness) checkSuccess(b *testing.B, res *benchResult) {
	if res.stats.Recorded == 0 || res.stats.Succeeded > 0 {
		return
	}
	var codes []string
	for _, c := range res.summary.Counts() {
		codes = append(codes, fmt.Sprintf("%d %v", c.Count, c.Code))
	}
	msg := fmt.Sprintf("NO QUERY SUCCEEDED: %d queries, %s (is -%stimeout=%v long enough? the miner's log may say why)",
		res.stats.Recorded, strings.Join(codes, ", "), flagPrefix, res.timeout)
	h.alert.warn(b.Name() + ": " + msg)
	if h.cfg.FailOnNoSuccess {
		b.Errorf("%s; failing, as -%sfail-on-no-success asks", msg, flagPrefix)
		return
	}
	b.Log(msg)
}

// makeTokenBatches returns tokenBatches distinct token batches of shape
// [batch, block]. They are the same on every call, with ids below
// wire.VocabSize.
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

// callsRequested returns N of -test.benchtime Nx, QueryBenchmark's
// n_calls. It returns 0 when -test.benchtime is a duration.
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
