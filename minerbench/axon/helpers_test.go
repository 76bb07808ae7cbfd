package axon

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/minerbench/minerbench/minerbench/auth"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
	"github.com/minerbench/minerbench/minerbench/wire"
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
	if cfg.Wallet == nil {
		cfg.Wallet = wallet.Mock("axon")
	}
	a, err := New(cfg, fwd)
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
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
