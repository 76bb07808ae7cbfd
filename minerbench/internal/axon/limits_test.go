package axon

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/minerbench/minerbench/minerbench/internal/auth"
	"github.com/minerbench/minerbench/minerbench/internal/heaptest"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// The attacks below run in-process, bounded in count and time. Each takes
// the live heap before the attack, asserts a ceiling on its growth while the
// attack holds what it can, has a good query answered during the attack and
// after it, and asserts that the live heap comes back to within
// heaptest.Slack of where it was once the attack is over.

// goodQuery sends a signed forward query of one token, as a well-behaved
// client does, and requires it answered Success.
func goodQuery(t *testing.T, c wire.BittensorClient) {
	t.Helper()
	resp, err := c.Forward(signed(t, newSigner(t, "good")), textRequest(t, tokens(1, 1)))
	require.NoError(t, err)
	require.Equal(t, wire.ReturnCode_Success, resp.ReturnCode, resp.Message)
}

// shareZeros returns a handler answering views of one prebuilt zero buffer
// of up to batch × seq tokens, as the noop miner does, so that the only
// answer bytes allocated per call are the axon's.
func shareZeros(batch, seq int64) ForwardFunc {
	data := make([]float32, batch*seq*wire.NetworkDim)
	return func(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		n := in.Shape[0] * in.Shape[1] * wire.NetworkDim
		return tensor.FromFloat32([]int64{in.Shape[0], in.Shape[1], wire.NetworkDim}, data[:n]), nil
	}
}

// TestUnreadAnswersBounded sends, over connections that grant the server no
// flow-control window (SETTINGS_INITIAL_WINDOW_SIZE 0) and never read, 12
// signed requests whose answers are 4 MiB each: unbounded, the axon would
// hold all 48 MiB until the clients left. With a budget of two answers, two
// are built and the others wait; a good query sent meanwhile is answered
// once WriteTimeout has closed the connections that did not read, which
// gives the budget back.
func TestUnreadAnswersBounded(t *testing.T) {
	const (
		conns, streams = 2, 6 // per attacker
		batch, seq     = 4, 256
		answer         = batch*seq*wire.NetworkDim*4 + answerOverhead
		budget         = 2 * answer
	)
	s := serve(t, Config{
		Workers: 4, QueueSize: 64, ForwardTimeout: time.Minute,
		MaxAnswerBytes: budget, MaxAnswerBytesPerPeer: budget, WriteTimeout: 2 * time.Second,
	}, shareZeros(batch, seq))
	good := client(t, s.addr)
	goodQuery(t, good)
	base := heaptest.Live()

	kv, err := newSigner(t, "attacker").Pairs(time.Now().UnixMilli(), wire.RequestType_FORWARD)
	require.NoError(t, err)
	req := request(t, batch, seq)
	var attackers []*h2
	for range conns {
		c := dialH2(t, s.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
		for range streams {
			c.send(c.call(kv...), req, 0)
		}
		attackers = append(attackers, c)
	}
	require.Eventually(t, func() bool { return s.axon.waiting.Load() == conns*streams-budget/answer }, mustHappen, poll,
		"two answers are built and held, the other calls wait for the budget")
	during := heaptest.Live() - base
	t.Logf("live heap with %d unread answers of %d bytes asked for: %+d bytes (budget %d)", conns*streams, answer, during, budget)
	assert.Less(t, during, int64(budget+8<<20), "the axon holds the budget's answers, not every answer asked for")

	goodQuery(t, good) // waits until WriteTimeout frees the budget
	for _, c := range attackers {
		c.waitClosed()
	}
	require.Eventually(t, func() bool { return s.axon.waiting.Load() == 0 }, mustHappen, poll, "the attackers' waiting calls ended")
	assert.Zero(t, s.axon.budget.Used(), "the whole budget is free again")
	heaptest.Returns(t, base)
	goodQuery(t, good)
}

// TestSignatureCheckedBeforeBody sends calls that do not authenticate as
// headers alone, their streams left open: each is refused UNAUTHENTICATED at
// once, without the axon waiting for a body it would have to read. Six
// connections then each announce a 60 MiB request without a signature and
// send the first 48 KiB of it: each is refused at its headers, and the axon
// keeps none of the body.
func TestSignatureCheckedBeforeBody(t *testing.T) {
	var calls atomic.Int32
	s := serve(t, Config{}, func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		calls.Add(1)
		return zeros(ctx, in)
	})
	good := client(t, s.addr)
	goodQuery(t, good)
	calls.Store(0)
	base := heaptest.Live()

	signer := newSigner(t, "client")
	stale, err := signer.Pairs(time.Now().Add(-2*DefaultMaxClockSkew).UnixMilli(), wire.RequestType_FORWARD)
	require.NoError(t, err)
	sig, err := signer.Sign(time.Now().UnixMilli())
	require.NoError(t, err)
	sig.Sig[0] ^= 1
	forged := []string{auth.KeyAuthHeader, auth.AuthHeader, auth.KeySignature, sig.String()}
	c := dialH2(t, s.addr)
	for name, kv := range map[string][]string{
		"unsigned":         nil,
		"forged signature": forged,
		"nonce 2 min old":  stale,
	} {
		code, msg := c.status(c.call(kv...))
		assert.Equal(t, codes.Unauthenticated, code, "%s: %s", name, msg)
	}

	var wg sync.WaitGroup
	for range 6 {
		c := dialH2(t, s.addr)
		wg.Go(func() {
			id := c.call()
			body := make([]byte, 48<<10)
			c.send(id, body, 60<<20)
			code, msg := c.status(id)
			assert.Equal(t, codes.Unauthenticated, code, msg)
		})
	}
	wg.Wait()
	during := heaptest.Live() - base
	t.Logf("live heap after six unsigned 60 MiB requests: %+d bytes", during)
	assert.Less(t, during, int64(heaptest.Slack))
	assert.Zero(t, calls.Load(), "no handler ran")
	goodQuery(t, good)
}

// TestReceiveLimits checks the receive limit and the header-list limit with
// the default message size: the largest request whose answer fits in
// MaxMessageSize is read, one byte more is refused RESOURCE_EXHAUSTED before
// it is read; headers over the limit reset the stream, and a gRPC client,
// told the limit, does not send them. A refused request, or one its client
// resets, stops counting among the requests in flight at once, not when
// RequestTimeout passes.
func TestReceiveLimits(t *testing.T) {
	var calls atomic.Int32
	s := serve(t, Config{RequestTimeout: time.Hour}, func(context.Context, tensor.Tensor) (tensor.Tensor, error) {
		calls.Add(1)
		return tensor.Tensor{}, &CodeError{Code: wire.ReturnCode_Backoff, Message: "read"}
	})
	limit := maxRequestSize(DefaultMaxMessageSize)
	t.Logf("receive limit: %d bytes", limit)
	most := maxTokens(DefaultMaxMessageSize)
	padded := func(size int) *wire.TensorMessage {
		m := textRequest(t, tokens(1, most))
		m.Hotkey = ""
		m.Hotkey = strings.Repeat("h", size-proto.Size(m)-3) // the field's tag and 2-byte length
		require.Equal(t, size, proto.Size(m))
		return m
	}
	c := client(t, s.addr)
	resp, err := c.Forward(signed(t, newSigner(t, "client")), padded(limit))
	require.NoError(t, err)
	assert.Equal(t, wire.ReturnCode_Backoff, resp.ReturnCode, "a request of the limit is read")
	_, err = c.Forward(signed(t, newSigner(t, "client")), padded(limit+1))
	assert.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	assert.Equal(t, int32(1), calls.Load())
	require.Eventually(t, func() bool { return s.axon.requests.Load() == 0 }, mustHappen, poll,
		"the refused request is no longer counted")

	kv, err := newSigner(t, "client").Pairs(time.Now().UnixMilli(), wire.RequestType_FORWARD)
	require.NoError(t, err)
	h := dialH2(t, s.addr)
	id := h.call(append(kv, "x-padding", strings.Repeat("p", maxHeaderListSize))...)
	assert.Equal(t, http2.ErrCodeFrameSize, h.reset(id))
	id = h.call(kv...)
	require.Eventually(t, func() bool { return s.axon.requests.Load() == 1 }, mustHappen, poll)
	require.NoError(t, h.fr.WriteRSTStream(id, http2.ErrCodeCancel))
	require.Eventually(t, func() bool { return s.axon.requests.Load() == 0 }, mustHappen, poll,
		"a request its client reset is no longer counted")

	ctx := metadata.AppendToOutgoingContext(signed(t, newSigner(t, "client")), "x-padding", strings.Repeat("p", maxHeaderListSize))
	_, err = c.Forward(ctx, textRequest(t, tokens(1, 1)))
	assert.ErrorContains(t, err, "header list size")
	assert.Equal(t, int32(1), calls.Load(), "no handler ran for headers over the limit")
}

// TestHeaderOnlyStreamsEnd opens, over four connections, 1,600 signed calls
// that send their headers and never a body. Each connection carries at most
// MaxStreamsPerConnection of them; each ends when RequestTimeout passes, and
// each connection, then idle, is closed when IdleTimeout passes (and gRPC's
// 5 s for the GOAWAY's ping to be acknowledged, which these clients never
// do). RequestTimeout leaves room for the held calls' signatures to be
// verified, one after another per connection, on a busy machine and under
// the race detector.
func TestHeaderOnlyStreamsEnd(t *testing.T) {
	const (
		conns, streams = 4, 400
		perConn        = 25
	)
	s := serve(t, Config{
		MaxStreamsPerConnection: perConn, MaxRequestsInFlight: 1000,
		RequestTimeout: 5 * time.Second, IdleTimeout: 500 * time.Millisecond,
	}, zeros)
	good := client(t, s.addr)
	goodQuery(t, good)
	base := heaptest.Live()

	kv, err := newSigner(t, "attacker").Pairs(time.Now().UnixMilli(), wire.RequestType_FORWARD)
	require.NoError(t, err)
	var attackers []*h2
	for range conns {
		c := dialH2(t, s.addr)
		for range streams {
			c.call(kv...)
		}
		attackers = append(attackers, c)
	}
	require.Eventually(t, func() bool { return s.axon.requests.Load() == conns*perConn }, mustHappen, poll,
		"%d streams held, the others refused", conns*perConn)
	during := heaptest.Live() - base
	t.Logf("live heap with %d header-only streams held of %d sent: %+d bytes", conns*perConn, conns*streams, during)
	assert.Less(t, during, int64(heaptest.Slack), "unbounded, the axon would hold all %d streams", conns*streams)
	goodQuery(t, good)

	code, msg := attackers[0].status(1)
	assert.Equal(t, codes.Canceled, code, "a call without a body ends when RequestTimeout passes: %s", msg)
	require.Eventually(t, func() bool { return s.axon.requests.Load() == 0 }, mustHappen, poll, "every header-only call ended")
	for _, c := range attackers {
		c.waitClosed()
	}
	heaptest.Returns(t, base)
	goodQuery(t, good)
}

// TestMaxRequestsInFlight holds MaxRequestsInFlight calls waiting for their
// bodies: one more is refused RESOURCE_EXHAUSTED before its body is read,
// and calls are taken again once those have ended.
func TestMaxRequestsInFlight(t *testing.T) {
	const most = 5
	s := serve(t, Config{MaxRequestsInFlight: most, RequestTimeout: 300 * time.Millisecond}, zeros)
	kv, err := newSigner(t, "attacker").Pairs(time.Now().UnixMilli(), wire.RequestType_FORWARD)
	require.NoError(t, err)
	h := dialH2(t, s.addr)
	for range most {
		h.call(kv...)
	}
	require.Eventually(t, func() bool { return s.axon.requests.Load() == most }, mustHappen, poll)
	c := client(t, s.addr)
	_, err = c.Forward(signed(t, newSigner(t, "client")), textRequest(t, tokens(1, 1)))
	assert.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	assert.ErrorContains(t, err, "MaxRequestsInFlight")
	require.Eventually(t, func() bool { return s.axon.requests.Load() == 0 }, mustHappen, poll)
	goodQuery(t, c)
}

// countingListener counts the connections it accepted that are still open,
// and the most open at once.
type countingListener struct {
	net.Listener
	open, most atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for m := l.most.Load(); n > m && !l.most.CompareAndSwap(m, n); m = l.most.Load() {
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// TestConnectionsBounded opens 20 TCP connections that never send HTTP/2's
// preface beside a good client's: the axon serves at most MaxConnections at
// once, besides the one it has just accepted and closes an idle one for;
// it closes each silent one to make room for the next, or when
// HandshakeTimeout passes, and so takes them all in turn; the good client
// is answered during and after.
func TestConnectionsBounded(t *testing.T) {
	const (
		most    = 4
		attacks = 20
	)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lis := &countingListener{Listener: raw}
	s := serveOn(t, lis, Config{MaxConnections: most, HandshakeTimeout: 300 * time.Millisecond}, zeros)
	good := client(t, s.addr)
	goodQuery(t, good)
	base := heaptest.Live()

	var silent []net.Conn
	for range attacks {
		c, err := net.Dial("tcp", s.addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		silent = append(silent, c)
	}
	goodQuery(t, good)
	for _, c := range silent {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(mustHappen)))
		_, err := io.Copy(io.Discard, c) // the axon's settings, until it closes
		require.NotErrorIs(t, err, os.ErrDeadlineExceeded, "the axon closes a silent connection")
	}
	assert.Equal(t, int32(most+1), lis.most.Load(), "at most MaxConnections served at once, and the one accepted in an idle one's place")
	// The good client's connection is idle between its queries, so it may
	// have been closed to make room too; no silent one may be left.
	require.Eventually(t, func() bool { return lis.open.Load() <= 1 }, mustHappen, poll, "only the good client's connection is left, if any")
	heaptest.Returns(t, base)
	goodQuery(t, client(t, s.addr))
}

// TestPingFloodEnded pings the axon back to back on an idle connection: it
// answers a few, then sends GOAWAY (ENHANCE_YOUR_CALM) and closes the
// connection.
func TestPingFloodEnded(t *testing.T) {
	s := serve(t, Config{}, zeros)
	c := dialH2(t, s.addr)
	for i := range 10 {
		require.NoError(t, c.fr.WritePing(false, [8]byte{byte(i)}))
	}
	for {
		f, err := c.fr.ReadFrame()
		require.NoError(t, err, "a GOAWAY comes before the connection closes")
		if g, ok := f.(*http2.GoAwayFrame); ok {
			assert.Equal(t, http2.ErrCodeEnhanceYourCalm, g.ErrCode)
			break
		}
	}
	c.waitClosed()
}
