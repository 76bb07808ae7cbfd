// Command noop is the floor the harness is measured against: a miner that
// answers zeros of the right shape as fast as it can.
package main

import (
	"context"
	"sync/atomic"

	"github.com/minerbench/minerbench/minerbench/axon"
	"github.com/minerbench/minerbench/minerbench/plugin"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wire"
)

func main() { plugin.Serve(noop{}) }

// noop answers every query with zeros.
type noop struct{}

func (noop) Name() string              { return "noop" }
func (noop) Defaults() plugin.Settings { return plugin.Settings{} }

func (noop) New(plugin.Settings) (axon.ForwardFunc, error) {
	var z zeros
	return z.forward, nil
}

// zeros hands out views of one shared, never-written zero buffer, grown to
// the largest answer asked for, so answering allocates nothing.
type zeros struct{ buf atomic.Pointer[[]float32] }

func (z *zeros) forward(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) {
	batch, seq := in.Shape[0], in.Shape[1]
	n := int(batch * seq * wire.NetworkDim)
	p := z.buf.Load()
	if p == nil || len(*p) < n {
		b := make([]float32, n)
		z.buf.Store(&b)
		p = &b
	}
	return tensor.FromFloat32([]int64{batch, seq, wire.NetworkDim}, (*p)[:n]), nil
}
