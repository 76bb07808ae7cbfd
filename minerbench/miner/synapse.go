package miner

import (
	"context"
	"fmt"
	"strings"

	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/httpaxon"
)

// SynapseHandler answers one kind of synapse over Bittensor's HTTP synapse
// protocol (bittensor 6 to 10). Build it with Synapse or StreamSynapse.
type SynapseHandler struct {
	s   httpaxon.Synapse
	err error
}

// Name returns the synapse's name, the Go type's, as Python forces the
// class name.
func (h SynapseHandler) Name() string { return h.s.Name }

// Synapse returns the handler of the synapse named after the struct type S:
// each request is decoded into a new S, fn changes it, and the axon answers
// the whole synapse.
//
// S holds the synapse's own fields only (the base Synapse's, such as
// timeout and dendrite, are the runtime's), named by their json tags as in
// Python. Tag a field `synapse:"required"` when its Python field has no
// default, and `synapse:"hash"` when it is one of required_hash_fields, in
// the tuple's order (declaration order, as Bittensor asks):
//
//	type Echo struct {
//		Text string `json:"text" synapse:"required,hash"`
//	}
//
// A Python Optional field is a pointer, so that None is null. An error fn
// returns is answered 500 ("Internal Server Error #<id>"), a *StatusError
// its own code and message; an S implementing SynapseStatuser answers the
// status it sets with the whole synapse. An invalid S fails the miner's
// start, naming the field.
func Synapse[S any](fn func(ctx context.Context, s *S) error) SynapseHandler {
	s, err := httpaxon.Handle(fn)
	return SynapseHandler{s: s, err: err}
}

// StreamSynapse returns the handler of the streaming synapse named after
// S, as Bittensor's StreamingSynapse: the answer is a text/event-stream of
// the chunks fn writes to w, each sent as written, with status 200 and
// headers computed from the request before the stream.
func StreamSynapse[S any](fn func(ctx context.Context, s *S, w ChunkWriter) error) SynapseHandler {
	s, err := httpaxon.HandleStream(fn)
	return SynapseHandler{s: s, err: err}
}

// ChunkWriter writes a streaming synapse's answer; each Write is sent to
// the client at once.
type ChunkWriter = httpaxon.ChunkWriter

// StatusError refuses a synapse with an HTTP status and message, as a
// Bittensor forward raising a SynapseException with a status code.
type StatusError = httpaxon.StatusError

// SynapseStatus is the status a synapse struct answers with (see
// SynapseStatuser); a zero Code means 200.
type SynapseStatus = httpaxon.Status

// SynapseStatuser is implemented by a synapse struct that sets its own
// status, as a Bittensor forward setting synapse.axon.status_code.
type SynapseStatuser = httpaxon.Statuser

// SynapseHeader is a synapse request's header synapse, which a blacklist
// sees: the caller's hotkey, nonce and the like, before the signature is
// checked and the body read.
type SynapseHeader = httpaxon.Header

// SynapseServer is an optional interface of a Forwarder that also answers
// synapses over Bittensor's HTTP protocol: the runtime then serves an HTTP
// axon on axon.synapse_port beside the gRPC one, with Synapses' handlers
// and the ping synapse (Synapse) every axon answers.
type SynapseServer interface {
	// Synapses returns the handlers, one per synapse name.
	Synapses() []SynapseHandler
}

// SynapseBlacklister is an optional interface of a SynapseServer's
// Forwarder: Blacklist sees each synapse request's headers before its
// signature is checked, as Bittensor's blacklist_fn, and a true refuses it
// with 403 and reason.
type SynapseBlacklister interface {
	Blacklist(h *SynapseHeader) (blacklisted bool, reason string)
}

// synapsesOf returns the synapses fw serves, whether it is a
// SynapseServer, and the first handler's error.
func synapsesOf(fw Forwarder) ([]httpaxon.Synapse, bool, error) {
	server, ok := fw.(SynapseServer)
	if !ok {
		return nil, false, nil
	}
	var out []httpaxon.Synapse
	for i, h := range server.Synapses() {
		if h.err != nil {
			return nil, true, fmt.Errorf("synapse handler %d: %w", i, h.err)
		}
		if h.s.Name == "" {
			return nil, true, fmt.Errorf("synapse handler %d: a zero SynapseHandler; build it with miner.Synapse or miner.StreamSynapse", i)
		}
		out = append(out, h.s)
	}
	return out, true, nil
}

// parseSynapseSettings returns the HTTP synapse axon's configuration the
// axon.* settings give, but for its wallet and synapses: the limits the
// gRPC axon has, each HTTP axon with its own.
func parseSynapseSettings(s Settings, grpc axon.Config) (httpaxon.Config, error) {
	c := httpaxon.Config{
		ForwardTimeout:      grpc.ForwardTimeout,
		Workers:             grpc.Workers,
		QueueSize:           grpc.QueueSize,
		AnswerBudget:        grpc.MaxAnswerBytes,
		MaxConnections:      grpc.MaxConnections,
		MaxRequestsInFlight: grpc.MaxRequestsInFlight,
		RequestTimeout:      grpc.RequestTimeout,
		WriteTimeout:        grpc.WriteTimeout,
		IdleTimeout:         grpc.IdleTimeout,
	}
	var err error
	switch v := strings.TrimSpace(s[KeyAxonAcceptUnsigned]); v {
	case "true", "false":
		c.AcceptUnsigned = v == "true"
	default:
		return c, fmt.Errorf("setting %s=%q: want true or false", KeyAxonAcceptUnsigned, s[KeyAxonAcceptUnsigned])
	}
	body, err := s.Int(KeyAxonMaxBodyBytes, 1<<10, 1<<30)
	if err != nil {
		return c, err
	}
	c.MaxBodyBytes = int64(body)
	if c.HeaderTimeout, err = s.Duration(KeyAxonHeaderTimeout); err != nil {
		return c, err
	}
	// The gRPC budget must hold one largest tensor answer; a synapse
	// answer's own bound is a quarter of it.
	c.MaxAnswerBytes = c.AnswerBudget / 4
	return c, nil
}
