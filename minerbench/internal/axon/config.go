package axon

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/auth"
	"github.com/minerbench/minerbench/minerbench/internal/configcheck"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// Defaults of Config, used where a field is zero.
const (
	// DefaultForwardTimeout is Bittensor's axon.forward_timeout.
	DefaultForwardTimeout = 10 * time.Second
	// DefaultWorkers is Bittensor's axon.max_workers.
	DefaultWorkers = 10
	// DefaultQueueSize is the number of calls that may wait for a slot.
	DefaultQueueSize = 100
	// DefaultMaxMessageSize is wire.MaxMessageSize: it fits the largest
	// answer the benchmark asks for, with room for framing.
	DefaultMaxMessageSize = wire.MaxMessageSize
	// DefaultMaxConnections is the benchmark's largest concurrency: one
	// connection per worker.
	DefaultMaxConnections = 1024
	// DefaultMaxStreamsPerConnection is HTTP/2's recommended least value
	// of SETTINGS_MAX_CONCURRENT_STREAMS.
	DefaultMaxStreamsPerConnection = 100
	// DefaultMaxRequestsInFlight is one call per connection at the
	// benchmark's largest concurrency.
	DefaultMaxRequestsInFlight = DefaultMaxConnections
	// DefaultHandshakeTimeout bounds a new connection's HTTP/2 handshake.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultRequestTimeout bounds the time from a call's headers to the end
	// of its body, which is at most about 135 KB.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds the time a client may take to read an
	// answer.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a connection without calls is kept:
	// long enough for a client between two calls, short enough that idle
	// connections do not pile up.
	DefaultIdleTimeout = 10 * time.Second
	// DefaultMaxClockSkew is auth.DefaultMaxClockSkew.
	DefaultMaxClockSkew = auth.DefaultMaxClockSkew
)

// Config configures an Axon. Zero values mean the defaults above; the
// protocol description (minerbench/internal/wire/README.md) lists every limit.
type Config struct {
	// Wallet is the hotkey the axon answers as (required).
	Wallet *wallet.Keypair
	// ForwardTimeout bounds the time from a call's request being read to
	// its handler's answer, queue wait included: the handler's context ends when
	// it passes, and a call not answered by then answers Timeout. A call
	// waiting for a slot, or whose handler returns when its context ends,
	// is answered Timeout on time; a handler that ignores its context holds
	// its call until it returns, and the call then answers Timeout.
	ForwardTimeout time.Duration
	// Workers is the number of calls that may run the ForwardFunc at once,
	// each on the goroutine serving it: its slots.
	Workers int
	// QueueSize is how many calls may wait for a free slot or for room in
	// MaxAnswerBytes; a call that finds no room and QueueSize calls waiting
	// answers NucleusFull at once.
	QueueSize int
	// MaxMessageSize bounds sent messages in bytes: a request whose answer,
	// [batch, seq, wire.NetworkDim] float32, would not fit is answered
	// RequestShapeException before the handler runs. Received messages are
	// bounded by what the largest such request needs (about 135 KB with the
	// default); gRPC refuses a larger one with RESOURCE_EXHAUSTED before
	// reading it.
	MaxMessageSize int
	// MaxAnswerBytes is the budget of answer bytes in flight across the
	// axon: a call takes its answer's size from it when admitted, before
	// its handler runs, and gives it back when gRPC has written the answer
	// to the connection, or the call or its connection ended. A call that
	// finds too little room waits for it as for a slot (QueueSize,
	// ForwardTimeout). An answer larger than its peer's share
	// (MaxAnswerBytesPerPeer) waits for all of that share. A call waits only for
	// the room its own answer needs: a small answer that fits is taken at
	// once, whatever larger answers wait. With compression, an answer is
	// counted until gRPC has compressed it: the compressed copy is gRPC's,
	// bounded per connection by MaxStreamsPerConnection. The default is 4 ×
	// MaxMessageSize.
	MaxAnswerBytes int64
	// MaxAnswerBytesPerPeer bounds the share of MaxAnswerBytes one peer
	// (remote IP address) holds: its answers being built, and those
	// written but not yet read, count against it. A peer that does not
	// read its answers thus holds at most this much until WriteTimeout,
	// and the rest stays free for the others. The default, three quarters
	// of MaxAnswerBytes, lets one address (a benchmark on loopback) hold
	// three of the four largest answers the default budget fits, and
	// leaves the fourth's room to the other peers.
	MaxAnswerBytesPerPeer int64
	// MaxConnections bounds the connections served at once. A new
	// connection beyond it is served by closing an idle one, a connection
	// with no call in flight (one still in its handshake included): the
	// idlest of the peer that holds the most connections. When every
	// connection has a call in flight, the new one waits in the listener's
	// backlog until one closes or falls idle.
	MaxConnections int
	// MaxConnectionsPerPeer bounds the connections one peer (remote IP
	// address) holds at once: its new connection beyond it is served by
	// closing that peer's idlest, or closed at once when all of that
	// peer's connections have a call in flight. The default,
	// MaxConnections, lets one address (a benchmark on loopback) open
	// them all; another peer's connection then still gets in, by closing
	// one of the first peer's idle ones.
	MaxConnectionsPerPeer int
	// MaxCallsPerPeer bounds the calls of one peer (remote IP address)
	// admitted at once, running their handler or waiting for a slot or for
	// answer bytes, while other peers have calls admitted; a call beyond it
	// answers NucleusFull at once. A peer alone (a benchmark on loopback)
	// may have all Workers + QueueSize calls admitted. The default, Workers
	// + QueueSize/2 (rounded up), lets one peer fill every slot and half
	// the queue beside others, and leaves them the other half.
	MaxCallsPerPeer int
	// MaxStreamsPerConnection bounds the calls in progress on one
	// connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); a gRPC client
	// holds further calls until one ends, and a stream beyond it is reset
	// with REFUSED_STREAM.
	MaxStreamsPerConnection int
	// MaxRequestsInFlight bounds the requests being received across the
	// axon: the calls whose headers the axon took and whose body it has not
	// read yet (for at most RequestTimeout each). A call beyond it is refused
	// with RESOURCE_EXHAUSTED on its headers. Calls past their body are
	// bounded by Workers and QueueSize: those over them are answered
	// NucleusFull at once. (Bittensor 2.0.4's axon.maximum_concurrent_rpcs,
	// 400, bounded all calls in progress.)
	MaxRequestsInFlight int
	// HandshakeTimeout bounds the time from a connection's accept to the
	// end of its HTTP/2 handshake; the connection is closed when it passes.
	HandshakeTimeout time.Duration
	// RequestTimeout bounds the time from a call's headers to the end of
	// its body; a call whose body is not in by then ends with CANCELLED
	// before its handler runs.
	RequestTimeout time.Duration
	// WriteTimeout bounds the time from an answer's handing to gRPC to its
	// last byte written; the connection of an answer its client has not
	// read by then is closed, which frees it.
	WriteTimeout time.Duration
	// IdleTimeout is how long a connection without calls, one that never
	// made a call included, is kept: it is then closed with GOAWAY, and a
	// gRPC client reconnects on its next call. Idle connections are also
	// the ones closed to make room at MaxConnections.
	IdleTimeout time.Duration
	// MaxClockSkew is how far from the axon's clock a call's nonce may be,
	// ahead or behind; a call outside is refused with UNAUTHENTICATED.
	MaxClockSkew time.Duration
	// Compression is the gRPC compression of the axon's answers, as
	// Bittensor's axon.compression: "" (none, the default), wire.Gzip or
	// wire.Deflate; an answer goes out uncompressed to a client that does
	// not accept it. Requests are read in any of them whatever this is.
	Compression string
}

// withDefaults checks c and returns it with zero fields set to the defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Wallet == nil {
		errs = append(errs, errors.New("axon: Config.Wallet: nil; want a hotkey"))
	}
	errs = append(errs, configcheck.Negative("axon",
		configcheck.Of[time.Duration]("ForwardTimeout", c.ForwardTimeout, DefaultForwardTimeout),
		configcheck.Of[time.Duration]("HandshakeTimeout", c.HandshakeTimeout, DefaultHandshakeTimeout),
		configcheck.Of[time.Duration]("RequestTimeout", c.RequestTimeout, DefaultRequestTimeout),
		configcheck.Of[time.Duration]("WriteTimeout", c.WriteTimeout, DefaultWriteTimeout),
		configcheck.Of[time.Duration]("IdleTimeout", c.IdleTimeout, DefaultIdleTimeout),
		configcheck.Of[time.Duration]("MaxClockSkew", c.MaxClockSkew, DefaultMaxClockSkew),
	)...)
	errs = append(errs, configcheck.Negative("axon",
		configcheck.Of[int64]("Workers", int64(c.Workers), DefaultWorkers),
		configcheck.Of[int64]("QueueSize", int64(c.QueueSize), DefaultQueueSize),
		configcheck.Of[int64]("MaxMessageSize", int64(c.MaxMessageSize), DefaultMaxMessageSize),
		configcheck.Of[int64]("MaxAnswerBytes", c.MaxAnswerBytes, 4*int64(cmp.Or(c.MaxMessageSize, DefaultMaxMessageSize))),
		configcheck.Of[int64]("MaxConnections", int64(c.MaxConnections), DefaultMaxConnections),
		configcheck.Of[int64]("MaxStreamsPerConnection", int64(c.MaxStreamsPerConnection), DefaultMaxStreamsPerConnection),
		configcheck.Of[int64]("MaxRequestsInFlight", int64(c.MaxRequestsInFlight), DefaultMaxRequestsInFlight),
	)...)
	if err := wire.CheckCompression("axon: Config.Compression", c.Compression); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	configcheck.SetDefault(&c.ForwardTimeout, DefaultForwardTimeout)
	configcheck.SetDefault(&c.Workers, DefaultWorkers)
	configcheck.SetDefault(&c.QueueSize, DefaultQueueSize)
	configcheck.SetDefault(&c.MaxMessageSize, DefaultMaxMessageSize)
	configcheck.SetDefault(&c.MaxAnswerBytes, 4*int64(c.MaxMessageSize))
	configcheck.SetDefault(&c.MaxConnections, DefaultMaxConnections)
	configcheck.SetDefault(&c.MaxStreamsPerConnection, DefaultMaxStreamsPerConnection)
	configcheck.SetDefault(&c.MaxRequestsInFlight, DefaultMaxRequestsInFlight)
	configcheck.SetDefault(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	configcheck.SetDefault(&c.RequestTimeout, DefaultRequestTimeout)
	configcheck.SetDefault(&c.WriteTimeout, DefaultWriteTimeout)
	configcheck.SetDefault(&c.IdleTimeout, DefaultIdleTimeout)
	configcheck.SetDefault(&c.MaxClockSkew, DefaultMaxClockSkew)
	err := c.setPerPeer()
	return c, err
}

// setPerPeer checks c's per-peer bounds against the totals, which are set,
// and sets the zero ones to their defaults.
func (c *Config) setPerPeer() error {
	var errs []error
	perPeer := func(name string, v *int64, deflt, most int64, mostName string) {
		switch {
		case *v < 0 || *v > most:
			errs = append(errs, fmt.Errorf("axon: Config.%s: %d; want 0 (default %d) to %s (%d)", name, *v, deflt, mostName, most))
		case *v == 0:
			*v = max(deflt, 1)
		}
	}
	conns, calls := int64(c.MaxConnectionsPerPeer), int64(c.MaxCallsPerPeer)
	slots := int64(c.Workers + c.QueueSize)
	perPeer("MaxConnectionsPerPeer", &conns, int64(c.MaxConnections), int64(c.MaxConnections), "MaxConnections")
	perPeer("MaxCallsPerPeer", &calls, int64(c.Workers+(c.QueueSize+1)/2), slots, "Workers + QueueSize")
	perPeer("MaxAnswerBytesPerPeer", &c.MaxAnswerBytesPerPeer, c.MaxAnswerBytes/4*3, c.MaxAnswerBytes, "MaxAnswerBytes")
	c.MaxConnectionsPerPeer, c.MaxCallsPerPeer = int(conns), int(calls)
	return errors.Join(errs...)
}

// Limits of what a valid request can need, beyond which gRPC refuses a call
// before reading it.
const (
	// maxHeaderListSize bounds a call's headers (HTTP/2
	// SETTINGS_MAX_HEADER_LIST_SIZE, counting 32 bytes per field besides
	// its name and value): a real call's are about 1 KB, and the signature
	// is at most auth.MaxSignatureLen bytes.
	maxHeaderListSize = 8 << 10
	// requestOverhead bounds the bytes of a forward request besides its
	// int64 token ids: the message's and the tensor's fields and the
	// msgpack header (about 150 bytes), with room to spare.
	requestOverhead = 1 << 10
)

// maxRequestSize is the largest forward request whose answer fits in
// maxMessageSize: maxTokens int64 token ids and requestOverhead.
func maxRequestSize(maxMessageSize int) int {
	return int(maxTokens(maxMessageSize))*8 + requestOverhead
}

// maxTokens is the largest batch × seq whose answer, [batch, seq,
// wire.NetworkDim] float32 and answerOverhead, fits in maxMessageSize.
func maxTokens(maxMessageSize int) int64 {
	return max((int64(maxMessageSize)-answerOverhead)/(wire.NetworkDim*4), 0)
}

// answerOverhead bounds the bytes of a forward answer besides its float32
// data: the message's fields, the tensor's and the msgpack header (about 140
// bytes), with room to spare.
const answerOverhead = 1 << 10

var _ wire.BittensorServer = (*Axon)(nil)
