package minerbench

import (
	"bufio"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/history"
	"github.com/minerbench/minerbench/minerbench/internal/pandastest"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// printed is one result's analysis as analysis.txt prints it.
type printed struct {
	qps      string
	describe map[string]map[string]string // column → statistic label → figure
	approx   string                       // the line naming the approximate quartiles
}

// readAnalysis parses the single result of the analysis file at path.
func readAnalysis(t *testing.T, path string) printed {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	p := printed{describe: map[string]map[string]string{}}
	results := 0
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "=== "):
			results++
		case strings.HasPrefix(line, "QPS: "):
			p.qps = strings.Fields(line)[1]
		case strings.HasPrefix(line, "describe()"):
			columns := strings.Fields(lines[i+1])
			for _, row := range lines[i+2 : i+10] {
				fields := strings.Fields(row)
				require.Len(t, fields, len(columns)+1, "row %q", row)
				for j, c := range columns {
					if p.describe[c] == nil {
						p.describe[c] = map[string]string{}
					}
					p.describe[c][fields[0]] = fields[j+1]
				}
			}
			p.approx = lines[i+10]
		}
	}
	require.Equal(t, 1, results, "one result in %s", path)
	return p
}

// assertPrinted checks that a printed figure is the value pandas computes,
// to its printed digits, widened by slack.
func assertPrinted(t *testing.T, exact float64, figure string, slack float64, msg string) {
	t.Helper()
	got, err := strconv.ParseFloat(figure, 64)
	require.NoError(t, err, msg)
	if math.IsNaN(exact) {
		assert.True(t, math.IsNaN(got), "%s: printed %s, want NaN", msg, figure)
		return
	}
	tol := 1e-12*math.Abs(exact) + slack
	if i := strings.IndexByte(figure, '.'); i >= 0 {
		tol += 0.5 * math.Pow(10, -float64(len(figure)-i-1))
	}
	assert.InDelta(t, exact, got, tol, "%s: printed %s", msg, figure)
}

// assertAnalysisOf checks the printed analysis against a frame read from
// the history alone. The printed quartiles of time and elapsed may differ
// by the histogram's 0.1%; a mean or std by the rounding error of pandas'
// own sums (n·ε·max|x|: pandas gives a constant start_time of 1.7e9 s a std
// near 1e-5 s, the analysis its exact 0).
func assertAnalysisOf(t *testing.T, frame pandastest.Frame, p printed) {
	t.Helper()
	assertPrinted(t, frame.QPS, p.qps, 0, "QPS = 1/mean(time)")
	var columns []string
	for _, c := range frame.Columns {
		columns = append(columns, c)
		require.Contains(t, p.describe, c, "describe() covers column %s", c)
		d := frame.Describe[c]
		for label, exact := range d {
			var slack float64
			switch {
			case (c == "time" || c == "elapsed") && strings.HasSuffix(label, "%"):
				slack = 1e-3 * math.Abs(exact)
			case label == "mean" || label == "std":
				slack = d["count"] * 0x1p-52 * max(math.Abs(d["min"]), math.Abs(d["max"]))
			}
			assertPrinted(t, exact, p.describe[c][label], slack, c+" "+label)
		}
	}
	assert.Len(t, p.describe, len(columns), "describe() covers the history's columns and no other")
	assert.Contains(t, p.approx, "quartiles of time and elapsed from a histogram, within 0.1%")
}

// The load of TestAnalysisMatchesHistory.
const (
	variedN    = 300
	variedConc = 2
)

// benchVaried is the body of TestAnalysisMatchesHistory: variedN queries
// from variedConc workers to a miner whose latencies vary and which refuses
// every seventh call.
func benchVaried(b *testing.B, results string) {
	var calls atomic.Int64
	forward := func(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		k := calls.Add(1)
		time.Sleep(time.Duration(k%5) * 300 * time.Microsecond)
		if k%7 == 0 {
			return tensor.Tensor{}, &axon.CodeError{Code: wire.ReturnCode_NucleusFull, Message: "busy"}
		}
		return zeroAnswer(in), nil
	}
	h, m := inProcess(b, results, "varied", 10*time.Second, forward)
	benchLoad(b, h, m, Load{Batch: 2, Block: 3, Conc: variedConc})
}

// oldLoad is the load TestOldHistoryIsRefused benchmarks.
var oldLoad = Load{Batch: 1, Block: 1}

// benchOldRestart is the second run of TestOldHistoryIsRefused: oldLoad
// with -mb.restart.
func benchOldRestart(b *testing.B, results string) {
	h, m := inProcess(b, results, "old", 10*time.Second, zeros)
	h.cfg.Restart = true
	benchLoad(b, h, m, oldLoad)
}

// TestAnalysisMatchesHistory runs a benchmark with two workers against a
// miner whose latencies vary and which refuses every 7th query, then reads
// the fresh history back as pandas would. It recomputes Bittensor 2.0.4's
// QueryBenchmark figures from the file alone. 1/mean(time) and every
// describe() figure equal what the run's analysis printed, to its printed
// digits (the histogram quartiles of time and elapsed within their 0.1%).
// So the columns mean what QueryBenchmark's meant.
func TestAnalysisMatchesHistory(t *testing.T) {
	const n, conc = variedN, variedConc
	dir := t.TempDir()
	before := time.Now()
	res := benchInChild(t, "varied", n, dir)
	after := time.Now()
	require.NoError(t, res.Err, res.Output)
	rows := historyRows(t, dir, "varied")

	path := childHistory(dir, "varied")
	p := readAnalysis(t, filepath.Join(filepath.Dir(path), analysisName))
	t.Run("emulated", func(t *testing.T) { assertAnalysisOf(t, pandastest.Emulate(t, path), p) })
	t.Run("pandas", func(t *testing.T) {
		frame := pandastest.Pandas(t, path)
		assertAnalysisOf(t, frame, p)
		assert.Equal(t, "float64", frame.Dtypes["time"])
		assert.Equal(t, "int64", frame.Dtypes["code"])
	})

	// time is each query's latency, elapsed the seconds from the run's
	// start to its answer, start_time the run's start.
	require.Len(t, rows, n)
	start := rows[0].Start
	assert.True(t, !start.Before(before.Add(-time.Microsecond)) && !start.After(after), "start_time %v is the run's start, in [%v, %v]", start, before, after)
	refused := 0
	for i, r := range rows {
		assert.Equal(t, history.RunInfo{NProcesses: conc, NCalls: n, BatchSize: 2, BlockSize: 3, WorldSize: 1, Start: start}, r.RunInfo, "row %d", i)
		assert.Positive(t, r.Latency, "row %d", i)
		assert.GreaterOrEqual(t, r.Elapsed, r.Latency, "row %d: answered after its latency since the start", i)
		assert.LessOrEqual(t, r.Elapsed, after.Sub(start), "row %d", i)
		if r.Code == history.ReturnCode(wire.ReturnCode_NucleusFull) {
			refused++
		}
	}
	assert.Positive(t, refused)
}

// TestOldHistoryIsRefused puts a history of the earlier format where a
// benchmark appends: it is refused with the flag that starts afresh, and
// left as it is; with -mb.restart it is replaced.
func TestOldHistoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	h, m := inProcess(t, dir, "old", 10*time.Second, zeros)
	load, err := Load{Batch: oldLoad.Batch, Block: oldLoad.Block}.normalize()
	require.NoError(t, err)
	path := h.historyPath(m, load)
	old := ",time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size\n0,1795640039.5489802,1,0.001045129,1,5,10,10,1\n"
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(old), 0o644))

	_, err = h.openHistory(path)
	require.ErrorIs(t, err, history.ErrOldFormat)
	assert.ErrorContains(t, err, "earlier minerbench")
	assert.ErrorContains(t, err, "-mb.restart starts a fresh history in its place")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, old, string(got), "the old history is unchanged")

	res := benchInChild(t, "old-restart", 5, dir)
	require.NoError(t, res.Err, res.Output)
	assert.Len(t, historyRows(t, dir, "old"), 5, "-mb.restart replaced it")
}
