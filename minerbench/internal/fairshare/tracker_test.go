package fairshare

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipeConn is one end of a net.Pipe that comes from a given address.
type pipeConn struct {
	net.Conn
	from   net.Addr
	closed atomic.Bool
}

func (c *pipeConn) RemoteAddr() net.Addr { return c.from }

func (c *pipeConn) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}

// chanListener accepts the connections sent on it.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { close(l.done); return nil }
func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }

// fixture is a Tracker's listener fed by dial.
type fixture struct {
	t   *testing.T
	tr  *Tracker
	raw *chanListener
	lis net.Listener
}

func newFixture(t *testing.T, maxConns, perPeer int) *fixture {
	tr, err := NewTracker(maxConns, perPeer)
	require.NoError(t, err)
	raw := &chanListener{conns: make(chan net.Conn, 16), done: make(chan struct{})}
	return &fixture{t: t, tr: tr, raw: raw, lis: tr.Listen(raw)}
}

// dial queues a connection from ip for the listener and returns it.
func (f *fixture) dial(ip string) *pipeConn {
	server, client := net.Pipe()
	f.t.Cleanup(func() { client.Close() })
	c := &pipeConn{Conn: server, from: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}}
	f.raw.conns <- c
	return c
}

// accept returns the next connection the listener gives, failing the test
// if none comes within 5 s.
func (f *fixture) accept() *Conn {
	f.t.Helper()
	select {
	case c := <-f.acceptAsync():
		return c
	case <-time.After(5 * time.Second):
		f.t.Fatal("no connection accepted within 5 s")
		return nil
	}
}

// acceptAsync runs Accept in the background and returns its connection's
// channel.
func (f *fixture) acceptAsync() <-chan *Conn {
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := f.lis.Accept()
		if err == nil {
			accepted <- c.(*Conn)
		}
	}()
	return accepted
}

// held dials from ip, checks that Accept holds the connection for 50 ms,
// the bound being reached with every connection busy, and returns the
// channel Accept will give it on.
func (f *fixture) held(ip string) <-chan *Conn {
	f.t.Helper()
	accepted := f.acceptAsync()
	f.dial(ip)
	select {
	case <-accepted:
		f.t.Fatal("a connection accepted beyond the bound while every connection was busy")
	case <-time.After(50 * time.Millisecond):
	}
	return accepted
}

// connect dials from ip and accepts the connection.
func (f *fixture) connect(ip string) (*pipeConn, *Conn) {
	f.t.Helper()
	raw := f.dial(ip)
	return raw, f.accept()
}

func TestNewTrackerRefusesBadSizes(t *testing.T) {
	for _, c := range [][2]int{{0, 1}, {1, 0}} {
		_, err := NewTracker(c[0], c[1])
		assert.ErrorContains(t, err, "want both at least 1")
	}
}

// At the bound, a new connection closes the idlest connection of the peer
// that holds the most, never one with a call in flight, nor another peer's.
func TestTrackerEvictsIdlestOfBiggestPeer(t *testing.T) {
	f := newFixture(t, 4, 4)
	good, goodConn := f.connect("127.0.0.1")
	var hog []*pipeConn
	var hogConns []*Conn
	for range 3 {
		r, c := f.connect("127.0.0.2")
		hog, hogConns = append(hog, r), append(hogConns, c)
	}
	hogConns[0].Begin() // busy: not to be closed
	_, newConn := f.connect("127.0.0.3")
	assert.Equal(t, "127.0.0.3", newConn.Peer())
	assert.True(t, hog[1].closed.Load(), "the idlest idle connection of 127.0.0.2, which holds the most")
	assert.False(t, hog[0].closed.Load(), "a connection with a call in flight stays")
	assert.False(t, good.closed.Load(), "127.0.0.1 holds fewer connections")
	all, ofHog := f.tr.Conns("127.0.0.2")
	assert.Equal(t, [2]int{4, 2}, [2]int{all, ofHog})
	assert.Equal(t, int64(1), f.tr.Evicted())
	hogConns[0].End()
	goodConn.Close()
	all, _ = f.tr.Conns("")
	assert.Equal(t, 3, all, "a closed connection stops counting")
}

// When every connection has a call in flight, a new one waits until one
// falls idle, and is then served in its place.
func TestTrackerWaitsWhileAllBusy(t *testing.T) {
	f := newFixture(t, 2, 2)
	var raws []*pipeConn
	var conns []*Conn
	for range 2 {
		r, c := f.connect("127.0.0.2")
		c.Begin()
		raws, conns = append(raws, r), append(conns, c)
	}
	accepted := f.held("127.0.0.1")
	conns[1].End()
	c := <-accepted
	assert.Equal(t, "127.0.0.1", c.Peer())
	assert.True(t, raws[1].closed.Load(), "the connection that fell idle made room")
	assert.False(t, raws[0].closed.Load())
}

// At its own bound, a peer's new connection closes that peer's idlest, or,
// with all its connections busy, is closed itself.
func TestTrackerPerPeerBound(t *testing.T) {
	f := newFixture(t, 10, 2)
	r0, _ := f.connect("127.0.0.2")
	r1, c1 := f.connect("127.0.0.2")
	c1.Begin()
	_, c2 := f.connect("127.0.0.2")
	assert.True(t, r0.closed.Load(), "the peer's idle connection made room")
	assert.False(t, r1.closed.Load())
	c2.Begin()
	refused := f.dial("127.0.0.2")
	_, other := f.connect("127.0.0.3") // the next connection Accept returns
	assert.Equal(t, "127.0.0.3", other.Peer())
	assert.True(t, refused.closed.Load(), "refused: its peer holds 2 busy connections")
}

// Closing the listener ends a wait for room.
func TestTrackerListenerCloseEndsWait(t *testing.T) {
	f := newFixture(t, 1, 1)
	_, c := f.connect("127.0.0.2")
	c.Begin()
	errs := make(chan error, 1)
	go func() {
		_, err := f.lis.Accept()
		errs <- err
	}()
	waiter := f.dial("127.0.0.3")
	require.Eventually(t, func() bool { return len(f.raw.conns) == 0 }, 5*time.Second, time.Millisecond)
	require.NoError(t, f.lis.Close())
	require.ErrorIs(t, <-errs, net.ErrClosed)
	assert.True(t, waiter.closed.Load())
}

func TestPeerOf(t *testing.T) {
	assert.Equal(t, "127.0.0.2", PeerOf(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 5}))
	assert.Equal(t, "::1", PeerOf(&net.TCPAddr{IP: net.IPv6loopback, Port: 5}))
	assert.Equal(t, "10.0.0.1", PeerOf(&net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 5}))
	assert.Equal(t, "", PeerOf(nil))
	assert.Equal(t, "/tmp/sock", PeerOf(&net.UnixAddr{Name: "/tmp/sock", Net: "unix"}))
}
