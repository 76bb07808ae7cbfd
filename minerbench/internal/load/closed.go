package load

import (
	"context"
	"sync"
	"time"
)

// closedLoop runs the closed loop until src says stop.
//
// Each worker sends a query, waits for its answer and pauses cfg.Delay.
// Then it asks src for the next query, under a lock. So a worker that
// finishes a query goes on at once, without waking another goroutine.
func (s *sender) closedLoop(ctx context.Context) {
	var (
		mu   sync.Mutex
		done bool
	)
	next := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return false
		}
		if ctx.Err() != nil || s.failed.Load() || !s.src.Next() {
			done = true
			return false
		}
		return true
	}
	var wg sync.WaitGroup
	for _, wk := range s.workers {
		wk.timer = newQueryTimer(ctx)
		// A worker stops when Send is interrupted, the server is gone or
		// a write failed. next then tells the others.
		wg.Go(func() {
			for next() && wk.step(ctx) {
			}
		})
	}
	wg.Wait()
}

// step sends and records the query next has just handed out.
// It reports false once ctx has ended, the server is gone or a write failed.
func (wk *worker) step(ctx context.Context) bool {
	s := wk.s
	o := wk.timer.query(wk.client, wk.seq, s.cfg.Timeout)
	if ctx.Err() != nil {
		return false // cut by the interrupt: no answer of the server's to record
	}
	wk.seq++
	wk.record(Record{Outcome: o, Time: o.Latency, Elapsed: time.Since(s.cfg.Start)})
	if s.failed.Load() || s.src.Gone(o) {
		return false
	}
	if s.cfg.Delay > 0 {
		return wk.pause(ctx, s.cfg.Delay)
	}
	return true
}

// pause waits d, the delay after a query.
// It reports false if ctx ended meanwhile.
func (wk *worker) pause(ctx context.Context, d time.Duration) bool {
	if wk.delay == nil {
		wk.delay = time.NewTimer(d)
	} else {
		wk.delay.Reset(d)
	}
	select {
	case <-wk.delay.C:
		return true
	case <-ctx.Done():
		wk.delay.Stop()
		return false
	}
}
