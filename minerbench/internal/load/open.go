package load

import (
	"context"
	"sync"
	"time"
)

// The open loop.
//
// A closed loop sends a query only when the previous one of its worker has
// been answered: while a server stalls, the loop stops asking, so the
// queries a real client would have sent during the stall are never measured
// and the quantiles hide the stall (coordinated omission). An open loop
// sends query i at its intended time t0 + i/Rate whatever happened to the
// earlier ones, each by the next free worker (each with its own client),
// and measures its latency from that intended time, as wrk2 does: a query
// that waited for a free worker carries its wait.
//
// Per query the open loop records Time = the corrected latency (from the
// intended send time to the answer) and Elapsed = the time from the run's
// start to the answer; Stats.Open keeps the uncorrected latency, from the
// actual send, of each query sent, and counts the late queries (sent more
// than LateAfter after their intended time) and the dropped ones.
//
// The per-query timeout runs from the intended send time, as a client that
// wanted to send then would start its deadline then. A query still waiting
// for a free worker when its timeout has passed is dropped: it is not sent,
// and it is recorded with the Client's TimeoutCode and Time = its wait.
// Dropping keeps a server that cannot take the rate from building an ever
// longer backlog of queries no client would still wait for; the schedule
// stays the same, so the loop catches up with it. Memory stays bounded: the
// schedule is computed, not queued.
//
// The schedule is open-ended: each query src hands out is sent at its
// intended time, handed to a free worker without waiting for its answer.
// When every worker is busy the hand-off blocks; the next queries, already
// due, then go out at once with their intended times unchanged, so the wait
// is charged to them.

// openLoop runs the open loop at cfg.Rate queries per second.
func (s *sender) openLoop(parent context.Context) {
	ctx, stop := context.WithCancel(parent)
	defer stop()
	due := make(chan time.Time) // intended send times; unbuffered: a send waits for a free worker
	var wg sync.WaitGroup
	for _, wk := range s.workers {
		// The worker's queries end with ctx, as the loop's stop ends it.
		wk.timer = newQueryTimer(ctx)
		wg.Go(func() {
			for intended := range due {
				wk.send(ctx, stop, intended)
			}
		})
	}
	s.schedule(ctx, due)
	close(due)
	wg.Wait()
	for _, wk := range s.workers {
		s.stats.Open.Late += wk.late
		s.stats.Open.Dropped += wk.dropped
	}
}

// schedule hands each query src hands out to due at its intended time,
// until src says stop or ctx ends.
func (s *sender) schedule(ctx context.Context, due chan<- time.Time) {
	interval := float64(time.Second) / s.cfg.Rate
	var (
		t0    time.Time
		i     int64
		timer *time.Timer
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for ctx.Err() == nil && s.src.Next() {
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
				return
			}
		}
		select {
		case due <- intended:
		case <-ctx.Done():
			return
		}
	}
}

// send sends the query intended for intended, or drops it when its timeout
// has already passed, and records it; a query cut by the end of ctx (the
// run's interruption, or stop) is not recorded, as in the closed loop. It
// calls stop once the server is gone or a write failed.
func (wk *worker) send(ctx context.Context, stop context.CancelFunc, intended time.Time) {
	s := wk.s
	if ctx.Err() != nil {
		return
	}
	deadline := intended.Add(s.cfg.Timeout)
	sent := time.Now()
	if !sent.Before(deadline) {
		wk.dropped++
		wait := sent.Sub(intended)
		wk.record(Record{Outcome: Outcome{Code: wk.client.TimeoutCode(), Latency: wait}, Time: wait,
			Elapsed: sent.Sub(s.cfg.Start), Dropped: true})
		if s.failed.Load() {
			stop()
		}
		return
	}
	if sent.Sub(intended) > LateAfter {
		wk.late++
	}
	// Armed for what is left of the timeout from the intended send time.
	o := wk.timer.query(wk.client, wk.seq, time.Until(deadline))
	if ctx.Err() != nil {
		return // cut by the interrupt: no answer of the server's to record
	}
	end := time.Now()
	wk.seq++
	wk.record(Record{Outcome: o, Time: end.Sub(intended), Elapsed: end.Sub(s.cfg.Start)})
	if s.failed.Load() || s.src.Gone(o) {
		stop()
	}
}
