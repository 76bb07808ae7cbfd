package minerbench

import (
	"context"
	"flag"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/history"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// benchLoad runs load against m as Bench runs it.
func benchLoad(b *testing.B, h *harness, m *Target, load Load) {
	load, err := load.normalize()
	require.NoError(b, err)
	h.bench(b, m, load)
}

// childHistory returns the path of the default history of the in-process
// miner name under results.
func childHistory(results, name string) string {
	return filepath.Join(resultsDir(results, mockNetwork, validatorWallet, name), DefaultHistory+".csv")
}

// historyRows returns the rows of the default history of the in-process
// miner name under results.
func historyRows(t *testing.T, results, name string) []history.Row {
	t.Helper()
	rows, err := history.Read(childHistory(results, name))
	require.NoError(t, err)
	return rows
}

// stallingMiner freezes for stall at every every-th call, as a miner in a
// garbage collection pause or a GIL-holding step would: the call that starts
// the stall and every call arriving during it wait until it ends.
type stallingMiner struct {
	every int64
	stall time.Duration
	calls atomic.Int64

	mu    sync.Mutex
	until time.Time
}

func (s *stallingMiner) forward(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
	n := s.calls.Add(1)
	s.mu.Lock()
	if n%s.every == 0 {
		s.until = time.Now().Add(s.stall)
	}
	wait := time.Until(s.until)
	s.mu.Unlock()
	if wait > 0 {
		time.Sleep(wait)
	}
	return zeroAnswer(in), nil
}

// The stalling miner of TestOpenLoopShowsStall and the load offered to it.
const (
	stallEvery = 250                    // calls
	stallTime  = 200 * time.Millisecond // of each stall
	stallRate  = 500                    // queries per second: one every 2 ms
	stallN     = 1000                   // queries of each benchmark
)

// benchStall is a body of TestOpenLoopShowsStall: load against a miner that
// stalls for stallTime once every stallEvery calls.
func benchStall(b *testing.B, results string, load Load) {
	h, m := inProcess(b, results, "stall", 12*time.Second, (&stallingMiner{every: stallEvery, stall: stallTime}).forward)
	benchLoad(b, h, m, load)
}

// TestOpenLoopShowsStall queries a miner that stalls for 200 ms once every
// 250 calls, closed loop and open loop at the same offered load (one query
// every 2 ms, one worker). The closed loop waits out each stall without
// sending: only the 4 stalled queries of 1000 see it, below its p99. The open
// loop keeps the schedule, so the queries due during a stall are sent after
// it and their corrected latency carries the wait: its p99 is near the stall
// while its uncorrected p99 stays low. Only what holds by construction is
// asserted (a stall is a sleep, and the one worker cannot send during it):
// the lower bound and the orderings; the upper bounds, which a busy machine
// could break, are logged.
func TestOpenLoopShowsStall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two 1000-query benchmarks of several seconds")
	}
	const n = stallN
	interval := time.Second / stallRate
	closedDir, openDir := t.TempDir(), t.TempDir()
	closed := benchInChild(t, "stall-closed", n, closedDir)
	require.NoError(t, closed.Err, closed.Output)
	require.Equal(t, n, closed.N, closed.Output)
	open := benchInChild(t, "stall-open", n, openDir)
	require.NoError(t, open.Err, open.Output)
	require.Equal(t, n, open.N, open.Output)
	closedRows, openRows := historyRows(t, closedDir, "stall"), historyRows(t, openDir, "stall")

	closedP99 := time.Duration(closed.Metrics["p99-ns"])
	openP99 := time.Duration(open.Metrics["p99-ns"])
	uncorrectedP99 := time.Duration(open.Metrics["p99-uncorrected-ns"])
	t.Logf("closed loop: p99 %v; open loop at %d/s: corrected p90 %v, p99 %v, uncorrected p99 %v, achieved %.1f queries/s, %v%% late, %v%% dropped",
		closedP99, stallRate, time.Duration(open.Metrics["p90-ns"]), openP99, uncorrectedP99, open.Metrics["queries/s"], open.Metrics["late-%"], open.Metrics["dropped-%"])

	// The closed loop met the stalls, yet its p99 does not show them.
	stalled := 0
	for _, row := range closedRows {
		if row.Latency >= stallTime {
			stalled++
		}
	}
	assert.GreaterOrEqual(t, stalled, n/stallEvery, "stalled queries of the closed loop")
	t.Logf("closed-loop p99 %v (below %v on a quiet machine)", closedP99, stallTime/2)
	assert.NotContains(t, closed.Metrics, "p99-uncorrected-ns")
	assert.NotContains(t, closed.Metrics, "dropped-%")
	assert.NotContains(t, closed.Metrics, "late-%")

	// The open loop's corrected p99 carries the stall; its uncorrected p99
	// does not.
	assert.GreaterOrEqual(t, openP99, stallTime*9/10, "corrected p99")
	t.Logf("uncorrected p99 %v (below %v on a quiet machine)", uncorrectedP99, stallTime/2)
	assert.Greater(t, openP99, uncorrectedP99)
	assert.Greater(t, openP99, closedP99)
	assert.Positive(t, open.Metrics["late-%"], "queries due during a stall are sent late")
	assert.LessOrEqual(t, open.Metrics["late-%"], 100.0)
	assert.Zero(t, open.Metrics["dropped-%"], "nothing waits past the 12 s timeout")
	assert.Positive(t, open.Metrics["queries/s"])

	// The history holds every query once (one worker writes them in
	// schedule order), with the corrected latency as time and the answer's
	// time since the start as elapsed: elapsed - time is the intended send
	// time, on the schedule.
	require.Len(t, openRows, n)
	intended := func(row history.Row) time.Duration { return row.Elapsed - row.Latency }
	first := intended(openRows[0])
	late := 0
	for i, row := range openRows {
		assert.Equal(t, wire.ReturnCode_Success, wire.ReturnCode(row.Code))
		assert.InDelta(t, float64(time.Duration(i)*interval), float64(intended(row)-first), float64(10*time.Microsecond), "row %d intended send time", i)
		if row.Latency >= stallTime/2 {
			late++
		}
	}
	assert.Greater(t, late, n/100, "rows whose corrected latency carries at least half a stall")
}

// dropsTimeout is the per-query timeout of TestOpenLoopDrops.
const dropsTimeout = 100 * time.Millisecond

// benchDrops is the body of TestOpenLoopDrops: 1000 queries per second with
// one worker against a miner that takes at least 20 ms a query.
func benchDrops(b *testing.B, results string) {
	slow := func(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		time.Sleep(20 * time.Millisecond)
		return zeroAnswer(in), nil
	}
	h, m := inProcess(b, results, "slow", dropsTimeout, slow)
	benchLoad(b, h, m, Load{Batch: 1, Block: 1, Rate: 1000})
}

// TestOpenLoopDrops runs a miner that takes at least 20 ms a query at 1000
// queries per second with one worker and a 100 ms timeout: the worker falls
// behind by at least 19 ms a query, so queries whose timeout passes before it
// is free are dropped. Every scheduled query is still in the history once,
// the dropped ones as Timeout with their wait.
func TestOpenLoopDrops(t *testing.T) {
	const n = 100
	dir := t.TempDir()
	res := benchInChild(t, "drops", n, dir)
	require.NoError(t, res.Err, res.Output)
	require.Equal(t, n, res.N, res.Output)
	rows := historyRows(t, dir, "slow")

	// late-% and dropped-% are percentages of the n scheduled queries.
	require.Contains(t, res.Metrics, "dropped-%", res.Output)
	require.Contains(t, res.Metrics, "late-%", res.Output)
	assert.NotContains(t, res.Metrics, "dropped", "a count that grows with b.N")
	assert.NotContains(t, res.Metrics, "late", "a count that grows with b.N")
	dropped := int(math.Round(res.Metrics["dropped-%"] * n / 100))
	assert.InDelta(t, float64(dropped), res.Metrics["dropped-%"]*n/100, 1e-6, "dropped-%% of %d queries is a whole number of them", n)
	t.Logf("%d dropped, %v%% late, achieved %.1f queries/s", dropped, res.Metrics["late-%"], res.Metrics["queries/s"])
	assert.Positive(t, dropped)
	assert.Less(t, dropped, n, "the first query is sent on time")
	assert.LessOrEqual(t, res.Metrics["late-%"]+res.Metrics["dropped-%"], 100.0, "a query is late, dropped or neither")
	require.Len(t, rows, n, "every scheduled query is recorded")
	timedOut := 0
	for _, row := range rows {
		if wire.ReturnCode(row.Code) == wire.ReturnCode_Timeout && row.Latency >= dropsTimeout {
			timedOut++
		}
	}
	assert.GreaterOrEqual(t, timedOut, dropped, "dropped queries are recorded as Timeout with their wait")
	// The achieved rate counts only the queries sent, over the timed region
	// (near, not equal to, the sent count over ns/op × n: its wall time is
	// not the benchmark's).
	t.Logf("achieved rate %.1f queries/s; sent over the timed region %.1f queries/s",
		res.Metrics["queries/s"], float64(n-dropped)/(res.Metrics["ns/op"]*n/1e9))
	assert.Positive(t, res.Metrics["queries/s"], "the first query is sent")
	assert.Less(t, res.Metrics["success-%"], 100.0, "dropped queries count against success")
}

func TestLoadRate(t *testing.T) {
	tests := []struct {
		name    string
		load    Load
		want    string // the sub-benchmark name, when valid
		wantErr string
	}{
		{name: "closed loop", load: Load{Batch: 10, Block: 10}, want: "miner=m/batch=10/block=10/conc=1"},
		{name: "whole rate", load: Load{Batch: 10, Block: 10, Conc: 4, Rate: 500}, want: "miner=m/batch=10/block=10/conc=4/rate=500"},
		{name: "fractional rate", load: Load{Batch: 1, Block: 1, Rate: 0.5}, want: "miner=m/batch=1/block=1/conc=1/rate=0.5"},
		{name: "largest rate", load: Load{Batch: 1, Block: 1, Rate: maxRate}, want: "miner=m/batch=1/block=1/conc=1/rate=100000"},
		{name: "negative rate", load: Load{Batch: 1, Block: 1, Rate: -1}, wantErr: "load rate -1: want 0 (closed loop) or queries per second up to 100000"},
		{name: "too high", load: Load{Batch: 1, Block: 1, Rate: 1e9}, wantErr: "load rate 1e+09"},
		{name: "NaN", load: Load{Batch: 1, Block: 1, Rate: math.NaN()}, wantErr: "load rate NaN"},
		{name: "infinite", load: Load{Batch: 1, Block: 1, Rate: math.Inf(1)}, wantErr: "load rate +Inf"},
		{name: "delay with rate", load: Load{Batch: 1, Block: 1, Rate: 10, Delay: time.Millisecond}, wantErr: "load delay 1ms: want 0 with a rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.load.normalize()
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.name("m"))
		})
	}
}

func TestRateFlag(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    float64
		wantErr string // in check's error, empty when valid
	}{
		{name: "default closed loop", want: 0},
		{name: "rate", args: []string{"-mb.rate=250.5"}, want: 250.5},
		{name: "with conc", args: []string{"-mb.rate=1000", "-mb.conc=8"}, want: 1000},
		{name: "negative", args: []string{"-mb.rate=-5"}, want: -5, wantErr: "-mb.rate=-5: want 0 (closed loop) or queries per second up to 100000"},
		{name: "too high", args: []string{"-mb.rate=200000"}, want: 200000, wantErr: "-mb.rate=200000: want"},
		{name: "NaN", args: []string{"-mb.rate=NaN"}, want: math.NaN(), wantErr: "-mb.rate=NaN: want"},
		{name: "with delay", args: []string{"-mb.rate=10", "-mb.delay=5ms"}, want: 10, wantErr: "-mb.delay=5ms: want 0 with -mb.rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultConfig()
			c.Results = t.TempDir()
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			c.registerFlags(fs)
			require.NoError(t, fs.Parse(tt.args))
			if math.IsNaN(tt.want) {
				assert.True(t, math.IsNaN(c.Rate))
			} else {
				assert.Equal(t, tt.want, c.Rate)
			}
			err := c.check(nil)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// The miner of TestOpenLoopInterrupted: conc workers, and the number of
// timed queries it answers before it hangs.
const (
	interruptedConc     = 2
	interruptedAnswered = 5
)

// benchInterrupted is the body of TestOpenLoopInterrupted: an open loop
// interrupted through the harness's context once both workers wait for a
// miner that answers only interruptedAnswered timed queries.
func benchInterrupted(b *testing.B, results string) {
	var calls atomic.Int64
	inFlight := make(chan struct{}, interruptedConc)
	forward := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		if calls.Add(1) <= warmupQueries*interruptedConc+interruptedAnswered {
			return zeroAnswer(in), nil
		}
		inFlight <- struct{}{}
		<-ctx.Done()
		return tensor.Tensor{}, ctx.Err()
	}
	h, m := inProcess(b, results, "hung", 10*time.Second, forward)
	ctx, interrupt := context.WithCancel(h.ctx)
	defer interrupt()
	h.ctx = ctx
	go func() {
		for range interruptedConc {
			<-inFlight
		}
		interrupt()
	}()
	benchLoad(b, h, m, Load{Batch: 1, Block: 1, Conc: interruptedConc, Rate: 200})
}

// TestOpenLoopInterrupted interrupts an open loop through the harness's
// context while both workers wait for a miner that answers only when its
// context ends: the benchmark fails, the queries answered before are in the
// history, the ones the interruption cut are not (as in the closed loop), so
// no row is UnknownException.
func TestOpenLoopInterrupted(t *testing.T) {
	dir := t.TempDir()
	res := benchInChild(t, "interrupted", 100000, dir)
	require.Error(t, res.Err, "an interrupted benchmark fails; output:\n%s", res.Output)
	assert.Contains(t, res.Output, errInterrupted.Error())
	assert.Zero(t, res.N, "no result line")

	rows := historyRows(t, dir, "hung")
	require.Len(t, rows, interruptedAnswered, "only the answered queries are recorded")
	for i, row := range rows {
		assert.Equal(t, wire.ReturnCode_Success, wire.ReturnCode(row.Code), "row %d", i)
	}
}

// The miner of TestOpenLoopTimeout: the per-query timeout, and the timed
// queries, one every two timeouts.
const (
	openTimeout  = 300 * time.Millisecond
	openTimeoutN = 4
)

// benchOpenTimeout is the body of TestOpenLoopTimeout: an open loop with one
// worker against a miner that answers every other timed query, the first
// included, only when its context ends.
func benchOpenTimeout(b *testing.B, results string) {
	var calls atomic.Int64
	forward := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		if n := calls.Add(1) - warmupQueries; n > 0 && n%2 == 1 {
			<-ctx.Done()
			return tensor.Tensor{}, ctx.Err()
		}
		return zeroAnswer(in), nil
	}
	h, m := inProcess(b, results, "hangs", openTimeout, forward)
	benchLoad(b, h, m, Load{Batch: 1, Block: 1, Rate: float64(time.Second) / float64(2*openTimeout)})
}

// TestOpenLoopTimeout checks the open loop's per-query timeout: a query the
// miner does not answer is cut once its timeout has passed and recorded as
// Timeout, and the worker's next query, on the same timer, is answered. The
// queries are two timeouts apart, so none waits for the worker.
func TestOpenLoopTimeout(t *testing.T) {
	dir := t.TempDir()
	res := benchInChild(t, "open-timeout", openTimeoutN, dir)
	require.NoError(t, res.Err, res.Output)
	require.Equal(t, openTimeoutN, res.N, res.Output)
	assert.Zero(t, res.Metrics["dropped-%"])

	rows := historyRows(t, dir, "hangs")
	require.Len(t, rows, openTimeoutN)
	for i, row := range rows {
		if i%2 == 1 {
			assert.Equal(t, wire.ReturnCode_Success, wire.ReturnCode(row.Code), "row %d: the query after a cut one is answered", i)
			continue
		}
		assert.Equal(t, wire.ReturnCode_Timeout, wire.ReturnCode(row.Code), "row %d", i)
		assert.GreaterOrEqual(t, row.Latency, openTimeout, "row %d: cut only once its timeout has passed", i)
		t.Logf("row %d: cut after %v (timeout %v)", i, row.Latency, openTimeout)
	}
}
