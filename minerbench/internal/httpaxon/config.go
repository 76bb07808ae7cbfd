package httpaxon

import (
	"errors"
	"fmt"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/configcheck"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// Defaults of Config, used where a field is zero. Each limit has its
// counterpart in the gRPC axon's configuration (minerbench/internal/axon).
const (
	// DefaultForwardTimeout bounds a handler, as axon.DefaultForwardTimeout.
	DefaultForwardTimeout = 10 * time.Second
	// DefaultWorkers is the number of handlers that run at once, as
	// Bittensor's axon.max_workers.
	DefaultWorkers = 10
	// DefaultQueueSize is the number of calls that may wait for a worker.
	DefaultQueueSize = 100
	// DefaultMaxHeaderBytes bounds a request's header block: a real
	// dendrite's is about 1.2 KB.
	DefaultMaxHeaderBytes = 16 << 10
	// DefaultMaxBodyBytes bounds a request's body.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxAnswerBytes bounds one answer's body, and is the default of
	// a quarter of the answer budget.
	DefaultMaxAnswerBytes = 32 << 20
	// DefaultMaxConnections is the gRPC axon's: one connection per worker
	// of the benchmark's largest concurrency.
	DefaultMaxConnections = 1024
	// DefaultMaxRequestsInFlight bounds the requests whose body is being
	// read.
	DefaultMaxRequestsInFlight = DefaultMaxConnections
	// DefaultHeaderTimeout bounds the time a connection may take to send a
	// request's headers.
	DefaultHeaderTimeout = 10 * time.Second
	// DefaultRequestTimeout bounds the time from a request's headers to the
	// end of its body.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds the time a client may take to read an
	// answer.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a connection without requests is kept
	// while the axon has room for more.
	DefaultIdleTimeout = 5 * time.Minute
)

// Config configures an Axon. Zero values mean the defaults above.
type Config struct {
	// Wallet is the hotkey the axon answers as (required): requests must
	// be signed for it.
	Wallet *wallet.Keypair
	// Synapses are the synapses the axon serves besides Synapse (ping),
	// which every axon answers.
	Synapses []Synapse
	// Blacklist, when set, sees every request's header synapse after its
	// headers parse and before its signature is checked, as Bittensor's
	// blacklist_fn: true refuses it with 403 and the reason.
	Blacklist func(h *Header) (bool, string)
	// AcceptUnsigned answers requests without a signature. Bittensor's
	// axon does (it skips verification when bt_header_dendrite_signature
	// is missing or empty), so anyone can then call as any hotkey; the
	// default refuses them with 401. Set it only to serve clients that do
	// not sign.
	AcceptUnsigned bool
	// ForwardTimeout bounds the time from a request's body being read to
	// its handler's answer, the wait for a worker included: the handler's
	// context ends when it passes, and a call not answered by then is
	// answered 408.
	ForwardTimeout time.Duration
	// Workers is the number of handlers that may run at once.
	Workers int
	// QueueSize is how many calls may wait for a worker or for room in the
	// answer budget; a call finding QueueSize calls waiting is answered
	// 503 at once.
	QueueSize int
	// MaxHeaderBytes bounds a request's header block; a larger one is
	// answered 431 and its connection closed.
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request's body. A request announcing a larger
	// Content-Length is refused with 413 before its body is read; a chunked
	// one is cut at the limit and answered 413.
	MaxBodyBytes int64
	// MaxAnswerBytes bounds one answer's body: a larger one is answered 500.
	MaxAnswerBytes int64
	// AnswerBudget is the budget of answer bytes being written across the
	// axon; the default is 4 × MaxAnswerBytes. An answer of at most 64 KiB
	// takes nothing from it, so a small query never waits behind large
	// ones. A larger answer waits for room on its worker, which at most
	// half the workers do for one peer; a further answer of that peer is
	// refused with 503.
	AnswerBudget int64
	// MaxAnswerBytesPerPeer bounds the share of AnswerBudget one peer
	// (remote IP address) holds, so that a peer that does not read its
	// answers holds at most this much until WriteTimeout. The default is
	// three quarters of AnswerBudget, and at least MaxAnswerBytes.
	MaxAnswerBytesPerPeer int64
	// MaxCallsPerPeer bounds the calls of one peer admitted at once,
	// running or waiting for a worker; one beyond it is answered 503. The
	// default, Workers + QueueSize/2, lets one peer use every worker and
	// leaves half the queue to the others.
	MaxCallsPerPeer int
	// MaxConnections bounds the connections served at once. When it is
	// reached, a connection without a request in progress (one still
	// sending its headers included) is closed to make room: the idlest of
	// the peer holding the most connections. When every connection has a
	// request in progress, a new one waits until one ends.
	MaxConnections int
	// MaxRequestsInFlight bounds the requests whose body is being read
	// across the axon; one beyond it is answered 503 on its headers.
	MaxRequestsInFlight int
	// HeaderTimeout bounds the time a request's headers take: from a new
	// connection's accept, or from the first bytes of a kept-alive
	// connection's next request, to their end; the connection is closed
	// when it passes.
	HeaderTimeout time.Duration
	// RequestTimeout bounds the time from a request's headers to the end of
	// its body; a body not in by then ends the connection.
	RequestTimeout time.Duration
	// WriteTimeout bounds the time an answer may take to be written; the
	// connection of a client that has not read it by then is closed.
	WriteTimeout time.Duration
	// IdleTimeout is how long a connection without requests is kept; when
	// the axon has no room for a new connection, an idle one is closed
	// sooner (see MaxConnections).
	IdleTimeout time.Duration
}

// withDefaults checks c and returns it with zero fields set to the defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Wallet == nil {
		errs = append(errs, errors.New("httpaxon: Config.Wallet: nil; want a hotkey"))
	}
	errs = append(errs, configcheck.Negative("httpaxon",
		configcheck.Of[time.Duration]("ForwardTimeout", c.ForwardTimeout, DefaultForwardTimeout),
		configcheck.Of[time.Duration]("HeaderTimeout", c.HeaderTimeout, DefaultHeaderTimeout),
		configcheck.Of[time.Duration]("RequestTimeout", c.RequestTimeout, DefaultRequestTimeout),
		configcheck.Of[time.Duration]("WriteTimeout", c.WriteTimeout, DefaultWriteTimeout),
		configcheck.Of[time.Duration]("IdleTimeout", c.IdleTimeout, DefaultIdleTimeout),
	)...)
	errs = append(errs, configcheck.Negative("httpaxon",
		configcheck.Of[int64]("Workers", int64(c.Workers), DefaultWorkers),
		configcheck.Of[int64]("QueueSize", int64(c.QueueSize), DefaultQueueSize),
		configcheck.Of[int64]("MaxHeaderBytes", int64(c.MaxHeaderBytes), DefaultMaxHeaderBytes),
		configcheck.Of[int64]("MaxBodyBytes", c.MaxBodyBytes, DefaultMaxBodyBytes),
		configcheck.Of[int64]("MaxAnswerBytes", c.MaxAnswerBytes, DefaultMaxAnswerBytes),
		configcheck.Of[int64]("AnswerBudget", c.AnswerBudget, 4*DefaultMaxAnswerBytes),
		configcheck.Of[int64]("MaxAnswerBytesPerPeer", c.MaxAnswerBytesPerPeer, 3*DefaultMaxAnswerBytes),
		configcheck.Of[int64]("MaxCallsPerPeer", int64(c.MaxCallsPerPeer), DefaultWorkers+DefaultQueueSize/2),
		configcheck.Of[int64]("MaxConnections", int64(c.MaxConnections), DefaultMaxConnections),
		configcheck.Of[int64]("MaxRequestsInFlight", int64(c.MaxRequestsInFlight), DefaultMaxRequestsInFlight),
	)...)
	seen := map[string]bool{PingName: true}
	for i, s := range c.Synapses {
		switch {
		case s.Name == "" || s.serve == nil:
			errs = append(errs, fmt.Errorf("httpaxon: Config.Synapses[%d]: name %q without a handler; build it with Handle or HandleStream", i, s.Name))
		case seen[s.Name]:
			errs = append(errs, fmt.Errorf("httpaxon: Config.Synapses[%d]: name %q served twice; want one handler per name (%s is built in)", i, s.Name, PingName))
		}
		seen[s.Name] = true
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	configcheck.SetDefault(&c.ForwardTimeout, DefaultForwardTimeout)
	configcheck.SetDefault(&c.Workers, DefaultWorkers)
	configcheck.SetDefault(&c.QueueSize, DefaultQueueSize)
	configcheck.SetDefault(&c.MaxHeaderBytes, DefaultMaxHeaderBytes)
	configcheck.SetDefault(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	configcheck.SetDefault(&c.MaxAnswerBytes, DefaultMaxAnswerBytes)
	configcheck.SetDefault(&c.AnswerBudget, 4*c.MaxAnswerBytes)
	configcheck.SetDefault(&c.MaxAnswerBytesPerPeer, max(c.AnswerBudget/4*3, c.MaxAnswerBytes))
	configcheck.SetDefault(&c.MaxCallsPerPeer, c.Workers+c.QueueSize/2)
	switch {
	case c.MaxAnswerBytesPerPeer > c.AnswerBudget || c.MaxAnswerBytesPerPeer < c.MaxAnswerBytes:
		return c, fmt.Errorf("httpaxon: Config.MaxAnswerBytesPerPeer: %d; want MaxAnswerBytes (%d) to AnswerBudget (%d)", c.MaxAnswerBytesPerPeer, c.MaxAnswerBytes, c.AnswerBudget)
	case c.MaxCallsPerPeer > c.Workers+c.QueueSize:
		return c, fmt.Errorf("httpaxon: Config.MaxCallsPerPeer: %d; want at most Workers + QueueSize (%d)", c.MaxCallsPerPeer, c.Workers+c.QueueSize)
	}
	configcheck.SetDefault(&c.MaxConnections, DefaultMaxConnections)
	configcheck.SetDefault(&c.MaxRequestsInFlight, DefaultMaxRequestsInFlight)
	configcheck.SetDefault(&c.HeaderTimeout, DefaultHeaderTimeout)
	configcheck.SetDefault(&c.RequestTimeout, DefaultRequestTimeout)
	configcheck.SetDefault(&c.WriteTimeout, DefaultWriteTimeout)
	configcheck.SetDefault(&c.IdleTimeout, DefaultIdleTimeout)
	return c, nil
}
