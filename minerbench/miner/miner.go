// Package miner is what a miner author imports: the Miner interface, the
// forward function's types, the settings, the tensor type and the return
// codes, and Serve, the whole of a miner's main.
//
// A miner implements Miner and calls Serve from main; nothing of gRPC or
// go-plugin is its author's to touch. Serve runs the miner as a plugin of
// the benchmark host, or, started by hand, as a standalone axon. A miner
// whose Forwarder is also a SynapseServer answers today's Bittensor HTTP
// synapses too (see Synapse), on a second axon. Package minertest tests a
// Miner in-process.
//
// It is a supported API, for miner authors.
package miner

import (
	"context"
	"log/slog"

	"github.com/minerbench/minerbench/minerbench/chain"
)

// Miner is what a miner author implements: a name, the miner's own settings
// with their defaults, and a constructor of its forward function.
//
// The runtime adds the settings every miner shares (see RuntimeDefaults)
// and does the rest: wallet, axon, listener, chain registration (which a
// Miner that also implements Registrar controls).
type Miner interface {
	// Name names the miner, as benchmark names and the history show it.
	Name() string
	// Defaults returns the miner's own settings and their defaults, such as
	// nucleus.nhid=200. Only keys listed here (or in RuntimeDefaults) can be
	// overridden.
	Defaults() Settings
	// New builds the forward function from the merged settings. ctx ends
	// when the start it belongs to does (the host's call returns or gives
	// up), so New must not keep it. log writes to the miner's log, which
	// the host keeps. If the Forwarder also implements io.Closer, the
	// runtime calls Close once when the miner stops, or when its start
	// fails after New.
	New(ctx context.Context, s Settings, log *slog.Logger) (Forwarder, error)
}

// Forwarder answers forward queries.
type Forwarder interface {
	// Forward computes the outputs of a forward text query: in is an INT64
	// tensor of shape [batch, seq] (token ids), the result a FLOAT32 tensor
	// of shape [batch, seq, NetworkDim].
	//
	// It runs on the goroutine that serves the call, for up to axon.workers
	// calls at once. ctx ends when axon.forward_timeout passes or the caller
	// goes away; Forward should then return at once: the call is answered
	// when Forward returns, Timeout if ctx has ended. An error is answered
	// UnknownException, a *CodeError its code. The axon only reads the
	// result, so Forward may return the same tensor to every call but must
	// not change a tensor it returned.
	Forward(ctx context.Context, in Tensor) (Tensor, error)
}

// ForwardFunc is a function that is a Forwarder, as http.HandlerFunc is a
// handler.
type ForwardFunc func(ctx context.Context, in Tensor) (Tensor, error)

// Forward calls f.
func (f ForwardFunc) Forward(ctx context.Context, in Tensor) (Tensor, error) { return f(ctx, in) }

// AxonInfo is what announcing an axon on the chain publishes (serve_axon):
// the hotkey, the owning coldkey, the IP, port and IP type, the modality.
type AxonInfo = chain.Axon

// Registrar is an optional interface of a Miner that controls how its axon
// is announced on the chain.
//
// Without it, the runtime announces the axon itself and fails the start if
// the announcement does. With it, the runtime calls Register once the axon
// serves (after New) in place of announcing, and fails the start if Register
// returns an error. announce is serve_axon on the chain of
// subtensor.chain_endpoint; a is what the runtime would have announced.
// Register may change a before announcing it, announce nothing, or return at
// once and announce later from a goroutine, with a context of its own: ctx
// ends as soon as the start returns. Register is not called when no chain
// is set.
type Registrar interface {
	// Register announces a, or what it makes of a, with announce, now or
	// later; an error it returns fails the start.
	Register(ctx context.Context, announce func(context.Context, AxonInfo) error, a AxonInfo) error
}
