package axon

import (
	"sync"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// answer is a call's part of Config.MaxAnswerBytes, taken from its peer's
// share when the call is admitted and released exactly once: when gRPC has
// written the answer (its buffer comes back), when the call ends without
// one, or when its connection closes. An answer not written within
// WriteTimeout of its handing to gRPC closes its connection.
type answer struct {
	a    *Axon
	n    int64       // bytes taken from the budget
	peer string      // whose share of the budget they are
	conn *servedConn // nil for a call that did not come through Serve
	buf  *[]byte     // the encoded tensor, set by hand

	// The answer itself, which Forward fills in; a new one per call, so that
	// whoever gRPC hands it to reads it intact.
	resp    wire.TensorMessage
	tensor  wire.Tensor
	tensors [1]*wire.Tensor

	mu       sync.Mutex
	handed   bool // registered for the codec
	released bool
	watchdog *time.Timer
}

// newAnswer records an admitted call's n bytes as in flight on its
// connection conn (nil for a call that did not come through Serve); it
// returns nil, having released them, when that connection is closed
// already.
func (a *Axon) newAnswer(conn *servedConn, n int64) *answer {
	ans := &answer{a: a, n: n, peer: conn.peer(), conn: conn}
	if ans.conn != nil && !ans.conn.hold(ans) {
		ans.conn = nil
		ans.release()
		return nil
	}
	return ans
}

// hand registers the answer, whose tensor's buffer is buf, for the codec,
// and starts the WriteTimeout watchdog; an answer released already (its
// connection closed) is left to the proto codec.
func (ans *answer) hand(buf *[]byte) {
	ans.mu.Lock()
	defer ans.mu.Unlock()
	if ans.released {
		return
	}
	ans.buf, ans.handed = buf, true
	ans.a.answers.Store(&ans.resp, ans)
	ans.watchdog = time.AfterFunc(ans.a.cfg.WriteTimeout, ans.expire)
}

// expire runs when the answer was not written within WriteTimeout: it
// closes the answer's connection, which gRPC was holding it for, or
// releases an answer that no connection carries.
func (ans *answer) expire() {
	if ans.conn != nil {
		ans.conn.Close()
	}
	ans.release()
}

// release gives the answer's bytes back to the budget, once.
func (ans *answer) release() {
	ans.mu.Lock()
	if ans.released {
		ans.mu.Unlock()
		return
	}
	ans.released = true
	if ans.watchdog != nil {
		ans.watchdog.Stop()
	}
	handed := ans.handed
	ans.mu.Unlock()
	if handed {
		ans.a.answers.Delete(&ans.resp)
	}
	if ans.conn != nil {
		ans.conn.forget(ans)
	}
	ans.a.budget.Release(ans.peer, ans.n)
}

// Get implements mem.BufferPool for the codec; gRPC does not call it.
func (ans *answer) Get(n int) *[]byte { return ans.a.buffers.Get(n) }

// Put implements mem.BufferPool: gRPC has written the answer, or dropped
// it, and gives its buffer back.
func (ans *answer) Put(b *[]byte) {
	ans.a.buffers.Put(b)
	ans.release()
}
