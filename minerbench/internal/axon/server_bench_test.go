//go:build unix

package axon

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/tap"

	"github.com/minerbench/minerbench/minerbench/internal/auth"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// BenchmarkServer measures the server's work per forward query: path=axon
// is an Axon whose ForwardFunc answers views of one prebuilt zero buffer (the
// noop miner); path=raw is the floor, a plain BittensorServer that answers a
// prebuilt response after the same verification work (Verifier.VerifyMetadata
// in a unary interceptor).
//
// Method: each query runs what gRPC's server runs for a unary call once the
// request's bytes have arrived, in-process and on one goroutine: for the
// axon, its tap on the call's headers (verification, call accounting, the
// request timer); then the service's registered handler
// (Bittensor_ServiceDesc) decoding the prebuilt request bytes with the
// server's codec, the server's unary interceptor if any and Forward, then
// the codec marshaling the response into gRPC's buffers, which are then
// freed, and the end of the call's stream (its context is cancelled, as
// gRPC does). The signed metadata is prebuilt, so the client's signing is
// not counted, but the signature is verified on every call. HTTP/2 framing
// and the transport's goroutines are left out: they are the same gRPC code
// for both paths, so leaving them out makes axon/raw larger, not smaller.
// ns/op is wall time; cpu-ns/op is the process's user and system CPU time
// (getrusage) per query, which also counts the garbage collector and any
// other goroutine of the process.
func BenchmarkServer(b *testing.B) {
	verifier, err := auth.NewVerifier(auth.VerifierConfig{})
	require.NoError(b, err)
	zeros := make([]float32, 10*10*wire.NetworkDim)
	a, err := New(Config{Wallet: wallet.Mock("axon")}, func(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		shape := []int64{in.Shape[0], in.Shape[1], wire.NetworkDim}
		return tensor.FromFloat32(shape, zeros[:in.Shape[0]*in.Shape[1]*wire.NetworkDim]), nil
	})
	require.NoError(b, err)
	defer a.Stop()

	for _, shape := range [][2]int64{{1, 1}, {10, 10}} {
		req := requestBytes(b, shape[0], shape[1])
		raw := &rawServer{verifier: verifier, resp: rawResponse(b, a.Hotkey(), shape[0], shape[1])}
		paths := []struct {
			name        string
			srv         wire.BittensorServer
			codec       encoding.CodecV2
			tap         tap.ServerInHandle
			interceptor grpc.UnaryServerInterceptor
		}{
			{"raw", raw, encoding.GetCodecV2("proto"), nil, raw.authenticate},
			{"axon", a, answerCodec{answers: a.answers}, a.tap, nil},
		}
		for _, p := range paths {
			b.Run(fmt.Sprintf("shape=%dx%d/path=%s", shape[0], shape[1], p.name), func(b *testing.B) {
				base, md := signedIncoming(b)
				info := &tap.Info{FullMethodName: "/Bittensor/Forward", Header: md}
				handler := wire.Bittensor_ServiceDesc.Methods[0].Handler
				require.Equal(b, "Forward", wire.Bittensor_ServiceDesc.Methods[0].MethodName)
				dec := func(v any) error { return p.codec.Unmarshal(req, v) }
				call := func() {
					ctx, cancel := context.WithCancel(base) // a stream's context is a cancelCtx
					defer cancel()
					if p.tap != nil {
						var err error
						if ctx, err = p.tap(ctx, info); err != nil {
							b.Fatal(err)
						}
					}
					resp, err := handler(p.srv, ctx, dec, p.interceptor)
					if err != nil {
						b.Fatal(err)
					}
					if code := resp.(*wire.TensorMessage).ReturnCode; code != wire.ReturnCode_Success {
						b.Fatalf("return code %v", code)
					}
					out, err := p.codec.Marshal(resp)
					if err != nil {
						b.Fatal(err)
					}
					out.Free()
				}
				call()
				b.ReportAllocs()
				cpu := cpuTime()
				for b.Loop() {
					call()
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// rawServer answers every forward call with one prebuilt response.
type rawServer struct {
	wire.UnimplementedBittensorServer
	verifier *auth.Verifier
	resp     *wire.TensorMessage
}

func (s *rawServer) authenticate(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if _, err := s.verifier.VerifyMetadata(md); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (s *rawServer) Forward(context.Context, *wire.TensorMessage) (*wire.TensorMessage, error) {
	return s.resp, nil
}

// requestBytes returns the marshaled forward request of [batch, seq] tokens,
// as gRPC hands it to the server's codec.
func requestBytes(b *testing.B, batch, seq int64) mem.BufferSlice {
	ids := make([]int64, batch*seq)
	for i := range ids {
		ids[i] = int64(i) % wire.VocabSize
	}
	buf, err := tensor.Encode(nil, tensor.FromInt64([]int64{batch, seq}, ids), tensor.Msgpack)
	require.NoError(b, err)
	msg := &wire.TensorMessage{
		Version: wire.Version, Hotkey: wallet.Mock("dendrite").SS58(), RequiresGrad: true,
		Tensors: []*wire.Tensor{{
			Version: wire.Version, Buffer: buf, Shape: []int64{batch, seq},
			Serializer: wire.Serializer_MSGPACK, Dtype: wire.DataType_INT64, Modality: wire.Modality_TEXT,
		}},
	}
	out, err := encoding.GetCodecV2("proto").Marshal(msg)
	require.NoError(b, err)
	return mem.BufferSlice{mem.SliceBuffer(out.Materialize())}
}

// rawResponse returns the Success response an axon answers to [batch, seq]
// tokens with zeros.
func rawResponse(b *testing.B, hotkey string, batch, seq int64) *wire.TensorMessage {
	shape := []int64{batch, seq, wire.NetworkDim}
	buf, err := tensor.Encode(nil, tensor.FromFloat32(shape, make([]float32, batch*seq*wire.NetworkDim)), tensor.Msgpack)
	require.NoError(b, err)
	return &wire.TensorMessage{
		Version: wire.Version, Hotkey: hotkey, ReturnCode: wire.ReturnCode_Success, Message: "Success",
		Tensors: []*wire.Tensor{{
			Version: wire.Version, Buffer: buf, Shape: shape, Serializer: wire.Serializer_MSGPACK,
			TensorType: wire.TensorType_TORCH, Dtype: wire.DataType_FLOAT32, Modality: wire.Modality_TENSOR,
		}},
	}
}

// signedIncoming returns a context carrying a call's signed metadata as a
// server receives it, and the metadata. The nonce is the current time, and
// the verifier takes a repeated nonce that is not older than the last it
// accepted.
func signedIncoming(b *testing.B) (context.Context, metadata.MD) {
	signer, err := auth.NewSigner(wallet.Mock("dendrite"))
	require.NoError(b, err)
	kv, err := signer.Pairs(time.Now().UnixMilli(), wire.RequestType_FORWARD)
	require.NoError(b, err)
	md := metadata.Pairs(kv...)
	return metadata.NewIncomingContext(context.Background(), md), md
}

// cpuTime returns the user and system CPU time the process has used, in
// nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
