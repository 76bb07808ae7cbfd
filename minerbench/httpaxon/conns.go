package httpaxon

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// connTracker bounds the connections served at once. When all are taken,
// a connection without a request in progress is closed to make room for
// the new one: the idlest of the peer holding the most connections, so
// that idle connections cannot lock others out and one peer's many
// connections cost others none of theirs. A new connection waits only
// while every connection has a request in progress.
type connTracker struct {
	slots chan struct{} // one element per connection served
	quit  chan struct{}
	once  sync.Once

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	byPeer map[string]int // connections per peer IP
}

func newConnTracker(maxConns int) *connTracker {
	return &connTracker{
		slots:  make(chan struct{}, maxConns),
		quit:   make(chan struct{}),
		conns:  map[*trackedConn]struct{}{},
		byPeer: map[string]int{},
	}
}

// trackedConn is a served connection: it gives its slot back when closed,
// and knows whether a request is in progress on it and since when it is
// idle.
type trackedConn struct {
	net.Conn
	t    *connTracker
	peer string

	closeOnce sync.Once
	busy      bool      // guarded by t.mu
	since     time.Time // guarded by t.mu: when it last became idle
}

// Close closes the connection and gives its slot back, once.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		if c.t.byPeer[c.peer]--; c.t.byPeer[c.peer] == 0 {
			delete(c.t.byPeer, c.peer)
		}
		c.t.mu.Unlock()
		<-c.t.slots
	})
	return err
}

// trackedListener accepts connections through a connTracker.
type trackedListener struct {
	net.Listener
	t *connTracker
}

func (t *connTracker) listen(lis net.Listener) net.Listener {
	return &trackedListener{Listener: lis, t: t}
}

// Accept waits for room, evicting the idlest connection when there is
// none, then accepts a connection.
func (l *trackedListener) Accept() (net.Conn, error) {
	t := l.t
	select {
	case t.slots <- struct{}{}:
	default:
		t.evictIdlest()
		select {
		case t.slots <- struct{}{}:
		case <-t.quit:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-t.slots
		return nil, err
	}
	tc := &trackedConn{Conn: c, t: t, peer: addrIP(c.RemoteAddr()), since: time.Now()}
	t.mu.Lock()
	t.conns[tc] = struct{}{}
	t.byPeer[tc.peer]++
	t.mu.Unlock()
	return tc, nil
}

// Close stops Accept.
func (l *trackedListener) Close() error {
	l.t.once.Do(func() { close(l.t.quit) })
	return l.Listener.Close()
}

// evictIdlest closes, among the connections without a request in
// progress, the idlest of the peer holding the most connections, if there
// is one.
func (t *connTracker) evictIdlest() {
	t.mu.Lock()
	var idlest *trackedConn
	for c := range t.conns {
		if c.busy {
			continue
		}
		if idlest == nil || t.byPeer[c.peer] > t.byPeer[idlest.peer] ||
			t.byPeer[c.peer] == t.byPeer[idlest.peer] && c.since.Before(idlest.since) {
			idlest = c
		}
	}
	t.mu.Unlock()
	if idlest != nil {
		idlest.Close()
	}
}

// addrIP returns the IP of a TCP address, or the address as text.
func addrIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return a.String()
}

// connKey is the context key of a request's *trackedConn.
type connKey struct{}

// connContext is http.Server.ConnContext: it gives each request its
// connection.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*trackedConn); ok {
		return context.WithValue(ctx, connKey{}, tc)
	}
	return ctx
}

// markBusy marks r's connection busy: its request's headers are in, and
// it is not evicted until its answer is written. A connection still sending
// headers is not busy, so one that sends them slowly can be evicted.
func markBusy(r *http.Request) {
	if tc, ok := r.Context().Value(connKey{}).(*trackedConn); ok {
		tc.t.mu.Lock()
		tc.busy = true
		tc.t.mu.Unlock()
	}
}

// state is http.Server.ConnState: a connection whose answer is written is
// idle again.
func (t *connTracker) state(c net.Conn, s http.ConnState) {
	if tc, ok := c.(*trackedConn); ok && s == http.StateIdle {
		t.mu.Lock()
		tc.busy = false
		tc.since = time.Now()
		t.mu.Unlock()
	}
}
