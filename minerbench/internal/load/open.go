package load

import (
	"context"
	"sync"
	"time"
)

// The open loop sends queries on a schedule, whatever the server does.
//
// A closed loop sends a query only once its worker's last one is answered.
// While a server stalls, the loop stops asking. The queries a real client
// would have sent meanwhile are never measured, and the quantiles hide the
// stall. This is coordinated omission. An open loop sends query i at its
// intended time, t0 + i/Rate, whatever happened to the earlier ones. The
// next free worker sends it, each worker with its own client. As in wrk2,
// latency runs from the intended time, so a query that waited for a worker
// carries its wait.
//
// Each record's Time is this corrected latency, to the answer. Its Elapsed
// runs from Config.Start to the answer. Stats.Open keeps the uncorrected
// latency of each sent query, from the actual send. It also counts the
// late queries, sent more than LateAfter after their intended time, and
// the dropped ones.
//
// The timeout, too, runs from the intended send time, as a client's
// deadline would. A query still waiting for a worker when its timeout has
// passed is dropped. It is recorded unsent, with the Client's TimeoutCode
// and its wait as Time. Without drops, a server that cannot take the rate
// would build an ever longer backlog of queries no client still waits for.
// The schedule stays the same, so the loop catches up with it. Memory stays
// bounded, because the schedule is computed, not queued.
//
// The schedule is open-ended. Each query src hands out goes to a free
// worker at its intended time, without waiting for its answer. When every
// worker is busy, the hand-off blocks. The queries due meanwhile then go
// out at once, with their intended times unchanged, so the wait is charged
// to them.

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

// schedule sends each query's intended time on due, at that time.
// It returns when src says stop or ctx ends.
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

// send sends and records the query due at intended.
//
// It drops the query when its timeout has already passed. A query cut by
// the end of ctx, an interruption or stop, is not recorded, as in the
// closed loop. send calls stop once the server is gone or a write failed.
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
