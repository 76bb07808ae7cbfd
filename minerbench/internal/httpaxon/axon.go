// Package httpaxon is the server side of Bittensor's HTTP synapse protocol
// (bittensor 6 to 10), which a miner embeds beside or instead of the gRPC
// axon of package axon.
//
// It answers POST (and GET) /{SynapseName} as Bittensor's axon does, with
// its checks in the same order and the same status codes, messages and
// headers (see minerbench/internal/synapse for the protocol): the synapse's name
// (404), its headers (500), the miner's blacklist (403), the signature and
// nonce (401), then the body, its hash fields against the signed hash
// (500), and the handler. Unlike Bittensor's, it refuses unsigned requests
// unless told otherwise (Config.AcceptUnsigned), and it checks the
// signature before it reads the body. It bounds what a client can hold
// (connections, header and body size and time, requests in flight, unread
// answers), sharing the axon fairly among peers.
package httpaxon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/fairshare"
	"github.com/minerbench/minerbench/minerbench/internal/synapse"
)

// Axon serves Bittensor's HTTP synapse protocol for one hotkey. Create it
// with New, serve it with Serve, and release it with Stop.
type Axon struct {
	cfg       Config
	hotkey    string
	uuid      string
	routes    map[string]*Synapse
	available []string // the names served, Synapse first
	verifier  *synapse.Verifier
	server    *http.Server
	conns     *fairshare.Tracker
	admission *admission

	stopOnce sync.Once
}

// New validates cfg, fills in its defaults and returns an Axon serving its
// synapses and Synapse (ping).
func New(cfg Config) (*Axon, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Axon{
		cfg:    cfg,
		hotkey: cfg.Wallet.SS58(),
		uuid:   synapse.NewErrorID(),
		routes: map[string]*Synapse{PingName: ping()},
	}
	if a.conns, err = fairshare.NewTracker(cfg.MaxConnections, cfg.MaxConnections); err != nil {
		return nil, err
	}
	if a.admission, err = newAdmission(cfg); err != nil {
		return nil, err
	}
	a.verifier = synapse.NewVerifier(a.hotkey, synapse.NewNonces(synapse.DefaultNonceCapacity))
	a.available = []string{PingName}
	for i := range cfg.Synapses {
		s := &cfg.Synapses[i]
		a.routes[s.Name] = s
		a.available = append(a.available, s.Name)
	}
	a.server = &http.Server{
		Handler:           a,
		ReadHeaderTimeout: cfg.HeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ConnContext:       connContext,
		ErrorLog:          discardLog,
	}
	return a, nil
}

// Hotkey returns the SS58 address the axon answers as.
func (a *Axon) Hotkey() string { return a.hotkey }

// Serve accepts connections on lis until Stop; it returns nil after Stop.
func (a *Axon) Serve(lis net.Listener) error {
	err := a.server.Serve(a.conns.Listen(lis))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Stop stops accepting connections, waits for the calls in progress to be
// answered (at most ForwardTimeout and WriteTimeout), then closes every
// connection.
func (a *Axon) Stop() {
	a.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ForwardTimeout+a.cfg.WriteTimeout)
		defer cancel()
		if a.server.Shutdown(ctx) != nil {
			a.server.Close()
		}
	})
}

// ServeHTTP answers one request through Bittensor's axon pipeline.
func (a *Axon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer beginCall(r)()
	name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	syn, ok := a.routes[name]
	if !ok {
		a.refuseBlank(w, start, http.StatusNotFound, synapse.NotFoundMessage(name, a.available))
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		a.refuseBlank(w, start, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if !a.admission.enterRequest() {
		a.refuseBlank(w, start, http.StatusServiceUnavailable, fmt.Sprintf("Service unavailable: %d requests being received, the most the axon takes", a.cfg.MaxRequestsInFlight))
		return
	}
	req, err := synapse.ParseRequest(r.Header, syn.Fields)
	if err != nil {
		a.admission.exitRequest()
		a.refuseBlank(w, start, http.StatusInternalServerError, internalError())
		return
	}
	h := &Header{Name: name, Request: req}
	ref := &refusal{a: a, w: w, r: r, h: h, syn: syn, start: start}
	if code, msg := a.check(h); code != 0 {
		a.admission.exitRequest()
		ref.send(code, msg)
		return
	}
	body, code, msg := a.readBody(w, r)
	if code != 0 {
		ref.send(code, msg)
		return
	}
	a.answer(w, r, ref, &call{header: h, body: body, writeTimeout: a.cfg.WriteTimeout})
}

// check runs the miner's blacklist, then verify, on a request's header
// synapse; it returns the refusal's status and message, or 0.
func (a *Axon) check(h *Header) (int, string) {
	if a.cfg.Blacklist != nil {
		if black, reason := a.cfg.Blacklist(h); black {
			return http.StatusForbidden, synapse.BlacklistedMessage(reason)
		}
	}
	if err := a.verify(h); err != nil {
		return http.StatusUnauthorized, synapse.NotVerifiedMessage(err.Error())
	}
	return 0, ""
}

// verify checks h's signature and nonce as Bittensor's default_verify
// does, with the axon's own hotkey in the signed message, and records the
// nonce. A request without a signature is refused unless AcceptUnsigned
// is set: Bittensor's axon answers it.
func (a *Axon) verify(h *Header) error {
	if !a.cfg.AcceptUnsigned && (!h.Dendrite.Signature.OK || h.Dendrite.Signature.V == "") {
		return errUnsigned
	}
	return a.verifier.Verify(&h.Request, time.Now().UnixNano())
}

// errUnsigned refuses a request without a signature.
var errUnsigned = errors.New("Missing Signature: this axon refuses unsigned requests") //lint:ignore ST1005 worded as the protocol's other reasons

// internalError is Bittensor's message for an unexpected failure: a fresh
// error id, which only the axon's log could connect to its cause.
func internalError() string { return synapse.InternalErrorMessage(synapse.NewErrorID()) }
