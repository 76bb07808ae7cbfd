package axon

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

// listener accepts at most Config.MaxConnections connections at once and
// makes each a servedConn.
type listener struct {
	net.Listener
}

// listen wraps lis for Serve.
func (a *Axon) listen(lis net.Listener) net.Listener {
	return listener{netutil.LimitListener(lis, a.cfg.MaxConnections)}
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &servedConn{Conn: c}
	sc.addr = connAddr{Addr: c.RemoteAddr(), conn: sc}
	return sc, nil
}

// servedConn is a connection the axon serves. It holds the answers in
// flight on it, and gives their budget back when it closes: gRPC then drops
// what it had not written without telling the answers.
type servedConn struct {
	net.Conn
	addr connAddr

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

// bodyTimer is the context key of a call's RequestTimeout timer.
type bodyTimer struct{}

// tap runs on every call's headers, before its body is read: it refuses the
// call beyond MaxConcurrentRPCs, and one whose metadata does not
// authenticate (the signature covers only the headers, so the whole check,
// nonce bookkeeping included, runs here), with a gRPC status. It counts an
// accepted call until its stream ends, and ends it with CANCELLED if its
// body has not come within RequestTimeout.
func (a *Axon) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	if a.rpcs.Add(1) > int64(a.cfg.MaxConcurrentRPCs) {
		a.rpcs.Add(-1)
		return nil, status.Errorf(codes.ResourceExhausted,
			"axon: %d calls in progress, the most the axon takes (MaxConcurrentRPCs)", a.cfg.MaxConcurrentRPCs)
	}
	if _, err := a.verifier.VerifyMetadata(info.Header); err != nil {
		a.rpcs.Add(-1)
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(a.cfg.RequestTimeout, func() { cancel(errNoBody) })
	context.AfterFunc(ctx, func() {
		timer.Stop()
		a.rpcs.Add(-1)
	})
	return context.WithValue(ctx, bodyTimer{}, timer), nil
}

// bodyRead stops the RequestTimeout timer of the call of ctx, whose body has
// been read.
func bodyRead(ctx context.Context) {
	if t, ok := ctx.Value(bodyTimer{}).(*time.Timer); ok {
		t.Stop()
	}
}
