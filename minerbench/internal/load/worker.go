package load

import (
	"context"
	"sync"
	"time"
)

// queryTimer bounds one goroutine's queries by their timeout.
//
// It does not allocate per query. One cancellable context serves query
// after query. One timer, armed for each query, cancels it with cause
// context.DeadlineExceeded, which a Client reports as its timeout. Only a
// query the timer cut costs a new context and timer. The deadline stays on
// the client's side. The server learns of a cut query by its cancellation.
type queryTimer struct {
	parent context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
}

func newQueryTimer(parent context.Context) *queryTimer {
	qt := &queryTimer{parent: parent}
	qt.renew()
	return qt
}

// renew replaces the context. start makes the timer that cancels it.
func (qt *queryTimer) renew() {
	qt.ctx, qt.cancel = context.WithCancelCause(qt.parent)
	qt.timer = nil
}

// start arms the timer and returns the context of the next query.
func (qt *queryTimer) start(timeout time.Duration) context.Context {
	if qt.timer == nil {
		cancel := qt.cancel
		qt.timer = time.AfterFunc(timeout, func() { cancel(context.DeadlineExceeded) })
	} else {
		qt.timer.Reset(timeout)
	}
	return qt.ctx
}

// stop disarms the timer once the query has ended.
// If the timer had fired, the spent context is replaced.
func (qt *queryTimer) stop() {
	if !qt.timer.Stop() {
		qt.cancel(context.DeadlineExceeded)
		qt.renew()
	}
}

// release frees the context of an idle timer.
func (qt *queryTimer) release() {
	qt.cancel(context.Canceled)
}

// query sends query seq through client, bounded by timeout.
func (qt *queryTimer) query(client Client, seq int, timeout time.Duration) Outcome {
	ctx := qt.start(timeout)
	o := client.Query(ctx, seq)
	qt.stop()
	return o
}

// worker is the state of one querying goroutine.
//
// It holds the client, the query timer and the buffered records. So the
// hot path allocates nothing. It takes only the worker's own lock, which
// only the flush of a stale buffer shares.
type worker struct {
	s      *sender
	client Client
	timer  *queryTimer // made by the loop that runs the worker
	delay  *time.Timer // of the pause after each query, made by the first
	seq    int         // of the next query

	mu  sync.Mutex // guards buf, shared with the flusher
	buf []Record

	late, dropped int64 // of the open loop
}

// record buffers rec.
// The buffer goes to the Sink when it is full or FlushInterval old.
func (wk *worker) record(rec Record) {
	wk.mu.Lock()
	wk.buf = append(wk.buf, rec)
	if len(wk.buf) == cap(wk.buf) || rec.Elapsed-wk.buf[0].Elapsed >= wk.s.cfg.FlushInterval {
		wk.flush()
	}
	wk.mu.Unlock()
	if p := wk.s.cfg.Progress; p != nil {
		p.Add(1)
	}
}

// flush hands the buffered records to the Sink in one call.
//
// Written records are counted in the Stats. The first failed write stops
// Send. The caller holds wk.mu.
func (wk *worker) flush() {
	s := wk.s
	s.mu.Lock()
	if s.err == nil && len(wk.buf) > 0 {
		if err := s.sink.Write(wk.buf); err != nil {
			s.err = err
			s.failed.Store(true)
		} else {
			s.stats.add(wk.buf)
		}
	}
	s.mu.Unlock()
	wk.buf = wk.buf[:0]
}

// flushStale flushes the buffer when its oldest record is at least age old at
// elapsed.
func (wk *worker) flushStale(elapsed, age time.Duration) {
	wk.mu.Lock()
	if len(wk.buf) > 0 && elapsed-wk.buf[0].Elapsed >= age {
		wk.flush()
	}
	wk.mu.Unlock()
}

// finish writes out the worker's last records and frees its timers.
func (wk *worker) finish() {
	wk.mu.Lock()
	wk.flush()
	wk.mu.Unlock()
	if wk.timer != nil {
		wk.timer.release()
	}
	if wk.delay != nil {
		wk.delay.Stop()
	}
}

// startFlusher starts flushing stale buffers and returns its stop.
//
// Every half FlushInterval, it flushes the buffers whose oldest record is
// that old. A worker flushes its own buffer only after a query. One that
// is blocked in a long query would hold its records until the query ends.
// The flusher bounds their wait to about one FlushInterval, at one timer
// per Send, not per query.
func (s *sender) startFlusher() (stop func()) {
	period := s.cfg.FlushInterval / 2
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				elapsed := now.Sub(s.cfg.Start)
				for _, wk := range s.workers {
					wk.flushStale(elapsed, period)
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}
