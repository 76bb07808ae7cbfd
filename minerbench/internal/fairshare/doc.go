// Package fairshare shares a server's connections, calls and bytes among
// its peers, so that no one peer can deny service to the others.
//
// A peer is a remote IP address (PeerOf). A Tracker bounds the connections
// served at once, in all and per peer, and knows which have no call in
// flight: at its limit, a new connection is served by closing the idlest
// one, taken from the peer that holds the most. A Budget shares a capacity
// of units (answer bytes, calls) with a bound per peer, and serves its
// waiters by what each needs, not in a queue: a small request is granted as
// soon as it fits, whatever larger requests wait before it. An elastic
// Budget (NewElasticBudget) lets a peer alone use all of it.
//
// Both are protocol-neutral. A server wraps its net.Listener with
// Tracker.Listen, and marks each call on a connection with Conn.Begin and
// Conn.End (a gRPC server from its tap handle and the stream's end; a
// net/http server from its handler).
package fairshare
