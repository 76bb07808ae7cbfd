package dendrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/minerbench/minerbench/minerbench/internal/auth"
	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fake is a wire.BittensorServer answering whatever respond says, after
// checking the call's authentication like an axon would.
type fake struct {
	wire.UnimplementedBittensorServer
	verifier *auth.Verifier
	respond  func(ctx context.Context, req *wire.TensorMessage) (*wire.TensorMessage, error)
	calls    atomic.Int32
	last     atomic.Pointer[wire.TensorMessage]
}

func (f *fake) Forward(ctx context.Context, req *wire.TensorMessage) (*wire.TensorMessage, error) {
	f.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	if _, err := f.verifier.VerifyMetadata(md); err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	f.last.Store(req)
	return f.respond(ctx, req)
}

// serveFake serves f on a loopback port, with opts, until the test ends.
func serveFake(t *testing.T, f *fake, opts ...grpc.ServerOption) string {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{})
	require.NoError(t, err)
	f.verifier = v
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(opts...)
	wire.RegisterBittensorServer(srv, f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

// serveAxon serves a real axon of cfg answering zeros; the returned stop is
// idempotent and also runs at cleanup.
func serveAxon(t *testing.T, cfg axon.Config) (addr string, stop func()) {
	t.Helper()
	cfg.Wallet = wallet.Mock("axon")
	a, err := axon.New(cfg, zeroHandler())
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, a.Serve(lis))
	}()
	stop = func() {
		a.Stop()
		<-done
	}
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

// zeroHandler answers zeros of the right shape.
func zeroHandler() axon.ForwardFunc {
	return func(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		b, s := in.Shape[0], in.Shape[1]
		return tensor.FromFloat32([]int64{b, s, wire.NetworkDim}, make([]float32, b*s*wire.NetworkDim)), nil
	}
}

func dial(t *testing.T, addr string, opts ...Option) *Dendrite {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := Dial(ctx, addr, wallet.Mock("dendrite"), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

func tokens(batch, seq int64) tensor.Tensor {
	vals := make([]int64, batch*seq)
	for i := range vals {
		vals[i] = int64(i)
	}
	return tensor.FromInt64([]int64{batch, seq}, vals)
}

// answer returns a Success response holding t encoded as MSGPACK.
func answer(t testing.TB, out tensor.Tensor) *wire.TensorMessage {
	t.Helper()
	buf, err := tensor.Encode(nil, out, tensor.Msgpack)
	require.NoError(t, err)
	return &wire.TensorMessage{
		Version:    wire.Version,
		ReturnCode: wire.ReturnCode_Success,
		Tensors: []*wire.Tensor{{
			Version: wire.Version, Buffer: buf, Shape: out.Shape,
			Dtype: wire.DataType(out.DType), Modality: wire.Modality_TENSOR,
		}},
	}
}

func floats(shape ...int64) tensor.Tensor {
	n, _ := tensor.NumElements(shape)
	return tensor.FromFloat32(shape, make([]float32, n))
}

func TestDialRefusals(t *testing.T) {
	ctx := context.Background()
	_, err := Dial(ctx, "", wallet.Mock("d"))
	assert.ErrorContains(t, err, "endpoint: empty")
	_, err = Dial(ctx, "127.0.0.1:1", nil)
	assert.ErrorContains(t, err, "nil")
	_, err = Dial(ctx, "127.0.0.1:1", wallet.Mock("d"), WithMaxMessageSize(0))
	assert.ErrorContains(t, err, "WithMaxMessageSize: 0")
	_, err = Dial(ctx, "127.0.0.1:1", wallet.Mock("d"), WithCompression("zstd"))
	assert.ErrorContains(t, err, `WithCompression: "zstd"; want "gzip", "deflate" or "" (none)`)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := lis.Addr().String()
	require.NoError(t, lis.Close())
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = Dial(short, closed, wallet.Mock("d"))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestForwardTextAgainstAxon(t *testing.T) {
	addr, stop := serveAxon(t, axon.Config{})
	d := dial(t, addr)
	assert.Equal(t, wallet.Mock("dendrite").SS58(), d.Hotkey())
	for range 3 { // the connection, the pooled request and the signer are reused
		out, code, elapsed := d.ForwardText(context.Background(), tokens(2, 3))
		require.Equal(t, wire.ReturnCode_Success, code)
		assert.Positive(t, elapsed)
		assert.Equal(t, tensor.Float32, out.DType)
		assert.Equal(t, []int64{2, 3, wire.NetworkDim}, out.Shape)
		assert.Len(t, out.Float32s(), 2*3*wire.NetworkDim)
	}

	stop()
	_, code, _ := d.ForwardText(context.Background(), tokens(2, 3))
	assert.Equal(t, wire.ReturnCode_Unavailable, code, "after the server stopped")
}

// compressions records the compression of the requests a server reads and
// of the answers it sends.
type compressions struct {
	mu                sync.Mutex
	requests, answers []string
}

func (c *compressions) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (c *compressions) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (c *compressions) HandleConn(context.Context, stats.ConnStats)                       {}

func (c *compressions) HandleRPC(_ context.Context, s stats.RPCStats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch s := s.(type) {
	case *stats.InHeader:
		c.requests = append(c.requests, s.Compression)
	case *stats.OutHeader:
		c.answers = append(c.answers, s.Compression)
	}
}

// TestCompression sends queries uncompressed, in gzip and in deflate to a
// server that answers in each of them: the dendrite compresses its requests
// as told, tells the server it reads both, and reads every answer.
func TestCompression(t *testing.T) {
	for _, send := range []string{"", wire.Gzip, wire.Deflate} {
		for _, answerIn := range []string{"identity", wire.Gzip, wire.Deflate} {
			t.Run("send="+send+"/answer="+answerIn, func(t *testing.T) {
				f := &fake{respond: func(ctx context.Context, req *wire.TensorMessage) (*wire.TensorMessage, error) {
					assert.NoError(t, grpc.SetSendCompressor(ctx, answerIn), "the dendrite accepts %s", answerIn)
					return answer(t, floats(2, 3, wire.NetworkDim)), nil
				}}
				rec := &compressions{}
				d := dial(t, serveFake(t, f, grpc.StatsHandler(rec)), WithCompression(send))
				_, code, _ := d.ForwardText(context.Background(), tokens(2, 3))
				require.Equal(t, wire.ReturnCode_Success, code)
				rec.mu.Lock()
				defer rec.mu.Unlock()
				assert.Equal(t, []string{send}, rec.requests)
				assert.Equal(t, []string{answerIn}, rec.answers)
			})
		}
	}
}

// TestCompressionAgainstAxon queries axons that compress their answers in
// each way, with requests compressed in each way.
func TestCompressionAgainstAxon(t *testing.T) {
	for _, axonComp := range []string{"", wire.Gzip, wire.Deflate} {
		addr, _ := serveAxon(t, axon.Config{Compression: axonComp})
		for _, send := range []string{"", wire.Gzip, wire.Deflate} {
			d := dial(t, addr, WithCompression(send))
			out, code, _ := d.ForwardText(context.Background(), tokens(2, 3))
			require.Equal(t, wire.ReturnCode_Success, code, "axon %q, dendrite %q", axonComp, send)
			assert.Equal(t, []int64{2, 3, wire.NetworkDim}, out.Shape)
		}
	}
}

func TestRequestMessage(t *testing.T) {
	f := &fake{respond: func(context.Context, *wire.TensorMessage) (*wire.TensorMessage, error) {
		return &wire.TensorMessage{ReturnCode: wire.ReturnCode_NotImplemented}, nil
	}}
	d := dial(t, serveFake(t, f))
	_, code, _ := d.ForwardText(context.Background(), tokens(2, 3))
	require.Equal(t, wire.ReturnCode_NotImplemented, code)
	req := f.last.Load()
	require.NotNil(t, req, "the call authenticated")
	assert.Equal(t, int32(wire.Version), req.Version)
	assert.Equal(t, wallet.Mock("dendrite").SS58(), req.Hotkey)
	assert.True(t, req.RequiresGrad)
	require.Len(t, req.Tensors, 1)
	rt := req.Tensors[0]
	assert.Equal(t, int32(wire.Version), rt.Version)
	assert.Equal(t, wire.DataType_INT64, rt.Dtype)
	assert.Equal(t, wire.Modality_TEXT, rt.Modality)
	assert.Equal(t, wire.Serializer_MSGPACK, rt.Serializer)
	assert.False(t, rt.RequiresGrad)
	assert.Equal(t, []int64{2, 3}, rt.Shape)
	in, err := tensor.Decode(rt.Buffer, tensor.Msgpack, tensor.Int64)
	require.NoError(t, err)
	assert.Equal(t, []int64{0, 1, 2, 3, 4, 5}, in.Int64s())
}

// TestForwardTextCodes reaches every code the dendrite records.
func TestForwardTextCodes(t *testing.T) {
	good := floats(2, 3, wire.NetworkDim)

	tests := []codeCase{
		{"success", answers(good), tokens(2, 3), 0, nil, true, wire.ReturnCode_Success},
		{"empty input", answers(good), tensor.FromInt64([]int64{0, 3}, nil), 0, nil, false, wire.ReturnCode_EmptyRequest},
		{"zero tensor", answers(good), tensor.Tensor{}, 0, nil, false, wire.ReturnCode_EmptyRequest},
		{"input rank 3", answers(good), tensor.FromInt64([]int64{1, 1, 1}, []int64{1}), 0, nil, false, wire.ReturnCode_RequestShapeException},
		{"float input", answers(good), tensor.FromFloat32([]int64{1, 1}, []float32{1}), 0, nil, false, wire.ReturnCode_InvalidRequest},
		{"input that does not encode", answers(good), tensor.Tensor{DType: tensor.Int64, Shape: []int64{2, 3}, Data: make([]byte, 5)}, 0, nil, false, wire.ReturnCode_RequestSerializationException},
		{"deadline exceeded", blocksUntilDone, tokens(2, 3), 50 * time.Millisecond, nil, true, wire.ReturnCode_Timeout},
		{"unavailable", refuses(codes.Unavailable), tokens(2, 3), 0, nil, true, wire.ReturnCode_Unavailable},
		{"unauthenticated", refuses(codes.Unauthenticated), tokens(2, 3), 0, nil, true, wire.ReturnCode_Unauthenticated},
		{"other gRPC error", refuses(codes.Internal), tokens(2, 3), 0, nil, true, wire.ReturnCode_UnknownException},
		{"answer over the size limit", answers(good), tokens(2, 3), 0, []Option{WithMaxMessageSize(1024)}, true, wire.ReturnCode_UnknownException},
		{"success without tensor", answersEdited(good, func(m *wire.TensorMessage) { m.Tensors = nil }), tokens(2, 3), 0, nil, true, wire.ReturnCode_EmptyResponse},
		{"undecodable answer", answersEdited(good, func(m *wire.TensorMessage) { m.Tensors[0].Buffer = []byte{0xc1} }), tokens(2, 3), 0, nil, true, wire.ReturnCode_ResponseDeserializationException},
		{"int64 answer", answers(tensor.FromInt64([]int64{2, 3, wire.NetworkDim}, make([]int64, 6*wire.NetworkDim))), tokens(2, 3), 0, nil, true, wire.ReturnCode_ResponseDeserializationException},
		{"answer size disagrees with shape", answersEdited(good, func(m *wire.TensorMessage) { m.Tensors[0].Shape = []int64{2, 3, 512} }), tokens(2, 3), 0, nil, true, wire.ReturnCode_ResponseDeserializationException},
		{"answer shape negative", answersEdited(good, func(m *wire.TensorMessage) { m.Tensors[0].Shape = []int64{-2, -3, wire.NetworkDim} }), tokens(2, 3), 0, nil, true, wire.ReturnCode_ResponseDeserializationException},
		{"answer of another width", answers(floats(2, 3, 512)), tokens(2, 3), 0, nil, true, wire.ReturnCode_ResponseShapeException},
		{"answer with batch and seq swapped", answers(floats(3, 2, wire.NetworkDim)), tokens(2, 3), 0, nil, true, wire.ReturnCode_ResponseShapeException},
		{"answer of rank 2", answers(floats(6, wire.NetworkDim)), tokens(2, 3), 0, nil, true, wire.ReturnCode_ResponseShapeException},
		{"answer reshaped to the right shape", answersEdited(floats(6, wire.NetworkDim), func(m *wire.TensorMessage) { m.Tensors[0].Shape = []int64{2, 3, wire.NetworkDim} }), tokens(2, 3), 0, nil, true, wire.ReturnCode_Success},
	}
	// Every code but Success, NoReturn included, passes through as it is.
	for code := range wire.ReturnCode_name {
		c := wire.ReturnCode(code)
		if c == wire.ReturnCode_Success {
			continue
		}
		tests = append(tests, codeCase{"passes " + c.String(), answersEdited(good, func(m *wire.TensorMessage) { m.ReturnCode = c }), tokens(2, 3), 0, nil, true, c})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{respond: tt.respond(t)}
			d := dial(t, serveFake(t, f), tt.opts...)
			call := func() context.Context {
				if tt.timeout == 0 {
					return context.Background()
				}
				ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
				t.Cleanup(cancel)
				return ctx
			}
			out, code, elapsed := d.ForwardText(call(), tt.inputs)
			assert.Equal(t, tt.want, code)
			assert.Positive(t, elapsed)
			if code == wire.ReturnCode_Success {
				assert.Equal(t, []int64{2, 3, wire.NetworkDim}, out.Shape)
			} else {
				assert.Nil(t, out.Data)
			}
			code, elapsed = d.Measure(call(), tt.inputs)
			assert.Equal(t, tt.want, code, "Measure")
			assert.Positive(t, elapsed, "Measure")
			if tt.sent {
				assert.Equal(t, int32(2), f.calls.Load(), "sent by both")
				assert.NotNil(t, f.last.Load(), "authenticated")
			} else {
				assert.Zero(t, f.calls.Load(), "refused before sending")
			}
		})
	}
}

// respondFunc is how the fake axon answers a forward call.
type respondFunc = func(context.Context, *wire.TensorMessage) (*wire.TensorMessage, error)

// codeCase is a case of TestForwardTextCodes.
type codeCase struct {
	name    string
	respond func(*testing.T) respondFunc
	inputs  tensor.Tensor
	timeout time.Duration
	opts    []Option
	sent    bool
	want    wire.ReturnCode
}

// answers answers every call with out.
func answers(out tensor.Tensor) func(*testing.T) respondFunc {
	return answersEdited(out, func(*wire.TensorMessage) {})
}

// answersEdited answers every call with out, edited by edit.
func answersEdited(out tensor.Tensor, edit func(*wire.TensorMessage)) func(*testing.T) respondFunc {
	return func(t *testing.T) respondFunc {
		resp := answer(t, out)
		edit(resp)
		return func(context.Context, *wire.TensorMessage) (*wire.TensorMessage, error) { return resp, nil }
	}
}

// refuses fails every call with gRPC code c.
func refuses(c codes.Code) func(*testing.T) respondFunc {
	return func(*testing.T) respondFunc {
		return func(context.Context, *wire.TensorMessage) (*wire.TensorMessage, error) {
			return nil, status.Error(c, "refused by the test")
		}
	}
}

// blocksUntilDone answers no call before its context ends.
func blocksUntilDone(*testing.T) respondFunc {
	return func(ctx context.Context, _ *wire.TensorMessage) (*wire.TensorMessage, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
}

func TestElapsedCoversTheWait(t *testing.T) {
	const wait = 30 * time.Millisecond
	resp := answer(t, floats(1, 1, wire.NetworkDim))
	f := &fake{respond: func(context.Context, *wire.TensorMessage) (*wire.TensorMessage, error) {
		time.Sleep(wait)
		return resp, nil
	}}
	d := dial(t, serveFake(t, f))
	_, code, elapsed := d.ForwardText(context.Background(), tokens(1, 1))
	require.Equal(t, wire.ReturnCode_Success, code)
	assert.GreaterOrEqual(t, elapsed, wait)
}

// TestMetadataOrderOnTheWire reads the HTTP/2 HEADERS frame of a call and
// checks that the four auth keys go out in the protocol's order.
func TestMetadataOrderOnTheWire(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	fields := make(chan []hpack.HeaderField, 1)
	served := make(chan struct{})
	go func() {
		defer close(served)
		conn, err := lis.Accept()
		if !assert.NoError(t, err) {
			return
		}
		defer conn.Close()
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(conn, preface); !assert.NoError(t, err) {
			return
		}
		fr := http2.NewFramer(conn, conn)
		fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		if !assert.NoError(t, fr.WriteSettings()) {
			return
		}
		for {
			frame, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := frame.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					fr.WriteSettingsAck()
				}
			case *http2.MetaHeadersFrame:
				fields <- f.Fields
				return
			}
		}
	}()
	d := dial(t, lis.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	called := make(chan struct{})
	go func() {
		defer close(called)
		d.ForwardText(ctx, tokens(1, 1))
	}()
	got := <-fields
	cancel()
	<-served
	<-called

	var keys []string
	values := map[string]string{}
	for _, f := range got {
		switch f.Name {
		case auth.KeyAuthHeader, auth.KeySignature, auth.KeyVersion, auth.KeyRequestType:
			keys = append(keys, f.Name)
			values[f.Name] = f.Value
		}
	}
	assert.Equal(t, []string{auth.KeyAuthHeader, auth.KeySignature, auth.KeyVersion, auth.KeyRequestType}, keys)
	assert.Equal(t, "Bittensor", values[auth.KeyAuthHeader])
	assert.Equal(t, "204", values[auth.KeyVersion])
	assert.Equal(t, "1", values[auth.KeyRequestType])
	v, err := auth.NewVerifier(auth.VerifierConfig{})
	require.NoError(t, err)
	sig, err := v.Verify(values[auth.KeySignature])
	require.NoError(t, err)
	assert.Equal(t, wallet.Mock("dendrite").SS58(), sig.SS58)
}

// TestConcurrentCallsAuthenticate runs many calls at once through one
// dendrite: none may be refused as a replay, however the calls interleave.
func TestConcurrentCallsAuthenticate(t *testing.T) {
	addr, _ := serveAxon(t, axon.Config{})
	d := dial(t, addr)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				_, code, _ := d.ForwardText(context.Background(), tokens(1, 4))
				if !assert.Equal(t, wire.ReturnCode_Success, code) {
					return
				}
			}
		})
	}
	wg.Wait()
	d.signersMu.Lock()
	idle := len(d.signers)
	d.signersMu.Unlock()
	if d.idle.Load() != nil {
		idle++
	}
	assert.LessOrEqual(t, idle, 8, "at most one receptor uid per call in flight")
	assert.Positive(t, idle)
}

// TestReceptorUIDs checks that calls in flight together carry different
// receptor uids and that a later call reuses an idle one.
func TestReceptorUIDs(t *testing.T) {
	arrived := make(chan string, 3)
	release := make(chan struct{})
	resp := answer(t, floats(1, 1, wire.NetworkDim))
	f := &fake{respond: func(ctx context.Context, _ *wire.TensorMessage) (*wire.TensorMessage, error) {
		sig, err := auth.ParseSignature(metadata.ValueFromIncomingContext(ctx, auth.KeySignature)[0])
		if err != nil {
			return nil, err
		}
		arrived <- sig.ReceptorUID
		<-release
		return resp, nil
	}}
	d := dial(t, serveFake(t, f))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			_, code, _ := d.ForwardText(context.Background(), tokens(1, 1))
			assert.Equal(t, wire.ReturnCode_Success, code)
		})
	}
	first, second := <-arrived, <-arrived
	assert.NotEqual(t, first, second, "calls in flight together use different uids")
	close(release)
	wg.Wait()

	_, code, _ := d.ForwardText(context.Background(), tokens(1, 1))
	require.Equal(t, wire.ReturnCode_Success, code)
	assert.Contains(t, []string{first, second}, <-arrived, "a sequential call reuses an idle uid")
}

// TestCancelCause checks that a call cut by cancelling its context is a
// Timeout only when the cause says a deadline passed: a timeout kept on the
// client's side, as the harness keeps its per-query timeout.
func TestCancelCause(t *testing.T) {
	tests := []struct {
		name  string
		cause error
		want  wire.ReturnCode
	}{
		{"deadline exceeded", context.DeadlineExceeded, wire.ReturnCode_Timeout},
		{"wrapped deadline exceeded", fmt.Errorf("query timeout: %w", context.DeadlineExceeded), wire.ReturnCode_Timeout},
		{"plain cancel", nil, wire.ReturnCode_UnknownException},
		{"other cause", errors.New("interrupted"), wire.ReturnCode_UnknownException},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arrived := make(chan struct{}, 1)
			f := &fake{respond: func(ctx context.Context, _ *wire.TensorMessage) (*wire.TensorMessage, error) {
				arrived <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			}}
			d := dial(t, serveFake(t, f))
			ctx, cancel := context.WithCancelCause(context.Background())
			go func() {
				<-arrived
				cancel(tt.cause)
			}()
			_, code, _ := d.ForwardText(ctx, tokens(2, 3))
			assert.Equal(t, tt.want, code)
			assert.Equal(t, int32(1), f.calls.Load(), "sent")
		})
	}
}

// TestNoFlowControlPings counts the HTTP/2 PING frames clients send an axon
// over 40 queries each: none from the dendrite, whose fixed flow-control
// window keeps grpc-go's bandwidth-delay estimation off, and some from a
// client with grpc-go's default window, which shows the count would see
// them.
func TestNoFlowControlPings(t *testing.T) {
	const queries = 40
	addr, _ := serveAxon(t, axon.Config{})
	relay, pings := pingCountingRelay(t, addr)

	d := dial(t, relay)
	for range queries {
		_, code, _ := d.ForwardText(context.Background(), tokens(2, 3))
		require.Equal(t, wire.ReturnCode_Success, code)
	}
	require.NoError(t, d.Close())

	conn, err := grpc.NewClient("passthrough:///"+relay, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	signer, err := auth.NewSigner(wallet.Mock("dendrite"))
	require.NoError(t, err)
	client := wire.NewBittensorClient(conn)
	req := &wire.TensorMessage{Version: wire.Version, Hotkey: signer.SS58(), Tensors: []*wire.Tensor{{
		Version: wire.Version, Buffer: mustEncode(t, tokens(2, 3)), Shape: []int64{2, 3},
		Dtype: wire.DataType_INT64, Modality: wire.Modality_TEXT,
	}}}
	for range queries {
		ctx, err := signer.AppendToOutgoingContext(context.Background(), wire.RequestType_FORWARD)
		require.NoError(t, err)
		resp, err := client.Forward(ctx, req)
		require.NoError(t, err)
		require.Equal(t, wire.ReturnCode_Success, resp.ReturnCode)
	}
	require.NoError(t, conn.Close())

	got := pings()
	require.Len(t, got, 2, "one count per connection")
	assert.Zero(t, got[0], "PING frames from the dendrite")
	assert.Positive(t, got[1], "PING frames from a client with grpc-go's default window")
}

// pingCountingRelay relays loopback connections to addr, counting the PING
// frames (acknowledgements aside) each client sends. pings waits for every
// relayed connection to end and returns their counts in order of arrival.
func pingCountingRelay(t *testing.T, addr string) (relay string, pings func() []int) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { lis.Close() })
	var (
		mu     sync.Mutex
		counts []*atomic.Int32
		wg     sync.WaitGroup
	)
	go func() {
		for {
			client, err := lis.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", addr)
			if !assert.NoError(t, err) {
				client.Close()
				return
			}
			n := new(atomic.Int32)
			mu.Lock()
			counts = append(counts, n)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer server.Close()
				pr, pw := io.Pipe()
				parsed := make(chan struct{})
				go func() {
					defer close(parsed)
					countPings(pr, n)
				}()
				_, _ = io.Copy(io.MultiWriter(server, pw), client)
				pw.Close()
				<-parsed
			}()
			go func() {
				defer client.Close()
				_, _ = io.Copy(client, server)
			}()
		}
	}()
	return lis.Addr().String(), func() []int {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		out := make([]int, len(counts))
		for i, n := range counts {
			out[i] = int(n.Load())
		}
		return out
	}
}

// countPings reads a client's side of an HTTP/2 connection and adds each
// PING frame that is not an acknowledgement to n, until the stream ends.
func countPings(r io.Reader, n *atomic.Int32) {
	defer io.Copy(io.Discard, r) // keep the relay's writes flowing
	if _, err := io.ReadFull(r, make([]byte, len(http2.ClientPreface))); err != nil {
		return
	}
	fr := http2.NewFramer(nil, r)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		if p, ok := f.(*http2.PingFrame); ok && !p.IsAck() {
			n.Add(1)
		}
	}
}

func mustEncode(t *testing.T, in tensor.Tensor) []byte {
	t.Helper()
	buf, err := tensor.Encode(nil, in, tensor.Msgpack)
	require.NoError(t, err)
	return buf
}
