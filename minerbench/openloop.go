package minerbench

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/load"
)

// Package load runs an open loop (Load.Rate), and its documentation
// describes the schedule. This file reports the open loop's own figures.
// In the history, and in p50-ns, p90-ns, p99-ns and success-%, latency is
// the corrected one, from each query's intended send time.
// p99-uncorrected-ns is measured from the actual send.
//
// With b.Loop, N is not known in advance unless -benchtime is Nx, so the
// schedule is open-ended. Each b.Loop iteration is one query. The loop
// sleeps until the query's intended time, then hands it to a free worker
// without waiting for its answer. So ns/op is about 1/Rate while the miner
// keeps up, and b.Loop scales N to -benchtime as for any benchmark. The
// queries still in flight when b.Loop ends belong to the timed region.

// reportOpenLoopMetrics reports the open loop's own metrics.
//
// queries/s becomes the achieved rate: queries sent per wall second,
// dropped ones left out. p99-uncorrected-ns, late-% and dropped-% are
// added. The last two are percentages of the scheduled queries, so that
// runs of different lengths compare.
func reportOpenLoopMetrics(b *testing.B, o *load.OpenStats, wall time.Duration) {
	if wall <= 0 {
		return
	}
	b.ReportMetric(o.Achieved(wall), "queries/s")
	if o.Uncorrected.Count() > 0 {
		b.ReportMetric(float64(o.Uncorrected.Quantile(0.99)), "p99-uncorrected-ns")
	}
	if scheduled := o.Uncorrected.Count() + o.Dropped; scheduled > 0 {
		b.ReportMetric(100*float64(o.Late)/float64(scheduled), "late-%")
		b.ReportMetric(100*float64(o.Dropped)/float64(scheduled), "dropped-%")
	}
}

// printOpenLoop writes the open loop's figures for the analysis.
// They are the offered and achieved rates, the late and dropped queries,
// and the uncorrected latencies.
func (r *benchResult) printOpenLoop(w io.Writer, wall time.Duration) {
	o := r.stats.Open
	fmt.Fprintf(w, "Open loop at %v queries/s offered: %.3f queries/s sent; %d sent more than %v late, %d dropped (timeout %v passed before a worker was free)\n",
		r.load.Rate, o.Achieved(wall), o.Late, load.LateAfter, o.Dropped, r.timeout)
	fmt.Fprintf(w, "Latency from the actual send (uncorrected): p50 %v, p90 %v, p99 %v, max %v; time below is from the intended send time\n",
		o.Uncorrected.Quantile(0.50), o.Uncorrected.Quantile(0.90), o.Uncorrected.Quantile(0.99), o.Uncorrected.Max())
}
