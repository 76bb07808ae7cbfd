package fairshare

import (
	"context"
	"fmt"
	"sync"
)

// Budget is a capacity of units shared by peers, each of which may hold at
// most a per-peer share of it. Create it with NewBudget.
//
// A request waits only for what it needs itself: whenever units come back,
// every waiting request that then fits is granted, in the order the
// requests began to wait, so a small request never waits behind a large one
// that does not fit. What a peer holds counts against that peer only, so a
// peer that hoards its share leaves the rest to the others.
type Budget struct {
	capacity, perPeer int64
	elastic           bool // a peer alone may exceed perPeer

	mu      sync.Mutex
	used    int64
	held    map[string]int64
	waiters []*waiter
}

// waiter is a request waiting in a Budget.
type waiter struct {
	peer    string
	n       int64
	granted bool
	ready   chan struct{} // closed when granted
}

// NewBudget returns a Budget of capacity units of which one peer may hold
// at most perPeer; perPeer above capacity means capacity. Both must be at
// least 1.
func NewBudget(capacity, perPeer int64) (*Budget, error) {
	if capacity < 1 || perPeer < 1 {
		return nil, fmt.Errorf("fairshare: budget of capacity %d, per peer %d; want both at least 1", capacity, perPeer)
	}
	return &Budget{capacity: capacity, perPeer: min(perPeer, capacity), held: make(map[string]int64)}, nil
}

// NewElasticBudget is NewBudget, but for a peer that is alone: while no
// other peer holds units, a peer may take beyond perPeer, up to the whole
// capacity.
//
// It suits units held briefly, such as calls, which a peer alone (a
// benchmark on loopback) may use all of, and which come back soon for the
// peers that arrive later; not units a peer can keep, such as the bytes of
// answers it does not read.
func NewElasticBudget(capacity, perPeer int64) (*Budget, error) {
	b, err := NewBudget(capacity, perPeer)
	if err == nil {
		b.elastic = true
	}
	return b, err
}

// Max returns the most units one request can be granted: the per-peer
// share, or the capacity when that is less or the Budget is elastic.
func (b *Budget) Max() int64 {
	if b.elastic {
		return b.capacity
	}
	return b.perPeer
}

// fits reports whether peer may take n more units; b.mu is held.
func (b *Budget) fits(peer string, n int64) bool {
	if b.used+n > b.capacity {
		return false
	}
	h := b.held[peer]
	if h+n <= b.perPeer {
		return true
	}
	alone := len(b.held) == 0 || (len(b.held) == 1 && h > 0)
	return b.elastic && alone
}

// take gives peer n units; b.mu is held.
func (b *Budget) take(peer string, n int64) {
	b.used += n
	b.held[peer] += n
}

// TryAcquire takes n units for peer if they fit now, in the capacity and in
// the peer's share, and reports whether it did.
func (b *Budget) TryAcquire(peer string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.fits(peer, n) {
		return false
	}
	b.take(peer, n)
	return true
}

// Acquire takes n units for peer, waiting until they fit or ctx ends; it
// returns ctx's error, holding nothing, if ctx ends first, and an error at
// once if n exceeds Max, as it could never fit.
func (b *Budget) Acquire(ctx context.Context, peer string, n int64) error {
	if n > b.Max() {
		return fmt.Errorf("fairshare: request of %d units exceeds the most a peer may hold, %d", n, b.Max())
	}
	b.mu.Lock()
	if b.fits(peer, n) {
		b.take(peer, n)
		b.mu.Unlock()
		return nil
	}
	w := &waiter{peer: peer, n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	if w.granted {
		b.mu.Unlock()
		b.Release(peer, n)
		return ctx.Err()
	}
	for i, o := range b.waiters {
		if o == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			break
		}
	}
	b.mu.Unlock()
	return ctx.Err()
}

// Release gives back n units peer holds, and grants every waiting request
// that then fits. Releasing more than the peer holds panics.
func (b *Budget) Release(peer string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.held[peer] - n
	if h < 0 {
		panic(fmt.Sprintf("fairshare: peer %q released %d units, holding %d", peer, n, b.held[peer]))
	}
	if h == 0 {
		delete(b.held, peer)
	} else {
		b.held[peer] = h
	}
	b.used -= n
	kept := b.waiters[:0]
	for _, w := range b.waiters {
		if b.fits(w.peer, w.n) {
			b.take(w.peer, w.n)
			w.granted = true
			close(w.ready)
			continue
		}
		kept = append(kept, w)
	}
	clear(b.waiters[len(kept):])
	b.waiters = kept
}

// Held returns the units peer holds.
func (b *Budget) Held(peer string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held[peer]
}

// Used returns the units all peers hold.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
