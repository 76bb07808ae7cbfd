package minerbench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/minerbench/minerbench/minerbench/analysis"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// The open loop.
//
// A closed loop sends a query only when the previous one of its worker has
// been answered: while a miner stalls, the loop stops asking, so the queries
// a real client would have sent during the stall are never measured and the
// quantiles hide the stall (coordinated omission). An open loop sends query i
// at its intended time t0 + i/Rate whatever happened to the earlier ones,
// each by the next free one of the Conc workers (each with its own
// connection), and measures its latency from that intended time, as wrk2
// does: a query that waited for a free worker carries its wait.
//
// Per query the open loop records:
//   - in the history and the summary behind p50-ns, p90-ns, p99-ns and
//     success-%: time = the corrected latency (from the intended send time
//     to the answer), elapsed = the time from the run's start to the answer;
//   - in a second summary: the uncorrected latency, from the actual send,
//     reported as p99-uncorrected-ns.
//
// late-% and dropped-% are percentages of the scheduled queries: those sent
// late (more than lateAfter after their intended time) and those dropped.
//
// The per-query timeout runs from the intended send time, as a client that
// wanted to send then would start its deadline then; as in the closed loop,
// it is kept on the client's side, not sent to the axon as a gRPC deadline.
// A query still waiting for a free worker when its timeout has passed is
// dropped: it is not sent, it is counted in dropped-%, and it is
// recorded (history and corrected summary) with code Timeout and time = its wait. Dropping keeps
// a miner that cannot take the rate from building an ever longer backlog of
// queries no client would still wait for; the schedule stays the same, so
// the loop catches up with it. Memory stays bounded: the schedule is
// computed, not queued, and the latencies go to HDR histograms.
//
// b.Loop and the schedule: with b.Loop, N is not known in advance (unless
// -benchtime Nx), so the schedule is open-ended. Each b.Loop iteration is
// one query: it sleeps until the query's intended time, then hands it to a
// free worker without waiting for its answer. ns/op is thus about 1/Rate
// while the miner keeps up (the queries still in flight when b.Loop ends
// belong to the timed region too), and b.Loop's own scaling of N to
// -benchtime works on it as on any benchmark. When every worker is busy the
// hand-off blocks; the next queries, already due, then go out at once with
// their intended times unchanged, so the wait is charged to them.

// lateAfter is how much later than its intended time a query may be sent
// before it counts as late.
const lateAfter = time.Millisecond

// openStats are an open loop's figures beside the run's summary.
type openStats struct {
	// uncorrected is the latency from the actual send, of the queries sent:
	// one for the run, fed from the workers' buffers under the run's
	// writeMu, so that its memory does not grow with Conc.
	uncorrected   analysis.Durations
	late, dropped int64
}

// achieved returns the queries sent per second of wall, dropped ones left
// out; 0 for no time.
func (o *openStats) achieved(wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return float64(o.uncorrected.Count()) / wall.Seconds()
}

// openWorker is one worker of an open loop: the closed loop's worker state
// (its query timer and buffered history records) and its own: the
// uncorrected latencies of the queries it sent, buffered as the history's
// records are, and its figures.
type openWorker struct {
	*worker
	sent          []time.Duration
	late, dropped int64
}

// newOpenWorker returns the open loop's worker i.
func (r *queryRun) newOpenWorker(i int) *openWorker {
	return &openWorker{worker: r.newWorker(i), sent: make([]time.Duration, 0, flushEvery)}
}

// recordSent buffers the uncorrected latency of a sent query, adding the
// buffer to the run's figures when it is full.
func (ow *openWorker) recordSent(latency time.Duration) {
	ow.sent = append(ow.sent, latency)
	if len(ow.sent) == cap(ow.sent) {
		ow.flushSent()
	}
}

// flushSent adds the buffered uncorrected latencies to the run's figures.
func (ow *openWorker) flushSent() {
	r := ow.r
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	for _, d := range ow.sent {
		r.open.uncorrected.Add(d)
	}
	ow.sent = ow.sent[:0]
}

// finish writes out the worker's last records and latencies.
func (ow *openWorker) finish() {
	ow.flushSent()
	ow.worker.finish()
}

// openLoop runs the timed queries at load.Rate per second; it leaves the
// open-loop figures in r.open.
func (r *queryRun) openLoop(b *testing.B) {
	ctx, stop := context.WithCancel(r.h.ctx)
	defer stop()
	progress := newProgress(r.m.Name, &r.done)
	defer progress.stop()

	r.open = &openStats{}
	due := make(chan time.Time) // intended send times; unbuffered: a send waits for a free worker
	workers := make([]*openWorker, r.load.Conc)
	var wg sync.WaitGroup
	for i := range workers {
		ow := r.newOpenWorker(i)
		// The worker's queries end with ctx, as the loop's stop ends it.
		ow.timer = newQueryTimer(ctx)
		workers[i] = ow
		wg.Go(func() {
			for intended := range due {
				ow.send(ctx, stop, intended)
			}
			ow.finish()
		})
	}

	interval := float64(time.Second) / r.load.Rate
	var (
		t0    time.Time
		i     int64
		timer *time.Timer
	)
schedule:
	for b.Loop() {
		if i == 0 {
			t0 = time.Now()
		}
		intended := t0.Add(time.Duration(float64(i) * interval))
		i++
		if wait := time.Until(intended); wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-timer.C:
			case <-ctx.Done():
				break schedule
			}
		}
		select {
		case due <- intended:
		case <-ctx.Done():
			break schedule
		}
	}
	if timer != nil {
		timer.Stop()
	}
	// As in the closed loop, the queries still in flight belong to the
	// timed region.
	b.StartTimer()
	close(due)
	wg.Wait()
	b.StopTimer()

	for _, ow := range workers {
		r.open.late += ow.late
		r.open.dropped += ow.dropped
	}
}

// send sends the query intended for intended, or drops it when its timeout
// has already passed, and records it; a query cut by the end of ctx (the
// run's interruption, or stop) is not recorded, as in the closed loop. It
// calls stop once the miner is gone or a history write failed.
func (ow *openWorker) send(ctx context.Context, stop context.CancelFunc, intended time.Time) {
	r := ow.r
	if ctx.Err() != nil {
		return
	}
	deadline := intended.Add(r.h.cfg.Timeout)
	sent := time.Now()
	if !sent.Before(deadline) {
		ow.dropped++
		ow.record(wire.ReturnCode_Timeout, sent.Sub(intended), sent)
		if r.failed.Load() {
			stop()
		}
		return
	}
	if sent.Sub(intended) > lateAfter {
		ow.late++
	}
	// The worker's queryTimer, as in the closed loop, but armed for what is
	// left of the timeout from the intended send time.
	code, elapsed := r.query(ow.client, ow.timer, r.inputs[ow.next%len(r.inputs)], time.Until(deadline))
	if ctx.Err() != nil {
		return // cut by the interrupt: no answer of the miner's to record
	}
	end := time.Now()
	ow.next++
	ow.recordSent(elapsed)
	ow.record(code, end.Sub(intended), end)
	if r.failed.Load() || code == wire.ReturnCode_Unavailable && r.m.endIfDying() {
		stop()
	}
}

// reportOpenLoop reports the open loop's figures beside report's: queries/s
// becomes the achieved rate (queries sent per wall second of the run,
// dropped ones left out), plus p99-uncorrected-ns, and late-% and dropped-%,
// percentages of the scheduled queries, so that runs of different lengths
// compare.
func (r *queryRun) reportOpenLoop(b *testing.B, wall time.Duration) {
	o := r.open
	if o == nil || wall <= 0 {
		return
	}
	b.ReportMetric(o.achieved(wall), "queries/s")
	if o.uncorrected.Count() > 0 {
		b.ReportMetric(float64(o.uncorrected.Quantile(0.99)), "p99-uncorrected-ns")
	}
	if scheduled := o.uncorrected.Count() + o.dropped; scheduled > 0 {
		b.ReportMetric(100*float64(o.late)/float64(scheduled), "late-%")
		b.ReportMetric(100*float64(o.dropped)/float64(scheduled), "dropped-%")
	}
}

// printOpenLoop writes the open loop's figures for the analysis: the
// offered and achieved rates, the late and dropped queries, and the
// uncorrected latencies.
func (r *queryRun) printOpenLoop(w io.Writer, wall time.Duration) {
	o := r.open
	fmt.Fprintf(w, "Open loop at %v queries/s offered: %.3f queries/s sent; %d sent more than %v late, %d dropped (timeout %v passed before a worker was free)\n",
		r.load.Rate, o.achieved(wall), o.late, lateAfter, o.dropped, r.h.cfg.Timeout)
	fmt.Fprintf(w, "Latency from the actual send (uncorrected): p50 %v, p90 %v, p99 %v, max %v; time below is from the intended send time\n",
		o.uncorrected.Quantile(0.50), o.uncorrected.Quantile(0.90), o.uncorrected.Quantile(0.99), o.uncorrected.Max())
}
