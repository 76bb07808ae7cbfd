// Package zeros answers forward queries with zeros of the asked shape, for
// the miners that measure or test the harness rather than compute.
package zeros

import (
	"sync/atomic"

	"github.com/minerbench/minerbench/minerbench/miner"
)

// Answerer hands out views of one shared zero buffer, grown to the largest
// answer asked for and never written, so answering allocates nothing but
// the shape. Its zero value is ready; it is safe for concurrent use.
type Answerer struct{ buf atomic.Pointer[[]float32] }

// Answer returns zeros of shape [batch, seq, miner.NetworkDim] for the
// [batch, seq] inputs in.
func (z *Answerer) Answer(in miner.Tensor) miner.Tensor {
	batch, seq := in.Shape[0], in.Shape[1]
	n := int(batch * seq * miner.NetworkDim)
	p := z.buf.Load()
	if p == nil || len(*p) < n {
		b := make([]float32, n)
		z.buf.Store(&b)
		p = &b
	}
	return miner.FromFloat32([]int64{batch, seq, miner.NetworkDim}, (*p)[:n])
}
