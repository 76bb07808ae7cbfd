package history

import (
	"cmp"
	"math"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// The elapsed histogram records nanoseconds from 1 ns to 1 h with 3
// significant figures (about 270 KiB). A longer elapsed time is recorded as
// 1 h, a negative one as 0; Min, Max and the moments stay exact.
const (
	histLowest  = 1
	histHighest = int64(time.Hour)
	histSigFigs = 3
)

// Summary accumulates the statistics of a stream of records in bounded
// memory: the count, the counts per return code, streaming mean and variance
// of the elapsed times (Welford's method), their exact minimum and maximum,
// an HDR histogram for their quantiles, and the first and last query times.
//
// The zero Summary is empty and ready to use. A Summary is not safe for
// concurrent use: give each worker its own and Merge them when reading.
type Summary struct {
	n     int64
	codes map[wire.ReturnCode]int64
	hist  *hdrhistogram.Histogram
	mean  float64 // of elapsed, in nanoseconds
	m2    float64 // sum of squared deviations from mean
	min   time.Duration
	max   time.Duration
	first time.Time
	last  time.Time
}

// CodeCount is the number of records with one return code.
type CodeCount struct {
	// Code is the return code; Code.String() names it.
	Code wire.ReturnCode
	// Count is the number of records with Code.
	Count int64
}

func (s *Summary) init() {
	if s.hist == nil {
		s.hist = hdrhistogram.New(histLowest, histHighest, histSigFigs)
		s.codes = make(map[wire.ReturnCode]int64)
	}
}

// Add accumulates r.
func (s *Summary) Add(r Record) {
	s.init()
	s.n++
	s.codes[r.Code]++
	// Clamped into range, RecordValue cannot fail.
	s.hist.RecordValue(min(max(int64(r.Elapsed), 0), histHighest))
	x := float64(r.Elapsed)
	d := x - s.mean
	s.mean += d / float64(s.n)
	s.m2 += d * (x - s.mean)
	if s.n == 1 {
		s.min, s.max, s.first, s.last = r.Elapsed, r.Elapsed, r.Time, r.Time
		return
	}
	s.min = min(s.min, r.Elapsed)
	s.max = max(s.max, r.Elapsed)
	if r.Time.Before(s.first) {
		s.first = r.Time
	}
	if r.Time.After(s.last) {
		s.last = r.Time
	}
}

// Merge adds every record o accumulated to s, as if each had been added to
// s; o is unchanged (o may be s itself). A nil o adds nothing.
func (s *Summary) Merge(o *Summary) {
	if o == nil || o.n == 0 {
		return
	}
	s.init()
	hist := o.hist
	if o == s {
		hist = o.hist.Clone()
	}
	s.hist.Merge(hist)
	// With o == s each key is visited once and no key is added, so this
	// doubles every count.
	for c, k := range o.codes {
		s.codes[c] += k
	}
	if s.n == 0 {
		s.n, s.mean, s.m2 = o.n, o.mean, o.m2
		s.min, s.max, s.first, s.last = o.min, o.max, o.first, o.last
		return
	}
	// Chan, Golub and LeVeque's pairwise update of the mean and M2.
	na, nb := float64(s.n), float64(o.n)
	n := na + nb
	d := o.mean - s.mean
	s.mean += d * nb / n
	s.m2 += o.m2 + d*d*na*nb/n
	s.n += o.n
	s.min = min(s.min, o.min)
	s.max = max(s.max, o.max)
	if o.first.Before(s.first) {
		s.first = o.first
	}
	if o.last.After(s.last) {
		s.last = o.last
	}
}

// Count returns the number of records.
func (s *Summary) Count() int64 { return s.n }

// Mean returns the mean elapsed time, 0 without records.
func (s *Summary) Mean() time.Duration { return time.Duration(math.Round(s.mean)) }

// Std returns the sample standard deviation of the elapsed times (n-1 in the
// denominator, as pandas' std), or 0 with fewer than two records, where
// pandas gives NaN.
func (s *Summary) Std() time.Duration {
	if s.n < 2 {
		return 0
	}
	return time.Duration(math.Round(s.stdNanos()))
}

func (s *Summary) stdNanos() float64 {
	return math.Sqrt(max(s.m2, 0) / float64(s.n-1))
}

// Min returns the smallest elapsed time, exactly; 0 without records.
func (s *Summary) Min() time.Duration { return s.min }

// Max returns the largest elapsed time, exactly; 0 without records.
func (s *Summary) Max() time.Duration { return s.max }

// First returns the earliest record time; the zero Time without records.
func (s *Summary) First() time.Time { return s.first }

// Last returns the latest record time; the zero Time without records.
func (s *Summary) Last() time.Time { return s.last }

// Quantile returns the q-quantile of the elapsed times, q in [0, 1] (values
// outside are clamped, NaN reads as 0), interpolated linearly between order
// statistics as pandas' quantile and describe do. The order statistics come
// from the histogram, so each is within 0.1% of the exact one, and the
// extremes (q = 0 and q = 1) are exact. It returns 0 without records.
func (s *Summary) Quantile(q float64) time.Duration {
	if s.n == 0 {
		return 0
	}
	if !(q > 0) {
		q = 0
	}
	q = min(q, 1)
	pos := q * float64(s.n-1)
	k := int64(math.Floor(pos))
	frac := pos - float64(k)
	x := s.orderStat(k)
	if frac == 0 {
		return x
	}
	y := s.orderStat(k + 1)
	return x + time.Duration(math.Round(frac*float64(y-x)))
}

// orderStat returns the elapsed time of 0-based rank k in sorted order.
func (s *Summary) orderStat(k int64) time.Duration {
	if k <= 0 {
		return s.min
	}
	if k >= s.n-1 {
		return s.max
	}
	// The histogram's percentile rank is int(p/100*n + 0.5), which is k+1
	// for this p despite rounding.
	v := time.Duration(s.hist.ValueAtPercentile(100 * float64(k+1) / float64(s.n)))
	return min(max(v, s.min), s.max)
}

// SuccessRate returns the fraction of records whose code is Success, 0
// without records.
func (s *Summary) SuccessRate() float64 {
	if s.n == 0 {
		return 0
	}
	return float64(s.codes[successCode]) / float64(s.n)
}

// QPS returns the original's "QPS": 1 / mean elapsed seconds, 0 without
// records. Under concurrency it understates the real rate; see Throughput.
func (s *Summary) QPS() float64 {
	if s.n == 0 {
		return 0
	}
	return 1e9 / s.mean
}

// Throughput returns the completed queries per second of wall time, 0 when
// wall is not positive.
func (s *Summary) Throughput(wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return float64(s.n) / wall.Seconds()
}

// Counts returns the number of records per return code, most frequent first
// (as pandas' value_counts), ties by ascending code.
func (s *Summary) Counts() []CodeCount {
	out := make([]CodeCount, 0, len(s.codes))
	for c, k := range s.codes {
		out = append(out, CodeCount{c, k})
	}
	slices.SortFunc(out, func(a, b CodeCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Code, b.Code)
	})
	return out
}

// successCode is the return code of a successful query.
const successCode = wire.ReturnCode_Success
