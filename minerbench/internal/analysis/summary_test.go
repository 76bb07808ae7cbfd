package analysis

import (
	"bytes"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/history"
	"github.com/minerbench/minerbench/minerbench/internal/pandastest"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// start is a run's start with a fraction that float seconds carry exactly.
var start = time.Date(2024, 5, 1, 12, 0, 0, 250_000_000, time.UTC)

var info = history.RunInfo{NProcesses: 2, NCalls: 100, BatchSize: 10, BlockSize: 20, WorldSize: 1, Start: start}

// row is the i-th query of a run of info, answered i seconds plus its
// latency after the start.
func row(i int, code wire.ReturnCode, latency time.Duration) history.Row {
	return history.Row{
		Record:  history.Record{Latency: latency, Code: history.ReturnCode(code), Elapsed: time.Duration(i)*time.Second + latency},
		RunInfo: info,
	}
}

// handRows are five queries whose statistics are worked out by hand in
// TestSummaryHandComputed.
func handRows() []history.Row {
	return []history.Row{
		row(0, wire.ReturnCode_Success, 1*time.Millisecond),
		row(1, wire.ReturnCode_Timeout, 2*time.Millisecond),
		row(2, wire.ReturnCode_Success, 3*time.Millisecond),
		row(3, wire.ReturnCode_Unauthenticated, 4*time.Millisecond),
		row(4, wire.ReturnCode_Success, 10*time.Millisecond),
	}
}

func summarize(rows []history.Row) *Summary {
	var s Summary
	for _, r := range rows {
		s.Add(r)
	}
	return &s
}

func TestSummaryHandComputed(t *testing.T) {
	s := summarize(handRows())
	assert.Equal(t, int64(5), s.Count())
	// Latencies 1, 2, 3, 4, 10 ms: mean 4 ms; squared deviations 9+4+1+0+36
	// = 50 ms², sample variance 50/4 = 12.5 ms².
	lat := s.Latency()
	assert.Equal(t, 4*time.Millisecond, lat.Mean())
	assert.Equal(t, time.Duration(math.Round(math.Sqrt(12.5)*1e6)), lat.Std())
	assert.Equal(t, time.Millisecond, lat.Min())
	assert.Equal(t, 10*time.Millisecond, lat.Max())
	assert.InDelta(t, 250.0, s.QPS(), 1e-9, "1 / 0.004 s")
	assert.InDelta(t, 0.6, s.SuccessRate(), 1e-12)
	assert.Equal(t, []CodeCount{
		{history.ReturnCode(wire.ReturnCode_Success), 3},
		{history.ReturnCode(wire.ReturnCode_Timeout), 1},
		{history.ReturnCode(wire.ReturnCode_Unauthenticated), 1},
	}, s.Counts())

	// Linear interpolation between order statistics at position q*(n-1).
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{
		{-1, time.Millisecond},
		{0, time.Millisecond},
		{0.1, 1400 * time.Microsecond},
		{0.25, 2 * time.Millisecond},
		{0.5, 3 * time.Millisecond},
		{0.75, 4 * time.Millisecond},
		{0.9, 7600 * time.Microsecond},
		{1, 10 * time.Millisecond},
		{2, 10 * time.Millisecond},
		{math.NaN(), time.Millisecond},
	} {
		assert.InEpsilon(t, float64(tt.want), float64(lat.Quantile(tt.q)), 1e-3, "q=%v", tt.q)
	}

	table := s.Describe()
	names := make([]string, len(table))
	for i, c := range table {
		names[i] = c.Name
	}
	assert.Equal(t, []string{"time", "code", "elapsed", "n_processes", "n_calls", "batch_size", "block_size", "world_size", "start_time"}, names,
		"every column of the history, in file order")
	// Codes 1, 1, 1, 2, 23: mean 5.6; squared deviations 3*21.16 + 12.96 +
	// 302.76 = 379.2, sample variance 94.8; quartiles 1, 1, 2.
	code := table[1]
	assert.False(t, code.Approximate)
	stats := code.stats()
	assert.InDeltaSlice(t, []float64{5.6, math.Sqrt(94.8), 1, 1, 1, 2, 23}, stats[:], 1e-12)
	// Elapsed 0.001, 1.002, 2.003, 3.004, 4.010 s.
	elapsed := table[2]
	assert.True(t, elapsed.Approximate)
	assert.InDelta(t, 2.004, elapsed.Mean, 1e-12)
	assert.Equal(t, 0.001, elapsed.Min)
	assert.Equal(t, 4.010, elapsed.Max)
	assert.InEpsilon(t, 2.003, elapsed.P50, 1e-3)
	// A run's settings are constant: every quantile is the value, std 0.
	for i, want := range []float64{2, 100, 10, 20, 1, history.UnixSeconds(start)} {
		c := table[3+i]
		assert.Equal(t, int64(5), c.Count, c.Name)
		assert.Equal(t, [7]float64{want, 0, want, want, want, want, want}, c.stats(), c.Name)
	}
}

func TestSummaryEmptyAndSingle(t *testing.T) {
	var s Summary
	assert.Zero(t, s.Count())
	assert.Zero(t, s.Latency().Quantile(0.5))
	assert.Zero(t, s.QPS())
	assert.Zero(t, s.SuccessRate())
	assert.Empty(t, s.Counts())
	assert.Zero(t, s.Latency().Std())
	for _, c := range s.Describe() {
		assert.Zero(t, c.Count)
		for _, v := range c.stats() {
			assert.True(t, math.IsNaN(v), "%s: pandas gives NaN without rows", c.Name)
		}
	}

	s.Add(row(0, wire.ReturnCode_Success, 5*time.Millisecond))
	assert.Zero(t, s.Latency().Std(), "std needs two rows")
	for _, c := range s.Describe() {
		assert.True(t, math.IsNaN(c.Std), "%s: pandas gives NaN for the std of one row", c.Name)
		assert.False(t, math.IsNaN(c.Mean), c.Name)
	}
	assert.Equal(t, 5*time.Millisecond, s.Latency().Quantile(0.3))
}

func TestDurationsOutOfHistogramRange(t *testing.T) {
	var d Durations
	for _, v := range []time.Duration{-time.Second, time.Millisecond, 2 * time.Hour} {
		d.Add(v)
	}
	assert.Equal(t, -time.Second, d.Min(), "extremes stay exact")
	assert.Equal(t, 2*time.Hour, d.Max())
	assert.Equal(t, 2*time.Hour, d.Quantile(1))
	assert.InEpsilon(t, float64(time.Millisecond), float64(d.Quantile(0.5)), 1e-3)

	var s Summary
	for i := range 3 {
		r := row(0, wire.ReturnCode_Success, time.Millisecond)
		r.Elapsed = time.Duration(i+1) * 24 * time.Hour
		s.Add(r)
	}
	assert.InEpsilon(t, float64(48*time.Hour), float64(s.Elapsed().Quantile(0.5)), 1e-3, "elapsed is recorded up to 30 days")
}

// randomRows are n log-normal latencies around 1 ms with mixed codes, from
// three runs with different settings and starts.
func randomRows(n int, seed uint64) []history.Row {
	rng := rand.New(rand.NewPCG(seed, 1))
	rows := make([]history.Row, n)
	for i := range rows {
		code := wire.ReturnCode_Success
		if rng.IntN(10) == 0 {
			code = wire.ReturnCode(rng.IntN(24))
		}
		run := i * 3 / n
		latency := time.Duration(math.Exp(rng.NormFloat64()*0.8) * 1e6)
		rows[i] = history.Row{
			Record: history.Record{Latency: latency, Code: history.ReturnCode(code), Elapsed: time.Duration(rng.IntN(1e9)) * time.Microsecond},
			RunInfo: history.RunInfo{NProcesses: 1 << run, NCalls: n / 3, BatchSize: 10 + run, BlockSize: 20, WorldSize: 1,
				Start: start.Add(time.Duration(run) * time.Hour)},
		}
	}
	return rows
}

// writeRows writes rows to a new history, a run at a time, and returns its
// path.
func writeRows(t *testing.T, rows []history.Row) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "queries.csv")
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].RunInfo == rows[i].RunInfo {
			j++
		}
		w, err := history.Open(path, false)
		require.NoError(t, err)
		for _, r := range rows[i:j] {
			require.NoError(t, w.Append(r.RunInfo, r.Record))
		}
		require.NoError(t, w.Commit())
		i = j
	}
	return path
}

// assertDescribes checks a describe() column against the statistics want
// (pandas' labels): equal to a float64's rounding, but for histogram
// quartiles, within their 0.1%.
func assertDescribes(t *testing.T, want map[string]float64, got Column) {
	t.Helper()
	assert.Equal(t, want["count"], float64(got.Count), "%s count", got.Name)
	for i, g := range got.stats() {
		label := describeRows[i+1]
		tol := 1e-9
		if got.Approximate && i >= 3 && i <= 5 {
			tol = 1e-3
		}
		if want[label] == 0 {
			assert.InDelta(t, 0, g, 1e-12, "%s %s", got.Name, label)
			continue
		}
		assert.InEpsilon(t, want[label], g, tol, "%s %s", got.Name, label)
	}
}

// assertMatchesFrame checks every figure of s against those of a frame
// read from the same rows.
func assertMatchesFrame(t *testing.T, frame pandastest.Frame, s *Summary) {
	t.Helper()
	assert.Equal(t, int64(frame.Rows), s.Count())
	assert.InEpsilon(t, frame.QPS, s.QPS(), 1e-12, "1 / df['time'].mean()")
	var names []string
	for _, c := range s.Describe() {
		names = append(names, c.Name)
		require.Contains(t, frame.Describe, c.Name)
		assertDescribes(t, frame.Describe[c.Name], c)
	}
	assert.Equal(t, frame.Columns, names, "describe() covers every column read, in order")
}

func TestDescribeAgainstExactStatistics(t *testing.T) {
	rows := randomRows(10000, 7)
	s := summarize(rows)
	frame := pandastest.Emulate(t, writeRows(t, rows))
	assertMatchesFrame(t, frame, s)

	var latencies []float64
	for _, r := range rows {
		latencies = append(latencies, r.Latency.Seconds())
	}
	sorted := slices.Sorted(slices.Values(latencies))
	for _, q := range []float64{0.001, 0.1, 0.9, 0.99, 0.999} {
		pos := q * float64(len(sorted)-1)
		k := int(pos)
		exact := sorted[k] + (pos-float64(k))*(sorted[k+1]-sorted[k])
		assert.InEpsilon(t, exact, s.Latency().Quantile(q).Seconds(), 1e-3, "q=%v", q)
	}
}

// TestDescribeAgainstPandas holds a Summary of three runs against real
// pandas reading their history as QueryBenchmark did.
func TestDescribeAgainstPandas(t *testing.T) {
	rows := randomRows(3000, 13)
	frame := pandastest.Pandas(t, writeRows(t, rows))
	assertMatchesFrame(t, frame, summarize(rows))
	assert.Equal(t, "float64", frame.Dtypes["time"])
	assert.Equal(t, "int64", frame.Dtypes["code"])
	assert.Equal(t, "float64", frame.Dtypes["start_time"])
}

func TestPrintGolden(t *testing.T) {
	tests := []struct {
		name string
		rows []history.Row
		wall time.Duration
	}{
		{"hand", handRows(), 2 * time.Second},
		{"random", randomRows(1000, 11), 1500 * time.Millisecond},
		{"single", handRows()[:1], 0},
		{"empty", nil, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, summarize(tt.rows).Print(&buf, tt.wall))
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), buf.String())
		})
	}
}

// TestSummarySynapseRun: a synapse run's HTTP statuses count 200 as
// success and name the others; its empty batch_size and block_size are
// counted as no values, as pandas counts NaN.
func TestSummarySynapseRun(t *testing.T) {
	var s Summary
	synapse := history.RunInfo{NProcesses: 1, NCalls: 3, WorldSize: 1, Start: start}
	for i, code := range []history.Code{history.StatusOK, 401, history.StatusOK} {
		s.Add(history.Row{Record: history.Record{Latency: time.Millisecond, Code: code, Elapsed: time.Duration(i) * time.Second}, RunInfo: synapse})
	}
	assert.InDelta(t, 2.0/3, s.SuccessRate(), 1e-12)
	assert.Equal(t, []CodeCount{{history.StatusOK, 2}, {401, 1}}, s.Counts())
	table := s.Describe()
	for _, c := range table {
		switch c.Name {
		case "batch_size", "block_size":
			assert.Zero(t, c.Count, c.Name)
			assert.True(t, math.IsNaN(c.Mean), c.Name)
		case "n_processes", "n_calls", "world_size", "code":
			assert.Equal(t, int64(3), c.Count, c.Name)
		}
	}
}
