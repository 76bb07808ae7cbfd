package load

import (
	"context"
	"sync"
	"time"
)

// closedLoop runs the closed loop: each worker sends a query, waits for its
// answer, pauses cfg.Delay, and asks src, under a lock, for the next, so
// that a worker finishing a query goes on at once, without waking another
// goroutine.
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
		// Once the run is interrupted, the server is gone or a write
		// failed, the worker stops; next tells the others.
		wg.Go(func() {
			for next() && wk.step(ctx) {
			}
		})
	}
	wg.Wait()
}

// step sends one query, which next has just handed out, and records it; it
// reports false once ctx has ended, the server is gone or a write failed.
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

// pause waits d, the delay after a query; it reports false if ctx ended
// during it.
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
