package axon

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// fullResponse returns a response whose every field, and its tensor's, is
// set, with a tensor buffer of n bytes.
func fullResponse(t *testing.T, n int, message string) *wire.TensorMessage {
	t.Helper()
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(i)
	}
	m := &wire.TensorMessage{
		Version: wire.Version, Hotkey: "5Hotkey", ReturnCode: wire.ReturnCode_Success, Message: message, RequiresGrad: true,
		Tensors: []*wire.Tensor{{
			Version: wire.Version, Buffer: buf, Shape: []int64{1, 300, wire.NetworkDim}, Serializer: wire.Serializer_CMPPACK,
			TensorType: wire.TensorType_TENSORFLOW, Dtype: wire.DataType_FLOAT32, Modality: wire.Modality_TENSOR, RequiresGrad: true,
		}},
	}
	for _, pm := range []protoreflect.Message{m.ProtoReflect(), m.Tensors[0].ProtoReflect()} {
		fields := pm.Descriptor().Fields()
		for i := range fields.Len() {
			require.True(t, pm.Has(fields.Get(i)), "%s is set", fields.Get(i).FullName())
		}
	}
	return m
}

// TestCodecMarshalsAsProto checks that the codec writes exactly the bytes
// proto.Marshal writes, hands a registered answer's tensor buffer over
// without copying it, leaves the message as it was, and releases the
// answer's budget only once gRPC frees the marshaled bytes. A message that
// was not registered is marshaled by the proto codec.
func TestCodecMarshalsAsProto(t *testing.T) {
	tests := []struct {
		name     string
		msg      func(*testing.T) *wire.TensorMessage
		register bool
	}{
		{"every field set", func(t *testing.T) *wire.TensorMessage { return fullResponse(t, 5000, "Success") }, true},
		{"buffer below gRPC's pooling threshold", func(t *testing.T) *wire.TensorMessage { return fullResponse(t, 10, "Success") }, true},
		{"buffer of 1 MiB", func(t *testing.T) *wire.TensorMessage { return fullResponse(t, 1<<20, "Success") }, true},
		{"long message", func(t *testing.T) *wire.TensorMessage { return fullResponse(t, 2000, strings.Repeat("long ", 400)) }, true},
		{"negative numbers", func(t *testing.T) *wire.TensorMessage {
			m := fullResponse(t, 3000, "Success")
			m.Version, m.Tensors[0].Version, m.ReturnCode = -1, -204, -3
			return m
		}, true},
		{"only a buffer", func(t *testing.T) *wire.TensorMessage {
			return &wire.TensorMessage{Tensors: []*wire.Tensor{{Buffer: []byte("data")}}}
		}, true},
		{"not registered", func(t *testing.T) *wire.TensorMessage { return fullResponse(t, 5000, "Success") }, false},
		{"no tensor", func(*testing.T) *wire.TensorMessage {
			return &wire.TensorMessage{Version: wire.Version, Hotkey: "5Hotkey", ReturnCode: wire.ReturnCode_Timeout, Message: "late"}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(Config{Wallet: wallet.Mock("axon"), MaxAnswerBytes: 1 << 30, MaxAnswerBytesPerPeer: 1 << 30}, zeros)
			require.NoError(t, err)
			defer a.Stop()
			m := tt.msg(t)
			want, err := proto.Marshal(m)
			require.NoError(t, err)
			orig := proto.Clone(m).(*wire.TensorMessage)
			var buf []byte
			if tt.register {
				require.True(t, a.budget.TryAcquire("", 1<<30))
				ans := a.newAnswer(nil, 1<<30)
				proto.Merge(&ans.resp, m)
				m = &ans.resp
				buf = m.Tensors[0].Buffer
				ans.hand(&buf)
			}

			out, err := answerCodec{answers: a.answers}.Marshal(m)
			require.NoError(t, err)
			got := out.Materialize()
			assert.Equal(t, want, got, "the bytes proto.Marshal writes")
			var back wire.TensorMessage
			require.NoError(t, proto.Unmarshal(got, &back))
			assert.True(t, proto.Equal(orig, &back), "decodes to the response")
			assert.True(t, proto.Equal(orig, m), "the message is left as it was")
			if !tt.register {
				return
			}
			require.Len(t, out, 3, "the bytes before the buffer, the buffer, the bytes after")
			assert.Same(t, &buf[0], &out[1].ReadOnlyData()[0], "the buffer is handed over, not copied")
			_, registered := a.answers.Load(m)
			assert.False(t, registered, "the codec takes the answer")

			if len(buf) > 1024 { // smaller buffers are not pooled by gRPC, and released at once
				assert.False(t, a.budget.TryAcquire("", 1), "the budget is held until gRPC frees the buffer")
			}
			out.Free()
			assert.True(t, a.budget.TryAcquire("", 1<<30), "the budget is released once freed")
		})
	}
}

func TestCodecMarshalsOtherMessages(t *testing.T) {
	n := &wire.Neuron{Version: wire.Version, Uid: 7, Hotkey: "5Hotkey", Ip: "127.0.0.1", Port: 8091}
	want, err := proto.Marshal(n)
	require.NoError(t, err)
	out, err := answerCodec{answers: &sync.Map{}}.Marshal(n)
	require.NoError(t, err)
	assert.Equal(t, want, out.Materialize())
	out.Free()
}

func TestBufferPoolGet(t *testing.T) {
	var p bufferPool
	for _, n := range []int{0, 10, 5000, 3} {
		b := p.Get(n)
		assert.Len(t, *b, n)
		p.Put(b)
	}
}

// payloadChecker is a stats handler that reads every answer gRPC reports
// sending, as a tracing or logging handler would, and checks it: Success
// answers of this test hold one value throughout, and the length gRPC
// reports is the answer's marshaled size.
type payloadChecker struct {
	t       *testing.T
	checked atomic.Int32
}

func (h *payloadChecker) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (h *payloadChecker) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (h *payloadChecker) HandleConn(context.Context, stats.ConnStats) {}

func (h *payloadChecker) HandleRPC(_ context.Context, s stats.RPCStats) {
	out, ok := s.(*stats.OutPayload)
	if !ok {
		return
	}
	m := out.Payload.(*wire.TensorMessage)
	assert.Equal(h.t, proto.Size(m), out.Length, "the payload is the message gRPC sent")
	if m.ReturnCode != wire.ReturnCode_Success {
		return
	}
	dec, err := tensor.Decode(m.Tensors[0].Buffer, tensor.Msgpack, tensor.Float32)
	if !assert.NoError(h.t, err) {
		return
	}
	vals := dec.Float32s()
	for _, v := range vals {
		if v != vals[0] {
			assert.Failf(h.t, "foreign value in a payload", "%v among %v", v, vals[0])
			return
		}
	}
	h.checked.Add(1)
}

// TestCodecUnderStatsHandler serves the axon with its own server options
// and a stats handler that reads every answer after gRPC has sent it, while
// six clients query at once, each answer filled with a value of its own:
// the handler, the clients and the race detector must all see intact
// answers, as the codec neither reuses a message nor gives a buffer back
// before gRPC is done with it.
func TestCodecUnderStatsHandler(t *testing.T) {
	fill := func(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		b, s := in.Shape[0], in.Shape[1]
		vals := make([]float32, b*s*wire.NetworkDim)
		for i := range vals {
			vals[i] = float32(in.Int64s()[0])
		}
		return tensor.FromFloat32([]int64{b, s, wire.NetworkDim}, vals), nil
	}
	a, err := New(Config{Wallet: wallet.Mock("axon"), Workers: 4}, fill)
	require.NoError(t, err)
	h := &payloadChecker{t: t}
	srv := grpc.NewServer(append(a.serverOptions(), grpc.StatsHandler(h))...)
	wire.RegisterBittensorServer(srv, a)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(a.listen(lis)) }()
	defer func() {
		srv.Stop()
		require.NoError(t, <-served)
		a.Stop()
	}()

	c := client(t, lis.Addr().String())
	var wg sync.WaitGroup
	const goroutines, calls = 6, 15
	for g := range goroutines {
		signer := newSigner(t, "client")
		wg.Go(func() {
			for i := range calls {
				in := tokens(int64(1+(g+i)%3), int64(1+i%4))
				ids := in.Int64s()
				ids[0] = int64(100*g + i)
				resp, err := c.Forward(signed(t, signer), textRequest(t, tensor.FromInt64(in.Shape, ids)))
				if !assert.NoError(t, err) || !assert.Equal(t, wire.ReturnCode_Success, resp.ReturnCode, resp.Message) {
					return
				}
				out, err := tensor.Decode(resp.Tensors[0].Buffer, tensor.Msgpack, tensor.Float32)
				if !assert.NoError(t, err) {
					return
				}
				for _, v := range out.Float32s() {
					if v != float32(ids[0]) {
						assert.Failf(t, "foreign value", "goroutine %d call %d got %v", g, i, v)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(goroutines*calls), h.checked.Load(), "the stats handler read every answer")
}
