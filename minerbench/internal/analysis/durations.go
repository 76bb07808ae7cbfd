package analysis

import (
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The histogram of a Durations records 1 ns to its highest value with 3
// significant figures. Latencies go up to an hour, in about 270 KiB. The
// times since a run's start go up to 30 days, in about 340 KiB.
const (
	histLowest     = 1
	histSigFigs    = 3
	latencyHighest = int64(time.Hour)
	runTimeHighest = int64(30 * 24 * time.Hour)
)

// Durations accumulates a stream of durations in bounded memory.
//
// It keeps the count, a streaming mean and variance (Welford's method), the
// exact minimum and maximum, and an HDR histogram for the quantiles. The
// zero Durations is empty and ready for durations up to an hour. The
// histogram clamps a longer or negative one into range. The minimum,
// maximum and moments stay exact. It is not safe for concurrent use.
type Durations struct {
	n       int64
	mean    float64 // in nanoseconds
	m2      float64 // sum of squared deviations from mean
	min     time.Duration
	max     time.Duration
	hist    *hdrhistogram.Histogram
	highest int64 // of hist; 0 means latencyHighest
}

func (d *Durations) init() {
	if d.hist == nil {
		if d.highest == 0 {
			d.highest = latencyHighest
		}
		d.hist = hdrhistogram.New(histLowest, d.highest, histSigFigs)
	}
}

// Add accumulates v.
func (d *Durations) Add(v time.Duration) {
	d.init()
	d.n++
	// Clamped into range, RecordValue cannot fail.
	d.hist.RecordValue(min(max(int64(v), 0), d.highest))
	x := float64(v)
	delta := x - d.mean
	d.mean += delta / float64(d.n)
	d.m2 += delta * (x - d.mean)
	if d.n == 1 {
		d.min, d.max = v, v
		return
	}
	d.min = min(d.min, v)
	d.max = max(d.max, v)
}

// Count returns the number of durations.
func (d *Durations) Count() int64 { return d.n }

// Mean returns the mean, 0 without durations.
func (d *Durations) Mean() time.Duration { return time.Duration(math.Round(d.mean)) }

// Std returns the sample standard deviation, as pandas' std.
// It returns 0 with fewer than two durations, where pandas gives NaN.
func (d *Durations) Std() time.Duration {
	if d.n < 2 {
		return 0
	}
	return time.Duration(math.Round(d.stdNanos()))
}

func (d *Durations) stdNanos() float64 {
	return math.Sqrt(max(d.m2, 0) / float64(d.n-1))
}

// Min returns the smallest duration, or 0 without durations.
func (d *Durations) Min() time.Duration { return d.min }

// Max returns the largest duration, or 0 without durations.
func (d *Durations) Max() time.Duration { return d.max }

// Quantile returns the q-quantile, or 0 without durations.
//
// q is clamped to [0, 1], and NaN reads as 0. The quantile interpolates
// linearly between order statistics, as pandas' quantile and describe do.
// The order statistics come from the histogram, so each is within 0.1% of
// the exact one. The extremes, q = 0 and q = 1, are exact.
func (d *Durations) Quantile(q float64) time.Duration {
	if d.n == 0 {
		return 0
	}
	if !(q > 0) {
		q = 0
	}
	q = min(q, 1)
	pos := q * float64(d.n-1)
	k := int64(math.Floor(pos))
	frac := pos - float64(k)
	x := d.orderStat(k)
	if frac == 0 {
		return x
	}
	y := d.orderStat(k + 1)
	return x + time.Duration(math.Round(frac*float64(y-x)))
}

// orderStat returns the duration of 0-based rank k in sorted order.
func (d *Durations) orderStat(k int64) time.Duration {
	if k <= 0 {
		return d.min
	}
	if k >= d.n-1 {
		return d.max
	}
	// The histogram's percentile rank is int(p/100*n + 0.5), which is k+1
	// for this p despite rounding.
	v := time.Duration(d.hist.ValueAtPercentile(100 * float64(k+1) / float64(d.n)))
	return min(max(v, d.min), d.max)
}

// describe returns the describe() column of the durations, in seconds.
func (d *Durations) describe(name string) Column {
	c := Column{Name: name, Count: d.n}
	c.setNaN()
	if d.n == 0 {
		return c
	}
	c.Mean = d.mean / 1e9
	if d.n > 1 {
		c.Std = d.stdNanos() / 1e9
	}
	c.Min = d.min.Seconds()
	c.P25 = d.Quantile(0.25).Seconds()
	c.P50 = d.Quantile(0.5).Seconds()
	c.P75 = d.Quantile(0.75).Seconds()
	c.Max = d.max.Seconds()
	c.Approximate = true
	return c
}
