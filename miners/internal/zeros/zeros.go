// Package zeros answers forward queries with zeros of the asked shape, for
// the miners that measure or test the harness rather than compute.
package zeros

import (
	"sync/atomic"

	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// Answerer hands out views of one shared zero buffer, grown to the largest
// answer asked for and never written, so answering allocates nothing but
// the shape. Its zero value is ready; it is safe for concurrent use.
type Answerer struct{ buf atomic.Pointer[[]float32] }

// Answer returns zeros of shape [batch, seq, wire.NetworkDim] for the
// [batch, seq] inputs in.
func (z *Answerer) Answer(in tensor.Tensor) tensor.Tensor {
	batch, seq := in.Shape[0], in.Shape[1]
	n := int(batch * seq * wire.NetworkDim)
	p := z.buf.Load()
	if p == nil || len(*p) < n {
		b := make([]float32, n)
		z.buf.Store(&b)
		p = &b
	}
	return tensor.FromFloat32([]int64{batch, seq, wire.NetworkDim}, (*p)[:n])
}
