package fairshare

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Tracker bounds the connections a server serves at once, in all and per
// peer, and knows which of them have no call in flight. Create it with
// NewTracker; serve the connections of the listener Listen returns.
//
// A new connection beyond a bound is served by closing an idle one, a
// connection with no call in flight (one that never sent a call included):
// at the total bound, the idlest of the peer that holds the most
// connections; at the peer's own bound, that peer's idlest. So a peer that
// opens connections and leaves them idle cannot keep another peer out, and
// a peer's connections are closed before another's only while it holds
// more. When every connection has a call in flight, a new one waits until
// one closes or falls idle; at its peer's bound, it is closed at once.
type Tracker struct {
	max, perPeer int

	mu      sync.Mutex
	conns   map[*Conn]struct{}
	peers   map[string]int // connections per peer
	changed chan struct{}  // closed and replaced when a connection closes or falls idle
	evicted int64
}

// NewTracker returns a Tracker of at most maxConns connections, of which
// one peer may hold at most perPeer; perPeer above maxConns means maxConns.
// Both must be at least 1.
func NewTracker(maxConns, perPeer int) (*Tracker, error) {
	if maxConns < 1 || perPeer < 1 {
		return nil, fmt.Errorf("fairshare: tracker of %d connections, %d per peer; want both at least 1", maxConns, perPeer)
	}
	return &Tracker{
		max:     maxConns,
		perPeer: min(perPeer, maxConns),
		conns:   make(map[*Conn]struct{}),
		peers:   make(map[string]int),
		changed: make(chan struct{}),
	}, nil
}

// Conn is a connection a Tracker serves. Its calls are marked with Begin
// and End; Close closes it and stops tracking it.
type Conn struct {
	net.Conn
	t    *Tracker
	peer string

	// Guarded by t.mu.
	calls     int
	idleSince time.Time
	tracked   bool
}

// Peer returns the peer the connection belongs to (PeerOf its remote
// address).
func (c *Conn) Peer() string { return c.peer }

// Begin marks a call in flight on c: c is not idle until as many End.
func (c *Conn) Begin() {
	c.t.mu.Lock()
	c.calls++
	c.t.mu.Unlock()
}

// End marks the end of a call Begin marked.
func (c *Conn) End() {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	if c.calls == 0 {
		panic("fairshare: Conn.End without Begin")
	}
	c.calls--
	if c.calls == 0 {
		c.idleSince = time.Now()
		c.t.signal()
	}
}

// Close stops tracking c, which makes room for another connection, and
// closes it.
func (c *Conn) Close() error {
	c.t.mu.Lock()
	c.t.untrack(c)
	c.t.mu.Unlock()
	return c.Conn.Close()
}

// Conns returns the connections served, in all and of peer.
func (t *Tracker) Conns(peer string) (all, ofPeer int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns), t.peers[peer]
}

// Evicted returns how many idle connections the Tracker has closed to make
// room for new ones.
func (t *Tracker) Evicted() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.evicted
}

// signal wakes whoever waits for room; t.mu is held.
func (t *Tracker) signal() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// untrack stops counting c; t.mu is held.
func (t *Tracker) untrack(c *Conn) {
	if !c.tracked {
		return
	}
	c.tracked = false
	delete(t.conns, c)
	if t.peers[c.peer]--; t.peers[c.peer] == 0 {
		delete(t.peers, c.peer)
	}
	t.signal()
}

// errPeerFull refuses a connection whose peer holds its share, all busy.
var errPeerFull = errors.New("fairshare: peer holds its share of connections, each with a call in flight")

// admit tracks nc as a Conn, first closing an idle connection if a bound
// is reached; at the total bound with no idle connection, it waits until
// there is one, or done closes. It returns errPeerFull when nc's peer is
// at its bound with no idle connection, and net.ErrClosed when done closes.
func (t *Tracker) admit(nc net.Conn, done <-chan struct{}) (*Conn, error) {
	c := &Conn{Conn: nc, t: t, peer: PeerOf(nc.RemoteAddr())}
	for {
		t.mu.Lock()
		var victim *Conn
		switch {
		case t.peers[c.peer] >= t.perPeer:
			victim = t.idlest(c.peer)
			if victim == nil {
				t.mu.Unlock()
				return nil, errPeerFull
			}
		case len(t.conns) >= t.max:
			victim = t.idlest("")
		default:
			c.tracked, c.idleSince = true, time.Now()
			t.conns[c] = struct{}{}
			t.peers[c.peer]++
			t.mu.Unlock()
			return c, nil
		}
		if victim != nil {
			t.untrack(victim)
			t.evicted++
			t.mu.Unlock()
			victim.Conn.Close()
			continue
		}
		changed := t.changed
		t.mu.Unlock()
		select {
		case <-changed:
		case <-done:
			return nil, net.ErrClosed
		}
	}
}

// idlest returns the idle connection of peer idle the longest, or, for
// peer "", that of the peer holding the most connections; nil if there is
// none. t.mu is held.
func (t *Tracker) idlest(peer string) *Conn {
	var best *Conn
	for c := range t.conns {
		if c.calls > 0 || (peer != "" && c.peer != peer) {
			continue
		}
		if best == nil || t.peers[c.peer] > t.peers[best.peer] ||
			(t.peers[c.peer] == t.peers[best.peer] && c.idleSince.Before(best.idleSince)) {
			best = c
		}
	}
	return best
}

// Listen returns a listener whose Accept returns the connections of lis as
// *Conn, within the Tracker's bounds: it closes an idle connection to make
// room, and waits for room while every connection has a call in flight.
// Closing it closes lis and ends such a wait.
func (t *Tracker) Listen(lis net.Listener) net.Listener {
	return &listener{Listener: lis, t: t, done: make(chan struct{})}
}

// listener is a net.Listener whose connections a Tracker bounds.
type listener struct {
	net.Listener
	t    *Tracker
	once sync.Once
	done chan struct{}
}

// Accept waits for a connection the Tracker has room for and returns it as
// a *Conn. A connection refused for its peer's bound is closed, and the
// next one awaited.
func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c, err := l.t.admit(nc, l.done)
		if errors.Is(err, errPeerFull) {
			nc.Close()
			continue
		}
		if err != nil {
			nc.Close()
			return nil, err
		}
		return c, nil
	}
}

// Close closes the listener, ending a wait for room in Accept.
func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}
