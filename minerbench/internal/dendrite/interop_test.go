package dendrite

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/minerbench/minerbench/minerbench/internal/auth"
	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// The interoperability tests run testdata/grpcio_peer.py, the gRPC side of a
// Bittensor 2.0.4 peer made with Python's grpcio, against the axon and the
// dendrite, in each compression 2.0.4 offered.

// peerScript is the path of the Python peer.
const peerScript = "testdata/grpcio_peer.py"

// grpcioPython returns the python3 on PATH if it imports grpc, and skips the
// test otherwise.
func grpcioPython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH: the grpcio interoperability tests need it with grpcio (Debian: apt-get install python3-grpcio)")
	}
	if out, err := exec.Command(py, "-c", "import grpc").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import grpc (%v: %s): the grpcio interoperability tests need it (Debian: apt-get install python3-grpcio)", py, err, strings.TrimSpace(string(out)))
	}
	return py
}

// TestGrpcioClientAgainstAxon has a grpcio client, compressing its request
// as a 2.0.4 dendrite with --dendrite.compression did, query an axon that
// compresses its answers the same way: the axon reads the request and
// grpcio reads a Success answer with requires_grad set.
func TestGrpcioClientAgainstAxon(t *testing.T) {
	py := grpcioPython(t)
	dir := t.TempDir()
	buf, err := tensor.Encode(nil, tokens(2, 3), tensor.Msgpack)
	require.NoError(t, err)
	signer, err := auth.NewSigner(wallet.Mock("grpcio"))
	require.NoError(t, err)
	req, err := proto.Marshal(&wire.TensorMessage{
		Version: wire.Version, Hotkey: signer.SS58(), RequiresGrad: true,
		Tensors: []*wire.Tensor{{
			Version: wire.Version, Buffer: buf, Shape: []int64{2, 3},
			Dtype: wire.DataType_INT64, Modality: wire.Modality_TEXT,
		}},
	})
	require.NoError(t, err)
	reqPath := filepath.Join(dir, "request")
	require.NoError(t, os.WriteFile(reqPath, req, 0o600))

	for _, comp := range []string{wire.Gzip, wire.Deflate} {
		t.Run(comp, func(t *testing.T) {
			addr, _ := serveAxon(t, axon.Config{Compression: comp})
			kv, err := signer.Pairs(time.Now().UnixMilli(), wire.RequestType_FORWARD)
			require.NoError(t, err)
			var pairs [][2]string
			for i := 0; i < len(kv); i += 2 {
				pairs = append(pairs, [2]string{kv[i], kv[i+1]})
			}
			md, err := json.Marshal(pairs)
			require.NoError(t, err)
			ansPath := filepath.Join(dir, comp)

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, py, peerScript, "client", addr, comp, reqPath, string(md), ansPath).CombinedOutput()
			require.NoError(t, err, "%s", out)

			raw, err := os.ReadFile(ansPath)
			require.NoError(t, err)
			var resp wire.TensorMessage
			require.NoError(t, proto.Unmarshal(raw, &resp))
			require.Equal(t, wire.ReturnCode_Success, resp.ReturnCode, resp.Message)
			assert.True(t, resp.RequiresGrad)
			require.Len(t, resp.Tensors, 1)
			assert.True(t, resp.Tensors[0].RequiresGrad, "the answer's tensor requires grad, as 2.0.4's did")
			var r reply
			require.NoError(t, r.parse(raw))
			got, code := decodeOutputs(&r, 2, 3, make([]int64, 3))
			require.Equal(t, wire.ReturnCode_Success, code)
			assert.Equal(t, []int64{2, 3, wire.NetworkDim}, got.Shape)
		})
	}
}

// TestDendriteAgainstGrpcioServer queries a grpcio server that compresses
// its answers as a 2.0.4 axon with --axon.compression did, with requests
// compressed the same way: grpcio reads the requests and the dendrite reads
// the answers.
func TestDendriteAgainstGrpcioServer(t *testing.T) {
	py := grpcioPython(t)
	ans, err := proto.Marshal(answer(t, floats(2, 3, wire.NetworkDim)))
	require.NoError(t, err)
	ansPath := filepath.Join(t.TempDir(), "answer")
	require.NoError(t, os.WriteFile(ansPath, ans, 0o600))

	for _, comp := range []string{wire.Gzip, wire.Deflate} {
		t.Run(comp, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, peerScript, "server", comp, ansPath)
			stdin, err := cmd.StdinPipe()
			require.NoError(t, err)
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			cmd.Stderr = os.Stderr
			require.NoError(t, cmd.Start())
			defer func() {
				stdin.Close()
				assert.NoError(t, cmd.Wait())
			}()
			port, err := bufio.NewReader(stdout).ReadString('\n')
			require.NoError(t, err)

			d := dial(t, net.JoinHostPort("127.0.0.1", strings.TrimSpace(port)), WithCompression(comp))
			out, code, _ := d.ForwardText(ctx, tokens(2, 3))
			require.Equal(t, wire.ReturnCode_Success, code)
			assert.Equal(t, []int64{2, 3, wire.NetworkDim}, out.Shape)
		})
	}
}
