package dendrite

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/minerbench/minerbench/minerbench/internal/auth"
	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// BenchmarkForward measures one forward text query against an in-process
// axon whose handler returns prebuilt zeros. path=dendrite is ForwardText,
// path=measure is Measure (the answer received into a reused buffer);
// path=raw is the generated client's Forward with a prebuilt request and the
// same signing work per call (fresh nonce, sr25519 signature, metadata), so
// the difference between the two is the dendrite's own overhead: encoding
// the request, decoding and checking the answer.
func BenchmarkForward(b *testing.B) {
	shapes := [][2]int64{{1, 1}, {10, 10}}
	answers := map[[2]int64]tensor.Tensor{}
	for _, s := range shapes {
		answers[s] = tensor.FromFloat32([]int64{s[0], s[1], wire.NetworkDim}, make([]float32, s[0]*s[1]*wire.NetworkDim))
	}
	a, err := axon.New(axon.Config{Wallet: wallet.Mock("axon")}, func(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		return answers[[2]int64{in.Shape[0], in.Shape[1]}], nil
	})
	require.NoError(b, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	served := make(chan error, 1)
	go func() { served <- a.Serve(lis) }()
	defer func() {
		a.Stop()
		require.NoError(b, <-served)
	}()
	addr := lis.Addr().String()
	ctx := context.Background()

	for _, s := range shapes {
		inputs := tokens(s[0], s[1])
		b.Run(fmt.Sprintf("shape=%dx%d/path=dendrite", s[0], s[1]), func(b *testing.B) {
			d, err := Dial(ctx, addr, wallet.Mock("dendrite"))
			require.NoError(b, err)
			defer d.Close()
			for b.Loop() {
				if _, code, _ := d.ForwardText(ctx, inputs); code != wire.ReturnCode_Success {
					b.Fatalf("code %v", code)
				}
			}
		})
		b.Run(fmt.Sprintf("shape=%dx%d/path=measure", s[0], s[1]), func(b *testing.B) {
			d, err := Dial(ctx, addr, wallet.Mock("dendrite"))
			require.NoError(b, err)
			defer d.Close()
			for b.Loop() {
				if code, _ := d.Measure(ctx, inputs); code != wire.ReturnCode_Success {
					b.Fatalf("code %v", code)
				}
			}
		})
		b.Run(fmt.Sprintf("shape=%dx%d/path=raw", s[0], s[1]), func(b *testing.B) {
			conn, err := grpc.NewClient("passthrough:///"+addr,
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(DefaultMaxMessageSize)))
			require.NoError(b, err)
			defer conn.Close()
			client := wire.NewBittensorClient(conn)
			signer, err := auth.NewSigner(wallet.Mock("dendrite"))
			require.NoError(b, err)
			buf, err := tensor.Encode(nil, inputs, tensor.Msgpack)
			require.NoError(b, err)
			req := &wire.TensorMessage{
				Version: wire.Version, Hotkey: signer.SS58(), RequiresGrad: true,
				Tensors: []*wire.Tensor{{
					Version: wire.Version, Buffer: buf, Shape: inputs.Shape,
					Dtype: wire.DataType_INT64, Modality: wire.Modality_TEXT,
				}},
			}
			for b.Loop() {
				callCtx, err := signer.AppendToOutgoingContext(ctx, wire.RequestType_FORWARD)
				if err != nil {
					b.Fatal(err)
				}
				resp, err := client.Forward(callCtx, req)
				if err != nil || resp.ReturnCode != wire.ReturnCode_Success {
					b.Fatalf("err %v, response %v", err, resp.GetReturnCode())
				}
			}
		})
	}
}
