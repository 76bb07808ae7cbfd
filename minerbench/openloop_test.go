package minerbench

import (
	"context"
	"flag"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/history"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
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
//
// Package load's tests cover the open loop itself; this one runs it under
// a real b.Loop and checks what the benchmark reports of it: dropped-% and
// late-% as percentages of the scheduled queries, the achieved rate.
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
		if row.Code == history.ReturnCode(wire.ReturnCode_Timeout) && row.Latency >= dropsTimeout {
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
