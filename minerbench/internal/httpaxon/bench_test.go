package httpaxon

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// BenchmarkDummy compares, over loopback, the axon answering Dummy with a
// plain net/http handler that does the one thing no axon can skip: verify
// one sr25519 signature per request. Both get the same pre-signed
// requests, one after another on one keep-alive connection; the ratio of
// their ns/op is the axon's cost over that floor.
func BenchmarkDummy(b *testing.B) {
	b.Run("axon", func(b *testing.B) {
		s := serve(b, Config{})
		benchDummy(b, s)
	})
	b.Run("plain", func(b *testing.B) {
		key := wallet.Mock("axon")
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(b, err)
		srv := &http.Server{Handler: plainHandler(key.SS58())}
		go func() { _ = srv.Serve(lis) }()
		b.Cleanup(func() { srv.Close() })
		benchDummy(b, &server{addr: lis.Addr().String(), key: key})
	})
}

// BenchmarkServeDummy makes the same comparison in process, without the
// network: each handler's ServeHTTP is called on a request net/http would
// have parsed, so that the ratio is that of the handlers' own work, with
// less of a busy machine's noise.
func BenchmarkServeDummy(b *testing.B) {
	key := wallet.Mock("axon")
	a, err := New(Config{Wallet: key, Synapses: []Synapse{must(Handle(dummy))}})
	require.NoError(b, err)
	b.Run("axon", func(b *testing.B) { benchServe(b, a, key) })
	b.Run("plain", func(b *testing.B) { benchServe(b, plainHandler(key.SS58()), key) })
}

// benchServe calls h.ServeHTTP with b.N signed Dummy requests, signed
// before the timer starts.
func benchServe(b *testing.B, h http.Handler, key *wallet.Keypair) {
	s := &server{addr: "127.0.0.1:8091", key: key}
	c := newClient("bench")
	reqs := make([]*http.Request, b.N)
	bodies := make([]*bytes.Reader, b.N)
	for i := range reqs {
		hdr, body := c.build(b, s, req{name: "Dummy", fields: map[string]any{"dummy_input": 1}, inputs: map[string]synapse.Kind{"dummy_input": synapse.KindInt}})
		bodies[i] = bytes.NewReader(body)
		r, err := http.NewRequest(http.MethodPost, "http://"+s.addr+"/Dummy", bodies[i])
		require.NoError(b, err)
		r.RemoteAddr = "127.0.0.1:40000"
		for k, v := range hdr { // as net/http's parser keys them
			r.Header[http.CanonicalHeaderKey(k)] = v
		}
		reqs[i] = r
	}
	w := &discardWriter{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		w.code, w.h = 0, http.Header{}
		h.ServeHTTP(w, reqs[i])
		if w.code != 0 && w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

// discardWriter is a ResponseWriter that keeps the status and drops the
// body.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// plainHandler verifies a request's signature over the signed string of
// its headers, reads its body, and answers a fixed small JSON.
func plainHandler(axonHotkey string) http.HandlerFunc {
	answer := []byte(`{"dummy_output":2}`)
	return func(w http.ResponseWriter, r *http.Request) {
		hotkey := r.Header.Get(synapse.HeaderDendriteHotkey)
		key, err := wallet.ParsePublicKey(hotkey)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var buf [320]byte
		msg := append(buf[:0], r.Header.Get(synapse.HeaderDendriteNonce)...)
		msg = append(append(msg, '.'), hotkey...)
		msg = append(append(msg, '.'), axonHotkey...)
		msg = append(append(msg, '.'), r.Header.Get(synapse.HeaderDendriteUUID)...)
		msg = append(append(msg, '.'), r.Header.Get(synapse.HeaderBodyHash)...)
		if ok, err := synapse.VerifySignature(key, msg, r.Header.Get(synapse.HeaderDendriteSig)); !ok || err != nil {
			http.Error(w, "signature", http.StatusUnauthorized)
			return
		}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	}
}

// benchDummy sends b.N signed Dummy requests to s, signed and written out
// before the timer starts, and reads the answers with a minimal client, so
// that the client's own cost is small beside the server's.
func benchDummy(b *testing.B, s *server) {
	c := newClient("bench")
	reqs := make([][]byte, b.N)
	for i := range reqs {
		h, body := c.build(b, s, req{name: "Dummy", fields: map[string]any{"dummy_input": 1}, inputs: map[string]synapse.Kind{"dummy_input": synapse.KindInt}})
		reqs[i] = append(head("/Dummy", len(body), h), body...)
	}
	conn, err := net.Dial("tcp", s.addr)
	require.NoError(b, err)
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 16<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := conn.Write(reqs[i]); err != nil {
			b.Fatal(err)
		}
		if err := readOK(br); err != nil {
			b.Fatal(err)
		}
	}
}

// readOK reads one answer and fails unless it is 200 with a
// Content-Length.
func readOK(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("status line %q", line)
	}
	n := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(": ")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		return fmt.Errorf("no Content-Length")
	}
	_, err = br.Discard(n)
	return err
}
