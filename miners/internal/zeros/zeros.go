// Package zeros answers forward queries with zeros of the asked shape, for
// the miners that measure or test the harness rather than compute.
package zeros

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/minerbench/minerbench/minerbench/miner"
)

// Bounds of what an Answerer keeps.
const (
	// keepFloats is the size of the largest buffer an Answerer keeps while
	// unused: 4 MiB of float32, answers of up to 1,024 tokens.
	keepFloats = 1 << 20
	// defaultRelease is how long an Answerer keeps a larger buffer after
	// its last answer: long enough to serve a benchmark of large answers
	// from one buffer.
	defaultRelease = 5 * time.Second
)

// Answerer hands out views of one shared zero buffer, grown to the largest
// answer asked for and never written, so answering allocates nothing but
// the shape. A buffer larger than 4 MiB is released once no answer has
// been taken from it for 5 s, so one large query does not leave the miner
// holding its answer's size for life. Its zero value is ready; it is safe
// for concurrent use.
type Answerer struct {
	releaseAfter time.Duration // zero means defaultRelease

	buf  atomic.Pointer[[]float32]
	last atomic.Int64 // time of the last answer from a large buffer, in Unix nanoseconds

	mu    sync.Mutex
	timer *time.Timer // releases a large buffer; nil when none is armed
}

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
	if len(*p) > keepFloats {
		z.last.Store(time.Now().UnixNano())
		z.armRelease()
	}
	return miner.FromFloat32([]int64{batch, seq, miner.NetworkDim}, (*p)[:n])
}

// armRelease arms the timer that releases a large buffer, unless armed.
func (z *Answerer) armRelease() {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.timer == nil {
		z.timer = time.AfterFunc(z.release(), z.releaseIdle)
	}
}

// release returns how long a large buffer is kept after its last answer.
func (z *Answerer) release() time.Duration {
	if z.releaseAfter > 0 {
		return z.releaseAfter
	}
	return defaultRelease
}

// releaseIdle drops the buffer if it is large and unused for release(), or
// waits until it may be. Answers handed out keep their view of it.
func (z *Answerer) releaseIdle() {
	z.mu.Lock()
	defer z.mu.Unlock()
	if idle := time.Since(time.Unix(0, z.last.Load())); idle < z.release() {
		z.timer.Reset(z.release() - idle)
		return
	}
	z.timer = nil
	if p := z.buf.Load(); p != nil && len(*p) > keepFloats {
		z.buf.CompareAndSwap(p, nil)
	}
}
