package httpaxon

import (
	"context"
	"sync"
	"sync/atomic"
)

// pool is a capacity shared fairly among peers: a peer holds at most
// perPeer of it, and waiters are served in order, skipping those whose peer
// holds its share or whose need does not fit, so that one peer's waiting
// calls never hold up another's.
type pool struct {
	mu       sync.Mutex
	free     int64
	perPeer  int64
	held     map[string]int64
	waiters  []*waiter
	maxQueue int // waiters beyond it are refused; 0: no bound
}

// waiter is a call waiting for n of a pool.
type waiter struct {
	peer  string
	n     int64
	ready chan struct{}
}

func newPool(capacity, perPeer int64, maxQueue int) *pool {
	return &pool{free: capacity, perPeer: max(perPeer, 1), held: map[string]int64{}, maxQueue: maxQueue}
}

// fits reports whether peer may take n now; p.mu is held.
func (p *pool) fits(peer string, n int64) bool {
	return n <= p.free && (p.held[peer] == 0 || p.held[peer]+n <= p.perPeer)
}

// take records that peer holds n; p.mu is held.
func (p *pool) take(peer string, n int64) {
	p.free -= n
	p.held[peer] += n
}

// acquire takes n for peer, waiting until it fits or ctx ends. A peer may
// always take n when it holds nothing and n is free, so that a need larger
// than perPeer is served alone. It returns false, holding nothing, when ctx
// ends first or when maxQueue calls already wait (full is then true).
func (p *pool) acquire(ctx context.Context, peer string, n int64) (ok, full bool) {
	p.mu.Lock()
	if len(p.waiters) == 0 && p.fits(peer, n) {
		p.take(peer, n)
		p.mu.Unlock()
		return true, false
	}
	if p.maxQueue > 0 && len(p.waiters) >= p.maxQueue {
		p.mu.Unlock()
		return false, true
	}
	w := &waiter{peer: peer, n: n, ready: make(chan struct{})}
	p.waiters = append(p.waiters, w)
	p.grant()
	p.mu.Unlock()
	select {
	case <-w.ready:
		return true, false
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		p.put(peer, n)
	default:
		for i, o := range p.waiters {
			if o == w {
				p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
				break
			}
		}
	}
	return false, false
}

// release gives back n that peer held.
func (p *pool) release(peer string, n int64) {
	p.mu.Lock()
	p.put(peer, n)
	p.mu.Unlock()
}

// put gives back n and grants what now fits; p.mu is held.
func (p *pool) put(peer string, n int64) {
	p.free += n
	if p.held[peer] -= n; p.held[peer] <= 0 {
		delete(p.held, peer)
	}
	p.grant()
}

// grant serves, in order, every waiter that fits; p.mu is held.
func (p *pool) grant() {
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		if p.fits(w.peer, w.n) {
			p.take(w.peer, w.n)
			close(w.ready)
			continue
		}
		kept = append(kept, w)
	}
	clear(p.waiters[len(kept):])
	p.waiters = kept
}

// smallAnswer is the size up to which an answer takes nothing from the
// answer budget: a small query's answer never waits behind large ones.
// Such answers are bounded by the connections, one each.
const smallAnswer = 64 << 10

// admission holds the axon's shared limits: requests being received,
// workers, and the budget of answer bytes being written.
type admission struct {
	requests    atomic.Int64
	maxRequests int64
	workers     *pool
	answers     *pool
}

func newAdmission(cfg Config) *admission {
	return &admission{
		maxRequests: int64(cfg.MaxRequestsInFlight),
		workers:     newPool(int64(cfg.Workers), int64(max(cfg.Workers/2, 1)), cfg.QueueSize),
		answers:     newPool(cfg.AnswerBudget, cfg.AnswerBudget/2, 0),
	}
}

// enterRequest counts a request being received, unless MaxRequestsInFlight
// are; exitRequest ends it.
func (ad *admission) enterRequest() bool {
	if ad.requests.Add(1) > ad.maxRequests {
		ad.requests.Add(-1)
		return false
	}
	return true
}

func (ad *admission) exitRequest() { ad.requests.Add(-1) }

// answerBytes takes n bytes of the answer budget for peer, or nothing for a
// small answer, and returns what to give back.
func (ad *admission) answerBytes(ctx context.Context, peer string, n int64) (release func(), ok bool) {
	if n <= smallAnswer {
		return func() {}, true
	}
	if ok, _ := ad.answers.acquire(ctx, peer, n); !ok {
		return nil, false
	}
	return func() { ad.answers.release(peer, n) }, true
}
