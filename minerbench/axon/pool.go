package axon

import (
	"context"
	"errors"
	"fmt"

	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// job is one forward call waiting for, or running on, a worker. Jobs are
// reused: a job goes back to the axon's free jobs once its caller has its
// result, and is dropped when the caller left first (its worker may still
// answer it).
type job struct {
	ctx    context.Context
	inputs tensor.Tensor
	done   chan result // buffered: a worker never blocks on a caller that left
	shape  [5]int64    // room to decode the inputs' shape, of any served rank
}

// newJob takes a free job or makes one.
func (a *Axon) newJob() *job {
	if j, ok := a.freeJobs.Get().(*job); ok {
		return j
	}
	return &job{done: make(chan result, 1)}
}

// freeJob gives back a job that no worker holds.
func (a *Axon) freeJob(j *job) {
	j.ctx, j.inputs = nil, tensor.Tensor{}
	a.freeJobs.Put(j)
}

type result struct {
	out tensor.Tensor
	err error
}

// run queues the forward call j, its inputs set, without blocking and waits
// for its result or the forward timeout. run owns j from then on.
func (a *Axon) run(ctx context.Context, j *job) (tensor.Tensor, wire.ReturnCode, string) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ForwardTimeout)
	defer cancel()
	j.ctx = ctx
	select {
	case <-a.quit:
		a.freeJob(j)
		return tensor.Tensor{}, wire.ReturnCode_NotServingNucleus, "axon is stopping"
	default:
	}
	select {
	case a.jobs <- j:
	default:
		a.freeJob(j)
		return tensor.Tensor{}, wire.ReturnCode_NucleusFull, fmt.Sprintf("work queue full (%d waiting)", cap(a.jobs))
	}
	select {
	case r := <-j.done:
		a.freeJob(j)
		if r.err != nil {
			code, msg := failure(r.err)
			return tensor.Tensor{}, code, msg
		}
		return r.out, wire.ReturnCode_Success, ""
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return tensor.Tensor{}, wire.ReturnCode_Timeout, fmt.Sprintf("no answer within the forward timeout of %v", a.cfg.ForwardTimeout)
		}
		return tensor.Tensor{}, wire.ReturnCode_Timeout, "call ended before the forward handler answered"
	}
}

// failure is the return code and message that answer a handler's error: a
// *CodeError's own, unless its code is Success, else UnknownException.
func failure(err error) (wire.ReturnCode, string) {
	if ce, ok := errors.AsType[*CodeError](err); ok && ce.Code != wire.ReturnCode_Success {
		return ce.Code, ce.Message
	}
	return wire.ReturnCode_UnknownException, "forward handler: " + err.Error()
}

// work runs queued jobs until the axon stops.
func (a *Axon) work() {
	defer a.workers.Done()
	for {
		select {
		case <-a.quit:
			return
		case j := <-a.jobs:
			if err := j.ctx.Err(); err != nil {
				j.done <- result{err: err}
				continue
			}
			j.done <- a.call(j)
		}
	}
}

// call runs the ForwardFunc, turning a panic into an error.
func (a *Axon) call(j *job) (r result) {
	defer func() {
		if p := recover(); p != nil {
			r = result{err: fmt.Errorf("panic: %v", p)}
		}
	}()
	out, err := a.forward(j.ctx, j.inputs)
	return result{out: out, err: err}
}
