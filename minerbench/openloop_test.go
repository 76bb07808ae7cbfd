package minerbench

import (
	"context"
	"flag"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/minerbench/minerbench/minerbench/history"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// benchN runs one sub-benchmark of load against m for exactly n queries and
// returns its result and the history it wrote.
func benchN(t *testing.T, h *harness, m *Miner, load Load, n int) (testing.BenchmarkResult, []history.Row) {
	t.Helper()
	load, err := load.normalize()
	require.NoError(t, err)
	bt := flag.Lookup("test.benchtime")
	old := bt.Value.String()
	require.NoError(t, bt.Value.Set(strconv.Itoa(n)+"x"))
	defer func() { require.NoError(t, bt.Value.Set(old)) }()
	res := testing.Benchmark(func(b *testing.B) { h.bench(b, m, load) })
	require.Equal(t, n, res.N, "the benchmark failed")
	rows, err := history.Read(h.historyPath(m, load))
	require.NoError(t, err)
	return res, rows
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
	t.Cleanup(func() { goleak.VerifyNone(t) })
	const (
		n     = 1000
		stall = 200 * time.Millisecond
		rate  = 500 // queries per second: one every 2 ms
	)
	interval := time.Second / rate

	closedH, closedM := inProcess(t, "closed", 12*time.Second, (&stallingMiner{every: 250, stall: stall}).forward)
	closed, closedRows := benchN(t, closedH, closedM, Load{Batch: 1, Block: 1, Delay: interval}, n)
	openH, openM := inProcess(t, "open", 12*time.Second, (&stallingMiner{every: 250, stall: stall}).forward)
	open, openRows := benchN(t, openH, openM, Load{Batch: 1, Block: 1, Rate: rate}, n)

	closedP99 := time.Duration(closed.Extra["p99-ns"])
	openP99 := time.Duration(open.Extra["p99-ns"])
	uncorrectedP99 := time.Duration(open.Extra["p99-uncorrected-ns"])
	t.Logf("closed loop: p99 %v; open loop at %d/s: corrected p90 %v, p99 %v, uncorrected p99 %v, achieved %.1f queries/s, %v late, %v dropped",
		closedP99, rate, time.Duration(open.Extra["p90-ns"]), openP99, uncorrectedP99, open.Extra["queries/s"], open.Extra["late"], open.Extra["dropped"])

	// The closed loop met the stalls, yet its p99 does not show them.
	stalled := 0
	for _, row := range closedRows {
		if row.Latency >= stall {
			stalled++
		}
	}
	assert.GreaterOrEqual(t, stalled, 4, "stalled queries of the closed loop")
	t.Logf("closed-loop p99 %v (below %v on a quiet machine)", closedP99, stall/2)
	assert.NotContains(t, closed.Extra, "p99-uncorrected-ns")
	assert.NotContains(t, closed.Extra, "dropped")

	// The open loop's corrected p99 carries the stall; its uncorrected p99
	// does not.
	assert.GreaterOrEqual(t, openP99, stall*9/10, "corrected p99")
	t.Logf("uncorrected p99 %v (below %v on a quiet machine)", uncorrectedP99, stall/2)
	assert.Greater(t, openP99, uncorrectedP99)
	assert.Greater(t, openP99, closedP99)
	assert.Positive(t, open.Extra["late"], "queries due during a stall are sent late")
	assert.Zero(t, open.Extra["dropped"], "nothing waits past the 12 s timeout")
	assert.Positive(t, open.Extra["queries/s"])

	// The history holds every query once (one worker writes them in
	// schedule order), with the corrected latency as time and the answer's
	// time since the start as elapsed: elapsed - time is the intended send
	// time, on the schedule.
	require.Len(t, openRows, n)
	intended := func(row history.Row) time.Duration { return row.Elapsed - row.Latency }
	first := intended(openRows[0])
	late := 0
	for i, row := range openRows {
		assert.Equal(t, wire.ReturnCode_Success, row.Code)
		assert.InDelta(t, float64(time.Duration(i)*interval), float64(intended(row)-first), float64(time.Microsecond), "row %d intended send time", i)
		if row.Latency >= stall/2 {
			late++
		}
	}
	assert.Greater(t, late, n/100, "rows whose corrected latency carries at least half a stall")
}

// TestOpenLoopDrops runs a miner that takes at least 20 ms a query at 1000
// queries per second with one worker and a 100 ms timeout: the worker falls
// behind by at least 19 ms a query, so queries whose timeout passes before it
// is free are dropped. Every scheduled query is still in the history once,
// the dropped ones as Timeout with their wait.
func TestOpenLoopDrops(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	const (
		n       = 100
		timeout = 100 * time.Millisecond
	)
	slow := func(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		time.Sleep(20 * time.Millisecond)
		return zeroAnswer(in), nil
	}
	h, m := inProcess(t, "slow", timeout, slow)
	res, rows := benchN(t, h, m, Load{Batch: 1, Block: 1, Rate: 1000}, n)

	dropped := int(res.Extra["dropped"])
	t.Logf("%d dropped, %v late, achieved %.1f queries/s", dropped, res.Extra["late"], res.Extra["queries/s"])
	assert.Positive(t, dropped)
	assert.Less(t, dropped, n, "the first query is sent on time")
	require.Len(t, rows, n, "every scheduled query is recorded")
	timedOut := 0
	for _, row := range rows {
		if row.Code == wire.ReturnCode_Timeout && row.Latency >= timeout {
			timedOut++
		}
	}
	assert.GreaterOrEqual(t, timedOut, dropped, "dropped queries are recorded as Timeout with their wait")
	// The achieved rate counts only the queries sent, over the timed region
	// (near, not equal to, the sent count over res.T: its wall time is not
	// res.T's).
	t.Logf("achieved rate %.1f queries/s; sent over the timed region %.1f queries/s",
		res.Extra["queries/s"], float64(n-dropped)/res.T.Seconds())
	assert.Positive(t, res.Extra["queries/s"], "the first query is sent")
	assert.Less(t, res.Extra["success-%"], 100.0, "dropped queries count against success")
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

// TestOpenLoopInterrupted interrupts an open loop through the harness's
// context while both workers wait for a miner that answers only when its
// context ends: the queries answered before are in the history, the ones
// the interruption cut are not (as in the closed loop), so no row is
// UnknownException.
func TestOpenLoopInterrupted(t *testing.T) {
	const (
		conc     = 2
		answered = 5
	)
	var calls atomic.Int64
	inFlight := make(chan struct{}, conc)
	forward := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		if calls.Add(1) <= warmupQueries*conc+answered {
			return zeroAnswer(in), nil
		}
		inFlight <- struct{}{}
		<-ctx.Done()
		return tensor.Tensor{}, ctx.Err()
	}
	h, m := inProcess(t, "hung", 10*time.Second, forward)
	ctx, interrupt := context.WithCancel(h.ctx)
	defer interrupt()
	h.ctx = ctx
	load, err := Load{Batch: 1, Block: 1, Conc: conc, Rate: 200}.normalize()
	require.NoError(t, err)

	bt := flag.Lookup("test.benchtime")
	old := bt.Value.String()
	require.NoError(t, bt.Value.Set("100000x"))
	defer func() { require.NoError(t, bt.Value.Set(old)) }()
	go func() {
		for range conc {
			<-inFlight
		}
		interrupt()
	}()
	res := testing.Benchmark(func(b *testing.B) { h.bench(b, m, load) })
	assert.Zero(t, res.N, "an interrupted benchmark fails")

	rows, err := history.Read(h.historyPath(m, load))
	require.NoError(t, err)
	require.Len(t, rows, answered, "only the answered queries are recorded")
	for i, row := range rows {
		assert.Equal(t, wire.ReturnCode_Success, row.Code, "row %d", i)
	}
}
