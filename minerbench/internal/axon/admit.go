package axon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// run runs the ForwardFunc on inputs inline, on the goroutine serving the
// call, once the call is within its peer's MaxCallsPerPeer and admit has
// given it one of the Workers slots of the semaphore a.slots and n bytes of
// the answer budget, and returns its output with the answer holding those
// bytes, or the code that answers the call.
// The forward timeout, counted from run's start, bounds both the wait for
// admission and the handler: the handler's context ends when it passes, and
// a result that comes after that is dropped.
//
// Lateness is decided by the deadline itself, not by the context's end
// alone: the context ends only once its timer's callback has run, which on
// a busy machine can come after the handler has returned.
func (a *Axon) run(ctx context.Context, inputs tensor.Tensor, n int64) (*answer, tensor.Tensor, wire.ReturnCode, string) {
	select {
	case <-a.quit:
		return nil, tensor.Tensor{}, wire.ReturnCode_NotServingNucleus, "axon is stopping"
	default:
	}
	conn := connOf(ctx)
	peer := conn.peer()
	if !a.calls.TryAcquire(peer, 1) {
		return nil, tensor.Tensor{}, wire.ReturnCode_NucleusFull, a.callsFull(peer)
	}
	defer a.calls.Release(peer, 1)
	deadline := time.Now().Add(a.cfg.ForwardTimeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if code, msg := a.admit(ctx, deadline, peer, n); code != wire.ReturnCode_Success {
		return nil, tensor.Tensor{}, code, msg
	}
	ans := a.newAnswer(conn, n)
	if ans == nil {
		<-a.slots
		return nil, tensor.Tensor{}, wire.ReturnCode_Timeout, "call ended before the forward handler answered"
	}
	out, err := a.call(ctx, inputs)
	<-a.slots
	if late(ctx, deadline) {
		ans.release()
		code, msg := a.ended(deadline)
		return nil, tensor.Tensor{}, code, msg
	}
	if err != nil {
		ans.release()
		code, msg := failure(err)
		return nil, tensor.Tensor{}, code, msg
	}
	return ans, out, wire.ReturnCode_Success, ""
}

// admit takes n bytes of the answer budget for peer and a slot for a call,
// waiting while either is short if fewer than QueueSize calls already wait,
// until the deadline. It answers Success once the call holds both, which
// the caller then gives back; otherwise it holds neither. A waiting call
// takes its bytes as soon as they fit in the budget and in its peer's
// share, whatever larger answers wait before it; a freed slot goes to the
// longest waiting sender on a.slots.
func (a *Axon) admit(ctx context.Context, deadline time.Time, peer string, n int64) (wire.ReturnCode, string) {
	if a.budget.TryAcquire(peer, n) {
		select {
		case a.slots <- struct{}{}:
			return wire.ReturnCode_Success, ""
		default:
			a.budget.Release(peer, n)
		}
	}
	for {
		w := a.waiting.Load()
		if w >= int32(a.cfg.QueueSize) {
			return wire.ReturnCode_NucleusFull, fmt.Sprintf("work queue full (%d waiting)", a.cfg.QueueSize)
		}
		if a.waiting.CompareAndSwap(w, w+1) {
			break
		}
	}
	defer a.waiting.Add(-1)
	if err := a.budget.Acquire(ctx, peer, n); err != nil {
		return a.ended(deadline)
	}
	select {
	case a.slots <- struct{}{}:
		if late(ctx, deadline) {
			<-a.slots
			a.budget.Release(peer, n)
			return a.ended(deadline)
		}
		return wire.ReturnCode_Success, ""
	case <-ctx.Done():
		a.budget.Release(peer, n)
		return a.ended(deadline)
	}
}

// callsFull is the message of a call peer may not have admitted: the
// queue is full, or peer holds its share of the calls beside other peers.
func (a *Axon) callsFull(peer string) string {
	if a.calls.Used() >= int64(a.cfg.Workers+a.cfg.QueueSize) {
		return fmt.Sprintf("work queue full (%d waiting)", a.cfg.QueueSize)
	}
	return fmt.Sprintf("%d calls of %s admitted, its share beside other callers (MaxCallsPerPeer)", a.calls.Held(peer), peer)
}

// late reports whether a call of ctx with the given deadline is past it or
// its caller gone.
func late(ctx context.Context, deadline time.Time) bool {
	return ctx.Err() != nil || !time.Now().Before(deadline)
}

// ended is the code and message that answer a call whose deadline passed,
// or whose caller went away, before its handler answered: Timeout, as
// Bittensor's axon answered.
func (a *Axon) ended(deadline time.Time) (wire.ReturnCode, string) {
	if !time.Now().Before(deadline) {
		return wire.ReturnCode_Timeout, fmt.Sprintf("no answer within the forward timeout of %v", a.cfg.ForwardTimeout)
	}
	return wire.ReturnCode_Timeout, "call ended before the forward handler answered"
}

// failure is the return code and message that answer a handler's error: a
// *CodeError's own, unless its code is Success, else UnknownException.
func failure(err error) (wire.ReturnCode, string) {
	if ce, ok := errors.AsType[*CodeError](err); ok && ce.Code != wire.ReturnCode_Success {
		return ce.Code, ce.Message
	}
	return wire.ReturnCode_UnknownException, "forward handler: " + err.Error()
}

// call runs the ForwardFunc, turning a panic into an error.
func (a *Axon) call(ctx context.Context, inputs tensor.Tensor) (out tensor.Tensor, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = tensor.Tensor{}, fmt.Errorf("panic: %v", p)
		}
	}()
	return a.forward(ctx, inputs)
}
