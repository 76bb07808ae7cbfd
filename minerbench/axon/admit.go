package axon

import (
	"context"
	"errors"
	"fmt"

	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// run runs the ForwardFunc on inputs inline, on the goroutine serving the
// call, once admit has given the call one of the Workers slots of the
// semaphore a.slots, and returns its output or the code that answers it. The
// forward timeout, counted from run's start, bounds both the wait for a slot
// and the handler: the handler's context ends when it passes, and a result
// that comes after that is dropped.
func (a *Axon) run(ctx context.Context, inputs tensor.Tensor) (tensor.Tensor, wire.ReturnCode, string) {
	select {
	case <-a.quit:
		return tensor.Tensor{}, wire.ReturnCode_NotServingNucleus, "axon is stopping"
	default:
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ForwardTimeout)
	defer cancel()
	if code, msg := a.admit(ctx); code != wire.ReturnCode_Success {
		return tensor.Tensor{}, code, msg
	}
	out, err := a.call(ctx, inputs)
	<-a.slots
	if ctx.Err() != nil {
		code, msg := a.ended(ctx)
		return tensor.Tensor{}, code, msg
	}
	if err != nil {
		code, msg := failure(err)
		return tensor.Tensor{}, code, msg
	}
	return out, wire.ReturnCode_Success, ""
}

// admit takes a slot for a call, waiting while all Workers slots are taken
// if fewer than QueueSize calls already wait, until ctx ends. It answers
// Success once the call holds a slot, which the caller then gives back.
// Waiting calls take slots in the order they began to wait: a freed slot
// goes to the longest waiting sender on a.slots.
func (a *Axon) admit(ctx context.Context) (wire.ReturnCode, string) {
	select {
	case a.slots <- struct{}{}:
		return wire.ReturnCode_Success, ""
	default:
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
	select {
	case a.slots <- struct{}{}:
		return wire.ReturnCode_Success, ""
	case <-ctx.Done():
		return a.ended(ctx)
	}
}

// ended is the code and message that answer a call whose context ended
// before its handler answered: Timeout, as Bittensor's axon answered.
func (a *Axon) ended(ctx context.Context) (wire.ReturnCode, string) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
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
