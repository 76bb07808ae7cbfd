// Package httpdendrite is a client of Bittensor's HTTP synapse protocol
// (bittensor 6 to 10.2): it sends what a real Python dendrite sends, signed
// with a validator's hotkey, and records each query's outcome as that
// dendrite records it, with its latency and, for streaming synapses, the
// time to the first byte and to the last chunk. The protocol is described
// in minerbench/internal/synapse/README.md.
//
// A Client is meant for one load-generating worker: it holds one dendrite
// uuid, whose nonces must arrive in order, and buffers it reuses, so that a
// query allocates little beyond what net/http itself does. The request's
// fixed parts are laid out once; a query changes only the nonce and the
// signature.
package httpdendrite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// DefaultTimeout is a Python dendrite's default timeout.
const DefaultTimeout = 12 * time.Second

// Config describes the queries of a Client.
type Config struct {
	// URL is the axon's address, http://host:port.
	URL string
	// AxonHotkey is the axon's SS58 hotkey, which the signature covers.
	AxonHotkey string
	// Synapse is the synapse's class name, the route queried.
	Synapse string
	// Body is a JSON object of the synapse's own fields, e.g.
	// {"text": "hello"}; write float values with a point (1.0), as the
	// axon's pydantic model holds them.
	Body []byte
	// HashFields are the synapse's required_hash_fields, in order.
	HashFields []string
	// Required names the fields without a default, for which the request
	// carries a bt_header_input_obj_ header and which a 200 answer must
	// hold; nil means every field of Body that is not null. Each must be
	// in Body.
	Required []string
	// Key is the validator's hotkey, which signs every request.
	Key *wallet.Keypair
	// Timeout bounds each query: connecting, sending and reading the whole
	// answer. 0 means DefaultTimeout. It is also the synapse's timeout
	// header, which widens the axon's nonce window.
	Timeout time.Duration
	// TimedByCaller says the caller cuts each query at Timeout by
	// cancelling its ctx, as a load generator's own timer does, so that
	// Query arms no timer of its own.
	TimedByCaller bool
	// Streaming reads the answer of a streaming synapse as it arrives and
	// measures its chunks.
	Streaming bool
	// DendriteIP is the bt_header_dendrite_ip value; "" means the local
	// address that routes to the axon.
	DendriteIP string
	// Transport carries the requests; nil means one NewTransport shared
	// by every Client made with nil.
	Transport http.RoundTripper
}

// Client queries one axon with one synapse. It is not safe for concurrent
// use: give each worker its own, so that each has its own uuid.
type Client struct {
	rt       http.RoundTripper
	id       identity // the two ends, as the template writes them
	bodyHash string
	timeout  time.Duration
	// timedByCaller: the caller's ctx ends a query at timeout.
	timedByCaller bool
	streaming     bool
	required      []string // fields a 200 answer must hold
	base          *http.Request
	tmpl          *template

	calls     []*call
	lastNonce int64
	msg, sig  []byte
	buf       []byte   // the answer's body
	vals      [][]byte // FieldValues results

	// clock and sign are the nonce's clock and the signer, replaced in tests.
	clock func() int64
	sign  func(dst, msg []byte) ([]byte, error)
}

// defaultTransport is the Transport of Clients made without one.
var defaultTransport = sync.OnceValue(NewTransport)

// NewTransport returns a Transport tuned for load: keep-alive with many
// idle connections per host, no compression, no proxy, HTTP/1.1. Idle
// connections close after 4 s, before uvicorn's 5 s keep-alive limit
// closes them under a request.
func NewTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     4 * time.Second,
		DisableCompression:  true,
	}
}

// New returns a Client for cfg, with a fresh uuid1-style dendrite uuid.
func New(cfg Config) (*Client, error) {
	return newClient(cfg, newUUID1(time.Now()))
}

func newClient(cfg Config, uuid string) (*Client, error) {
	if cfg.Key == nil {
		return nil, fmt.Errorf("httpdendrite: Key is nil; want the validator's hotkey")
	}
	if cfg.Synapse == "" {
		return nil, fmt.Errorf("httpdendrite: Synapse is empty; want the synapse's class name, e.g. Echo")
	}
	if _, _, err := wallet.DecodeSS58(cfg.AxonHotkey); err != nil {
		return nil, fmt.Errorf("httpdendrite: AxonHotkey: %w", err)
	}
	u, host, port, err := parseURL(cfg.URL, cfg.Synapse)
	if err != nil {
		return nil, err
	}
	fields, err := members(cfg.Body)
	if err != nil {
		return nil, err
	}
	required := cfg.Required
	if required == nil {
		for _, m := range fields {
			if string(m.value) != "null" {
				required = append(required, m.name)
			}
		}
	}
	for _, name := range required {
		if !slices.ContainsFunc(fields, func(m member) bool { return m.name == name }) {
			return nil, fmt.Errorf("httpdendrite: Required field %q is not in Body; want each required field's value in Body", name)
		}
	}
	bodyHash, err := synapse.AppendBodyHash(nil, cfg.Body, cfg.HashFields)
	if err != nil {
		return nil, fmt.Errorf("httpdendrite: Body: %w", err)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if timeout < 0 {
		return nil, fmt.Errorf("httpdendrite: Timeout %v is negative; want a positive duration, or 0 for %v", timeout, DefaultTimeout)
	}
	dendriteIP := cfg.DendriteIP
	if dendriteIP == "" {
		dendriteIP = localIP(host, port)
	}
	id := identity{name: cfg.Synapse, axonIP: host, axonPort: port, axonHotkey: cfg.AxonHotkey,
		dendriteIP: dendriteIP, dendriteHotkey: cfg.Key.SS58(), uuid: uuid, timeout: timeout.Seconds()}
	tmpl, err := newTemplate(id, fields, required, string(bodyHash))
	if err != nil {
		return nil, err
	}
	rt := cfg.Transport
	if rt == nil {
		rt = defaultTransport()
	}
	key := cfg.Key
	return &Client{
		rt: rt, id: id, bodyHash: string(bodyHash), timeout: timeout, timedByCaller: cfg.TimedByCaller, streaming: cfg.Streaming, required: required,
		base:  &http.Request{Method: http.MethodPost, URL: u, Host: u.Host, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1},
		tmpl:  tmpl,
		clock: func() int64 { return time.Now().UnixNano() },
		sign:  func(dst, msg []byte) ([]byte, error) { return synapse.AppendSignature(dst, key, msg) },
	}, nil
}

// parseURL checks an axon URL and returns the synapse's URL, the host
// (an IPv6 address without brackets, as bittensor writes it) and port.
func parseURL(raw, name string) (*url.URL, string, int, error) {
	const want = "want http://host:port, e.g. http://127.0.0.1:8091"
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", 0, fmt.Errorf("httpdendrite: URL %q: %v; %s", raw, err, want)
	}
	if u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, "", 0, fmt.Errorf("httpdendrite: URL %q: %s (the synapse protocol has no TLS and no path prefix)", raw, want)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port < 1 || port > 65535 {
		return nil, "", 0, fmt.Errorf("httpdendrite: URL %q has no valid port; %s", raw, want)
	}
	route := *u
	route.Path, route.RawPath = "/"+name, ""
	return &route, u.Hostname(), port, nil
}

// localIP returns the local address the system would use to reach
// host:port (a UDP "connection" sends nothing), or 127.0.0.1.
func localIP(host string, port int) string {
	conn, err := net.Dial("udp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return "127.0.0.1"
	}
	defer conn.Close()
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		return a.IP.String()
	}
	return "127.0.0.1"
}

// UUID returns the client's dendrite uuid.
func (c *Client) UUID() string { return c.id.uuid }

// maxCalls bounds the calls a Client keeps for reuse.
const maxCalls = 8

// call is one request in flight: its body and header map, which the
// Transport may read until it has written the request, so a Client reuses
// a call only once that has happened.
//
// The body is a *bytes.Reader behind io.NopCloser, a reader net/http knows
// to be in memory: it then writes the headers and the body in one write,
// one TCP segment, as it does for a plain client. With a reader of another
// type it flushes the headers first, which costs a second write per
// query. The end of the write is told by the trace's WroteRequest.
type call struct {
	req    *http.Request
	body   []byte
	rd     bytes.Reader
	trace  *httptrace.ClientTrace // marks the call free once the request is written
	busy   atomic.Bool
	nonce  []string // the header map's nonce value
	sigVal []string // the header map's signature value
}

// freeCall returns a call the Transport no longer reads, making one if
// every call is still in use (rare: an answer that came before the whole
// request was sent).
func (c *Client) freeCall() *call {
	for _, cl := range c.calls {
		if !cl.busy.Load() {
			return cl
		}
	}
	cl := &call{nonce: []string{""}, sigVal: []string{""}}
	cl.trace = &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { cl.busy.Store(false) }}
	h := make(http.Header, len(c.tmpl.header)+2)
	for k, v := range c.tmpl.header {
		h[k] = v
	}
	h[synapse.HeaderDendriteNonce] = cl.nonce
	h[synapse.HeaderDendriteSig] = cl.sigVal
	req := *c.base
	req.Header = h
	req.Body = io.NopCloser(&cl.rd)
	cl.req = &req
	if len(c.calls) < maxCalls {
		c.calls = append(c.calls, cl)
	}
	return cl
}

// fill lays out the call's body for a nonce and signature and points the
// nonce and signature headers at their bytes in it.
func (cl *call) fill(t *template, nonce int64, sig []byte) {
	b := append(cl.body[:0], t.prefix...)
	n0 := len(b)
	b = strconv.AppendInt(b, nonce, 10)
	n1 := len(b)
	b = append(b, t.mid...)
	s0 := len(b)
	b = append(b, sig...)
	s1 := len(b)
	b = append(b, t.suffix...)
	cl.body = b
	cl.rd.Reset(b)
	cl.req.ContentLength = int64(len(b))
	// The header values alias the body, which stays unchanged until the
	// Transport has written the request.
	cl.nonce[0] = unsafe.String(&b[n0], n1-n0)
	cl.sigVal[0] = unsafe.String(&b[s0], s1-s0)
}

// nextNonce returns the clock in nanoseconds, made strictly greater than
// the last nonce.
func (c *Client) nextNonce() int64 {
	n := c.clock()
	if n <= c.lastNonce {
		n = c.lastNonce + 1
	}
	c.lastNonce = n
	return n
}

// Query sends one request and returns its outcome. Cancelling ctx ends the
// query with Code 0; the Client's timeout ends it with 408, as a Python
// dendrite's does.
func (c *Client) Query(ctx context.Context) Result {
	start := time.Now()
	cl := c.freeCall()
	nonce := c.nextNonce()
	c.msg = synapse.AppendSignedString(c.msg[:0], nonce, c.id.dendriteHotkey, c.id.axonHotkey, c.id.uuid, c.bodyHash)
	sig, err := c.sign(c.sig[:0], c.msg)
	if err != nil {
		return Result{Code: synapse.StatusParseFailure, Message: synapse.ParseFailureMessage(err.Error()), Latency: time.Since(start)}
	}
	c.sig = sig
	cl.fill(c.tmpl, nonce, sig)
	qctx := ctx
	if !c.timedByCaller {
		var cancel context.CancelFunc
		qctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	cl.busy.Store(true)
	resp, err := c.rt.RoundTrip(cl.req.WithContext(httptrace.WithClientTrace(qctx, cl.trace)))
	if err != nil {
		return c.failed(ctx, err, start)
	}
	defer resp.Body.Close()
	r := c.read(ctx, resp, start)
	r.Latency = time.Since(start)
	return r
}
