package axon

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/minerbench/minerbench/minerbench/wallet"
	"github.com/minerbench/minerbench/minerbench/wire"
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
			a, err := New(Config{Wallet: wallet.Mock("axon"), MaxAnswerBytes: 1 << 30}, zeros)
			require.NoError(t, err)
			defer a.Stop()
			m := tt.msg(t)
			want, err := proto.Marshal(m)
			require.NoError(t, err)
			orig := proto.Clone(m).(*wire.TensorMessage)
			var buf []byte
			if tt.register {
				require.True(t, a.budget.TryAcquire(1<<30))
				buf = m.Tensors[0].Buffer
				a.newAnswer(context.Background(), 1<<30).hand(m, &buf)
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
				assert.False(t, a.budget.TryAcquire(1), "the budget is held until gRPC frees the buffer")
			}
			out.Free()
			assert.True(t, a.budget.TryAcquire(1<<30), "the budget is released once freed")
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
