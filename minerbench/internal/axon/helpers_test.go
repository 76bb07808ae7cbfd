package axon

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/minerbench/minerbench/minerbench/internal/auth"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// served is an axon serving on a loopback port, stopped at test cleanup.
type served struct {
	axon   *Axon
	addr   string
	served chan error
}

func serve(t *testing.T, cfg Config, fwd ForwardFunc) *served {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return serveOn(t, lis, cfg, fwd)
}

// serveOn serves an axon on lis, stopped at test cleanup.
func serveOn(t *testing.T, lis net.Listener, cfg Config, fwd ForwardFunc) *served {
	t.Helper()
	if cfg.Wallet == nil {
		cfg.Wallet = wallet.Mock("axon")
	}
	a, err := New(cfg, fwd)
	require.NoError(t, err)
	s := &served{axon: a, addr: lis.Addr().String(), served: make(chan error, 1)}
	go func() { s.served <- a.Serve(lis) }()
	t.Cleanup(func() {
		a.Stop()
		require.NoError(t, <-s.served)
	})
	return s
}

// client returns a raw generated client for addr, closed at test cleanup.
func client(t *testing.T, addr string) wire.BittensorClient {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return wire.NewBittensorClient(conn)
}

// signed returns a context carrying valid auth metadata of signer.
func signed(t *testing.T, signer *auth.Signer) context.Context {
	t.Helper()
	ctx, err := signer.AppendToOutgoingContext(context.Background(), wire.RequestType_FORWARD)
	require.NoError(t, err)
	return ctx
}

func newSigner(t *testing.T, name string) *auth.Signer {
	t.Helper()
	s, err := auth.NewSigner(wallet.Mock(name))
	require.NoError(t, err)
	return s
}

// encode returns the MSGPACK buffer of tt.
func encode(t *testing.T, tt tensor.Tensor) []byte {
	t.Helper()
	buf, err := tensor.Encode(nil, tt, tensor.Msgpack)
	require.NoError(t, err)
	return buf
}

// tokens returns [batch, seq] token ids 0, 1, 2, ...
func tokens(batch, seq int64) tensor.Tensor {
	vals := make([]int64, batch*seq)
	for i := range vals {
		vals[i] = int64(i)
	}
	return tensor.FromInt64([]int64{batch, seq}, vals)
}

// textRequest wraps one tensor in a forward request as a dendrite sends it.
func textRequest(t *testing.T, in tensor.Tensor) *wire.TensorMessage {
	t.Helper()
	return &wire.TensorMessage{
		Version:      wire.Version,
		Hotkey:       wallet.Mock("client").SS58(),
		RequiresGrad: true,
		Tensors: []*wire.Tensor{{
			Version:    wire.Version,
			Buffer:     encode(t, in),
			Shape:      in.Shape,
			Serializer: wire.Serializer_MSGPACK,
			Dtype:      wire.DataType(in.DType),
			Modality:   wire.Modality_TEXT,
		}},
	}
}

// zeros returns a handler answering zeros of the right shape.
func zeros(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) {
	n := in.Shape[0] * in.Shape[1] * wire.NetworkDim
	return tensor.FromFloat32([]int64{in.Shape[0], in.Shape[1], wire.NetworkDim}, make([]float32, n)), nil
}

// withMetadata returns a context carrying kv as outgoing metadata in order.
func withMetadata(kv ...string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), kv...)
}

func netListen(t *testing.T) (net.Listener, error) {
	t.Helper()
	return net.Listen("tcp", "127.0.0.1:0")
}

// h2 is a raw HTTP/2 client connection, for what gRPC's own client would
// not send: headers without a body, answers never read, pings too often.
type h2 struct {
	t    *testing.T
	addr string
	conn net.Conn
	fr   *http2.Framer
	next uint32 // the next stream id
}

// dialH2 opens a raw HTTP/2 connection to addr, sending the preface and
// settings, closed at test cleanup.
func dialH2(t *testing.T, addr string, settings ...http2.Setting) *h2 {
	t.Helper()
	return dialH2From(t, nil, addr, settings...)
}

// dialH2From is dialH2 from the local address from (any when nil).
func dialH2From(t *testing.T, from net.IP, addr string, settings ...http2.Setting) *h2 {
	t.Helper()
	d := net.Dialer{}
	if from != nil {
		d.LocalAddr = &net.TCPAddr{IP: from}
	}
	conn, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(mustHappen)))
	_, err = conn.Write([]byte(http2.ClientPreface))
	require.NoError(t, err)
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	require.NoError(t, fr.WriteSettings(settings...))
	return &h2{t: t, addr: addr, conn: conn, fr: fr, next: 1}
}

// call opens a stream of a Forward call carrying metadata kv (and extra
// headers), without ending it, and returns its id.
func (c *h2) call(kv ...string) uint32 {
	c.t.Helper()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	fields := append([]string{
		":method", "POST", ":scheme", "http", ":path", "/Bittensor/Forward", ":authority", c.addr,
		"content-type", "application/grpc", "te", "trailers",
	}, kv...)
	for i := 0; i < len(fields); i += 2 {
		require.NoError(c.t, enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]}))
	}
	id := c.next
	c.next += 2
	require.NoError(c.t, c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndHeaders: true}))
	return id
}

// send writes msg as the body of stream id, with gRPC's 5-byte prefix
// announcing length bytes (len(msg) when 0), and ends the stream.
func (c *h2) send(id uint32, msg []byte, length int) {
	c.t.Helper()
	if length == 0 {
		length = len(msg)
	}
	prefix := make([]byte, 5, 5+len(msg)) // uncompressed, then the length
	binary.BigEndian.PutUint32(prefix[1:], uint32(length))
	body := append(prefix, msg...)
	for len(body) > 0 {
		n := min(len(body), 16<<10) // the default SETTINGS_MAX_FRAME_SIZE
		require.NoError(c.t, c.fr.WriteData(id, n == len(body), body[:n]))
		body = body[n:]
	}
}

// end reads frames, answering the server's settings, until stream id ends:
// it returns the trailers carrying its gRPC status, or its reset.
func (c *h2) end(id uint32) (*http2.MetaHeadersFrame, *http2.RSTStreamFrame) {
	c.t.Helper()
	for {
		f, err := c.fr.ReadFrame()
		require.NoError(c.t, err, "reading the server's answer")
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				require.NoError(c.t, c.fr.WriteSettingsAck())
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == id && grpcStatus(f) != "" {
				return f, nil
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return nil, f
			}
		case *http2.GoAwayFrame:
			c.t.Fatalf("connection refused (%v) before stream %d ended", f.ErrCode, id)
		}
	}
}

// status returns stream id's gRPC status and message; it fails the test if
// the stream is reset instead.
func (c *h2) status(id uint32) (codes.Code, string) {
	c.t.Helper()
	trailers, rst := c.end(id)
	if rst != nil {
		c.t.Fatalf("stream reset (%v) before a gRPC status", rst.ErrCode)
	}
	n, err := strconv.Atoi(grpcStatus(trailers))
	require.NoError(c.t, err)
	return codes.Code(n), grpcMessage(trailers)
}

// reset returns the code stream id is reset with; it fails the test if the
// stream gets a gRPC status instead.
func (c *h2) reset(id uint32) http2.ErrCode {
	c.t.Helper()
	trailers, rst := c.end(id)
	if trailers != nil {
		c.t.Fatalf("stream answered with gRPC status %s (%s), not reset", grpcStatus(trailers), grpcMessage(trailers))
	}
	return rst.ErrCode
}

// grpcStatus returns the grpc-status field of f.
func grpcStatus(f *http2.MetaHeadersFrame) string { return header(f, "grpc-status") }

// grpcMessage returns the grpc-message field of f.
func grpcMessage(f *http2.MetaHeadersFrame) string { return header(f, "grpc-message") }

// header returns the value of f's field name, or "".
func header(f *http2.MetaHeadersFrame, name string) string {
	for _, hf := range f.RegularFields() {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

// waitClosed reads, answering settings, until the server closes c, and
// fails the test if the connection's deadline passes first.
func (c *h2) waitClosed() {
	c.t.Helper()
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			require.NotErrorIs(c.t, err, os.ErrDeadlineExceeded, "the server closes the connection")
			return
		}
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			c.fr.WriteSettingsAck()
		}
	}
}

// request returns the marshaled forward request of [batch, seq] tokens.
func request(t *testing.T, batch, seq int64) []byte {
	t.Helper()
	b, err := proto.Marshal(textRequest(t, tokens(batch, seq)))
	require.NoError(t, err)
	return b
}
