package axon

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/minerbench/minerbench/minerbench/internal/fairshare"
)

// listener accepts connections within the bounds of the axon's connection
// tracker (Config.MaxConnections, Config.MaxConnectionsPerPeer) and makes
// each a servedConn.
type listener struct {
	net.Listener
}

// listen wraps lis for Serve.
func (a *Axon) listen(lis net.Listener) net.Listener {
	return listener{a.conns.Listen(lis)}
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &servedConn{Conn: c, tracked: c.(*fairshare.Conn)}
	sc.addr = connAddr{Addr: c.RemoteAddr(), conn: sc}
	return sc, nil
}

// servedConn is a connection the axon serves. It holds the answers in
// flight on it, and gives their budget back when it closes: gRPC then drops
// what it had not written without telling the answers.
type servedConn struct {
	net.Conn
	tracked *fairshare.Conn // the Conn, as the tracker knows it
	addr    connAddr

	mu      sync.Mutex
	closed  bool
	answers map[*answer]struct{}
}

// connAddr is a servedConn's remote address. gRPC hands it to every call on
// the connection as the peer's address, so a call finds its connection
// without a lookup.
type connAddr struct {
	net.Addr
	conn *servedConn
}

// RemoteAddr returns the peer's address, which also leads to c.
func (c *servedConn) RemoteAddr() net.Addr { return &c.addr }

// Close closes the connection and releases the answers still in flight on it.
func (c *servedConn) Close() error {
	c.mu.Lock()
	c.closed = true
	answers := c.answers
	c.answers = nil
	c.mu.Unlock()
	for ans := range answers {
		ans.release()
	}
	return c.Conn.Close()
}

// hold records ans as in flight on c; it returns false when c is closed.
func (c *servedConn) hold(ans *answer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if c.answers == nil {
		c.answers = make(map[*answer]struct{})
	}
	c.answers[ans] = struct{}{}
	return true
}

// forget removes ans from c.
func (c *servedConn) forget(ans *answer) {
	c.mu.Lock()
	delete(c.answers, ans)
	c.mu.Unlock()
}

// peer returns the peer c belongs to, or "" for a nil c: a call that did
// not come through Serve.
func (c *servedConn) peer() string {
	if c == nil {
		return ""
	}
	return c.tracked.Peer()
}

// connOf returns the connection of the call of ctx, or nil for a call that
// did not come through Serve.
func connOf(ctx context.Context) *servedConn {
	if p, ok := peer.FromContext(ctx); ok {
		if a, ok := p.Addr.(*connAddr); ok {
			return a.conn
		}
	}
	return nil
}

// errNoBody ends a call whose body did not come within RequestTimeout.
var errNoBody = errors.New("axon: no request body within the request timeout")

// incoming is a call whose headers the tap accepted: the call's context
// until its body has been read, the RequestTimeout timer that ends it
// otherwise, and the hook that notices its stream ending first. It counts
// among Config.MaxRequestsInFlight until one of the three.
type incoming struct {
	context.Context // a cancelable context of the call's stream
	cancel          context.CancelCauseFunc
	a               *Axon
	timer           *time.Timer
	stop            func() bool // stops the hook on the stream's end
	done            atomic.Bool // read, ended, or timed out
}

// incomingKey is the context key of a call's incoming.
type incomingKey struct{}

// Value returns in for incomingKey, and the stream context's values.
func (in *incoming) Value(key any) any {
	if key == (incomingKey{}) {
		return in
	}
	return in.Context.Value(key)
}

// finish stops counting the call among the requests in flight, once.
func (in *incoming) finish() bool {
	if !in.done.CompareAndSwap(false, true) {
		return false
	}
	in.a.requests.Add(-1)
	return true
}

// expire ends a call whose body has not been read within RequestTimeout.
func (in *incoming) expire() {
	if in.finish() {
		in.cancel(errNoBody)
	}
}

// ended runs when the call's stream ends before its body was read: reset by
// its client, or refused by gRPC (too large, not decompressible).
func (in *incoming) ended() {
	if in.finish() {
		in.timer.Stop()
	}
}

// tap runs on every call's headers, before its body is read: it refuses the
// call beyond MaxRequestsInFlight, and one whose metadata does not
// authenticate (the signature covers only the headers, so the whole check,
// nonce bookkeeping included, runs here), with a gRPC status. An accepted
// call counts among the requests in flight until its body has been read or
// its stream ends; one whose body has not been read within RequestTimeout
// ends with CANCELLED. Its connection counts as busy, not to be closed to
// make room for another, until its stream ends.
func (a *Axon) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	if a.requests.Add(1) > int64(a.cfg.MaxRequestsInFlight) {
		a.requests.Add(-1)
		return nil, status.Errorf(codes.ResourceExhausted,
			"axon: %d requests being received, the most the axon takes (MaxRequestsInFlight)", a.cfg.MaxRequestsInFlight)
	}
	if _, err := a.verifier.VerifyMetadata(info.Header); err != nil {
		a.requests.Add(-1)
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	if c := connOf(ctx); c != nil {
		c.tracked.Begin()
		context.AfterFunc(ctx, c.tracked.End)
	}
	in := &incoming{a: a}
	in.Context, in.cancel = context.WithCancelCause(ctx)
	in.timer = time.AfterFunc(a.cfg.RequestTimeout, in.expire)
	in.stop = context.AfterFunc(in.Context, in.ended)
	return in, nil
}

// bodyRead stops counting the call of ctx among the requests in flight, its
// RequestTimeout timer and its hook, once its body has been read.
func bodyRead(ctx context.Context) {
	if in, ok := ctx.Value(incomingKey{}).(*incoming); ok && in.finish() {
		in.timer.Stop()
		in.stop()
	}
}
