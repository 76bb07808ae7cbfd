package history

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

	"github.com/minerbench/minerbench/minerbench/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// handRecords are five queries whose statistics are worked out by hand in
// TestSummaryHandComputed.
func handRecords() []Record {
	return []Record{
		rec(0, wire.ReturnCode_Success, 1*time.Millisecond),
		rec(1, wire.ReturnCode_Timeout, 2*time.Millisecond),
		rec(2, wire.ReturnCode_Success, 3*time.Millisecond),
		rec(3, wire.ReturnCode_Unauthenticated, 4*time.Millisecond),
		rec(4, wire.ReturnCode_Success, 10*time.Millisecond),
	}
}

func summarize(recs []Record) *Summary {
	var s Summary
	for _, r := range recs {
		s.Add(r)
	}
	return &s
}

func TestSummaryHandComputed(t *testing.T) {
	s := summarize(handRecords())
	assert.Equal(t, int64(5), s.Count())
	// Elapsed 1, 2, 3, 4, 10 ms: mean 4 ms; squared deviations 9+4+1+0+36 =
	// 50 ms², sample variance 50/4 = 12.5 ms².
	assert.Equal(t, 4*time.Millisecond, s.Mean())
	assert.Equal(t, time.Duration(math.Round(math.Sqrt(12.5)*1e6)), s.Std())
	assert.Equal(t, time.Millisecond, s.Min())
	assert.Equal(t, 10*time.Millisecond, s.Max())
	assert.Equal(t, t0, s.First())
	assert.Equal(t, t0.Add(4*time.Second), s.Last())
	assert.InDelta(t, 250.0, s.QPS(), 1e-9, "1 / 0.004 s")
	assert.InDelta(t, 2.5, s.Throughput(2*time.Second), 1e-12)
	assert.Zero(t, s.Throughput(0))
	assert.InDelta(t, 0.6, s.SuccessRate(), 1e-12)
	assert.Equal(t, []CodeCount{
		{wire.ReturnCode_Success, 3},
		{wire.ReturnCode_Timeout, 1},
		{wire.ReturnCode_Unauthenticated, 1},
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
		assert.InEpsilon(t, float64(tt.want), float64(s.Quantile(tt.q)), 1e-3, "q=%v", tt.q)
	}

	// Codes 1, 1, 1, 2, 23: mean 5.6; squared deviations 3*21.16 + 12.96 +
	// 302.76 = 379.2, sample variance 94.8; quartiles 1, 1, 2.
	code := s.describeCode()
	want := [len(describeRows)]float64{5, 5.6, math.Sqrt(94.8), 1, 1, 1, 2, 23}
	assert.InDeltaSlice(t, want[:], code[:], 1e-12)
}

func TestSummaryEmptyAndSingle(t *testing.T) {
	var s Summary
	assert.Zero(t, s.Count())
	assert.Zero(t, s.Quantile(0.5))
	assert.Zero(t, s.QPS())
	assert.Zero(t, s.SuccessRate())
	assert.Empty(t, s.Counts())
	assert.Zero(t, s.Std())

	s.Add(rec(0, wire.ReturnCode_Success, 5*time.Millisecond))
	assert.Zero(t, s.Std(), "std needs two records")
	assert.True(t, math.IsNaN(s.describeElapsed()[2]), "describe shows NaN for it, as pandas")
	assert.Equal(t, 5*time.Millisecond, s.Quantile(0.3))
}

func TestSummaryOutOfHistogramRange(t *testing.T) {
	s := summarize([]Record{
		rec(0, 1, -time.Second),
		rec(1, 1, time.Millisecond),
		rec(2, 1, 2*time.Hour),
	})
	assert.Equal(t, -time.Second, s.Min(), "extremes stay exact")
	assert.Equal(t, 2*time.Hour, s.Max())
	assert.Equal(t, 2*time.Hour, s.Quantile(1))
	assert.InEpsilon(t, float64(time.Millisecond), float64(s.Quantile(0.5)), 1e-3)
}

// exactQuantile is numpy's default (linear) quantile of sorted.
func exactQuantile(sorted []time.Duration, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	k := int(math.Floor(pos))
	if k+1 >= len(sorted) {
		return float64(sorted[k])
	}
	return float64(sorted[k]) + (pos-float64(k))*float64(sorted[k+1]-sorted[k])
}

// randomRecords are n log-normal latencies around 1 ms with mixed codes.
func randomRecords(n int, seed uint64) []Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	recs := make([]Record, n)
	for i := range recs {
		code := wire.ReturnCode_Success
		if rng.IntN(10) == 0 {
			code = wire.ReturnCode(rng.IntN(24))
		}
		elapsed := time.Duration(math.Exp(rng.NormFloat64()*0.8) * 1e6)
		recs[i] = Record{Time: t0.Add(time.Duration(rng.IntN(1e9)) * time.Microsecond), Code: code, Elapsed: elapsed}
	}
	return recs
}

func TestSummaryAgainstExactStatistics(t *testing.T) {
	recs := randomRecords(10000, 7)
	s := summarize(recs)

	sorted := make([]time.Duration, len(recs))
	var sum float64
	for i, r := range recs {
		sorted[i] = r.Elapsed
		sum += float64(r.Elapsed)
	}
	slices.Sort(sorted)
	mean := sum / float64(len(recs))
	var ss float64
	for _, d := range sorted {
		ss += (float64(d) - mean) * (float64(d) - mean)
	}
	std := math.Sqrt(ss / float64(len(recs)-1))

	// Mean and Std round to the nanosecond; the describe table's unrounded
	// values match tighter.
	assert.InDelta(t, mean, float64(s.Mean()), 0.5)
	assert.InDelta(t, std, float64(s.Std()), 0.5)
	elapsed := s.describeElapsed()
	assert.InEpsilon(t, mean/1e9, elapsed[1], 1e-12)
	assert.InEpsilon(t, std/1e9, elapsed[2], 1e-9)
	assert.Equal(t, sorted[0], s.Min())
	assert.Equal(t, sorted[len(sorted)-1], s.Max())
	for _, q := range []float64{0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999} {
		assert.InEpsilon(t, exactQuantile(sorted, q), float64(s.Quantile(q)), 1e-3, "q=%v", q)
	}
}

func TestSummaryMergeEqualsAddingAll(t *testing.T) {
	recs := randomRecords(5000, 3)
	all := summarize(recs)

	var merged Summary
	for shard := range 4 {
		part := summarize(recs[shard*len(recs)/4 : (shard+1)*len(recs)/4])
		merged.Merge(part)
	}
	merged.Merge(nil)
	merged.Merge(&Summary{})

	assert.Equal(t, all.Count(), merged.Count())
	assert.InEpsilon(t, float64(all.Mean()), float64(merged.Mean()), 1e-12)
	assert.InEpsilon(t, float64(all.Std()), float64(merged.Std()), 1e-9)
	assert.Equal(t, all.Min(), merged.Min())
	assert.Equal(t, all.Max(), merged.Max())
	assert.Equal(t, all.First(), merged.First())
	assert.Equal(t, all.Last(), merged.Last())
	assert.Equal(t, all.Counts(), merged.Counts())
	for _, q := range []float64{0, 0.25, 0.5, 0.75, 0.99, 1} {
		assert.Equal(t, all.Quantile(q), merged.Quantile(q), "the merged histogram is the same, q=%v", q)
	}
}

func TestSummaryMergeSelf(t *testing.T) {
	s := summarize(handRecords())
	s.Merge(s)
	doubled := summarize(append(handRecords(), handRecords()...))
	assert.Equal(t, doubled.Count(), s.Count())
	assert.Equal(t, doubled.Counts(), s.Counts())
	assert.InEpsilon(t, float64(doubled.Std()), float64(s.Std()), 1e-12)
	assert.Equal(t, doubled.Quantile(0.5), s.Quantile(0.5))
}

func TestAnalysisGolden(t *testing.T) {
	tests := []struct {
		name string
		recs []Record
		wall time.Duration
	}{
		{"hand", handRecords(), 2 * time.Second},
		{"random", randomRecords(1000, 11), 1500 * time.Millisecond},
		{"single", handRecords()[:1], 0},
		{"empty", nil, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, summarize(tt.recs).Analysis(&buf, tt.wall))
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
