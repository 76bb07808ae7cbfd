package httpaxon

import (
	"context"
	"net"
	"net/http"

	"github.com/minerbench/minerbench/minerbench/internal/fairshare"
)

// The axon's connections are a fairshare.Tracker's: at MaxConnections, a
// new connection is served by closing an idle one, the idlest of the peer
// holding the most, so idle connections cannot lock others out. A
// connection is in a call from the moment its request's headers are in to
// the end of its handler, which writes the whole answer; one still sending
// headers is idle, so that slow headers cannot hold a connection against
// others either (HeaderTimeout ends them anyway).

// connKey is the context key of a request's *fairshare.Conn.
type connKey struct{}

// connContext is http.Server.ConnContext: it gives each request its
// connection.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*fairshare.Conn); ok {
		return context.WithValue(ctx, connKey{}, fc)
	}
	return ctx
}

// connOf returns r's connection, when the axon's listener accepted it.
func connOf(r *http.Request) (*fairshare.Conn, bool) {
	fc, ok := r.Context().Value(connKey{}).(*fairshare.Conn)
	return fc, ok
}

// beginCall marks r's connection in a call, and returns what ends it.
func beginCall(r *http.Request) (end func()) {
	fc, ok := connOf(r)
	if !ok {
		return func() {}
	}
	fc.Begin()
	return fc.End
}
