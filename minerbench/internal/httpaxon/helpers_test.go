package httpaxon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// Dummy is the subnet template's synapse: dummy_input required, no hash
// fields.
type Dummy struct {
	DummyInput  int  `json:"dummy_input" synapse:"required"`
	DummyOutput *int `json:"dummy_output"`
}

// Echo has one string hash field, answered upper-cased.
type Echo struct {
	Text string `json:"text" synapse:"required,hash"`
}

func dummy(_ context.Context, s *Dummy) error {
	out := 2 * s.DummyInput
	s.DummyOutput = &out
	return nil
}

func echo(_ context.Context, s *Echo) error {
	s.Text = strings.ToUpper(s.Text)
	return nil
}

// must returns s, panicking on err: the test's synapse types are valid.
func must(s Synapse, err error) Synapse {
	if err != nil {
		panic(err)
	}
	return s
}

// server is an axon serving on a loopback port until the test ends.
type server struct {
	axon *Axon
	addr string
	key  *wallet.Keypair
}

// serve starts an axon answering Dummy and Echo with cfg's limits.
func serve(t testing.TB, cfg Config) *server {
	t.Helper()
	if cfg.Wallet == nil {
		cfg.Wallet = wallet.Mock("axon")
	}
	if cfg.Synapses == nil {
		cfg.Synapses = []Synapse{must(Handle(dummy)), must(Handle(echo))}
	}
	a, err := New(cfg)
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.Serve(lis) }()
	t.Cleanup(func() {
		a.Stop()
		require.NoError(t, <-done)
	})
	return &server{axon: a, addr: lis.Addr().String(), key: cfg.Wallet}
}

// sha3hex is hashlib.sha3_256(s.encode()).hexdigest().
func sha3hex(s string) string {
	sum := sha3.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// client signs requests as one dendrite: one uuid, increasing nonces.
type client struct {
	key   *wallet.Keypair
	uuid  string
	nonce atomic.Int64
}

func newClient(name string) *client {
	c := &client{key: wallet.Mock(name), uuid: synapse.NewErrorID()}
	c.nonce.Store(time.Now().UnixNano())
	return c
}

// req is one request as a dendrite builds it.
type req struct {
	name     string
	fields   map[string]any          // the synapse's own fields
	hashes   []string                // Python str() of each hash field, in order
	inputs   map[string]synapse.Kind // required fields
	nonce    int64
	unsigned bool
	axonKey  string // the axon hotkey signed for; the server's when empty
}

// build returns the request's header block and body, signed by c.
func (c *client) build(t testing.TB, s *server, r req) (http.Header, []byte) {
	t.Helper()
	if r.nonce == 0 {
		r.nonce = c.nonce.Add(1)
	}
	axonKey := r.axonKey
	if axonKey == "" {
		axonKey = s.key.SS58()
	}
	var values [][]byte
	for _, h := range r.hashes {
		values = append(values, []byte(h))
	}
	bodyHash := string(synapse.AppendFieldsHash(nil, values...))
	host, port, _ := net.SplitHostPort(s.addr)
	h := http.Header{}
	for _, kv := range [][2]string{
		{"name", r.name}, {"timeout", "12.0"},
		{"bt_header_axon_ip", host}, {"bt_header_axon_port", port}, {"bt_header_axon_hotkey", axonKey},
		{"bt_header_dendrite_ip", "203.0.113.7"}, {"bt_header_dendrite_version", "10002000"},
		{"bt_header_dendrite_nonce", strconv.FormatInt(r.nonce, 10)}, {"bt_header_dendrite_uuid", c.uuid},
		{"bt_header_dendrite_hotkey", c.key.SS58()},
	} {
		h[kv[0]] = []string{kv[1]}
	}
	if !r.unsigned {
		msg := synapse.AppendSignedString(nil, r.nonce, c.key.SS58(), axonKey, c.uuid, bodyHash)
		sig, err := synapse.AppendSignature(nil, c.key, msg)
		require.NoError(t, err)
		h["bt_header_dendrite_signature"] = []string{string(sig)}
	}
	for f, kind := range r.inputs {
		h["bt_header_input_obj_"+f] = []string{kind.InputObj()}
	}
	h["header_size"] = []string{"464"}
	h["total_size"] = []string{"2973"}
	h["computed_body_hash"] = []string{bodyHash}
	h["Content-Type"] = []string{"application/json"}
	body := map[string]any{"name": r.name, "timeout": 12.0, "total_size": 2973, "header_size": 0, "computed_body_hash": ""}
	for k, v := range r.fields {
		body[k] = v
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	return h, b
}

// response is an answer as read off the wire.
type response struct {
	status int
	names  []string          // header names as sent, in order
	header map[string]string // exact name → value
	body   []byte
}

// do sends a request as raw bytes on a new connection and reads the raw
// answer, header names as sent.
func do(t testing.TB, addr, path string, h http.Header, body []byte) response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	return doOn(t, conn, path, h, body)
}

// doOn sends a request on conn and reads its answer.
func doOn(t testing.TB, conn net.Conn, path string, h http.Header, body []byte) response {
	t.Helper()
	_, err := conn.Write(append(head(path, len(body), h), body...))
	require.NoError(t, err)
	return readResponse(t, bufio.NewReader(conn))
}

// head returns a POST request's head, with h's first values under their
// exact names and a Content-Length of n.
func head(path string, n int, h http.Header) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: axon\r\nContent-Length: %d\r\n", path, n)
	for k, v := range h {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v[0])
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// readResponse reads one HTTP/1.1 answer with a content-length.
func readResponse(t testing.TB, br *bufio.Reader) response {
	t.Helper()
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	parts := strings.SplitN(strings.TrimSpace(line), " ", 3)
	require.Len(t, parts, 3, "status line %q", line)
	r := response{header: map[string]string{}}
	r.status, err = strconv.Atoi(parts[1])
	require.NoError(t, err)
	for {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ": ")
		r.names = append(r.names, k)
		r.header[k] = v
	}
	n, err := strconv.Atoi(r.header["Content-Length"])
	require.NoError(t, err, "Content-Length of %v", r.names)
	r.body = make([]byte, n)
	_, err = io.ReadFull(br, r.body)
	require.NoError(t, err)
	return r
}

// message returns the {"message": …} of an error answer.
func (r response) message(t testing.TB) string {
	t.Helper()
	var m struct{ Message string }
	require.NoError(t, json.Unmarshal(r.body, &m), "%s", r.body)
	return m.Message
}

// first returns the first value of the header named exactly name, as
// the map holds lowercase names.
func first(h http.Header, name string) string { return h[name][0] }
