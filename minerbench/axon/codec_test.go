package axon

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/minerbench/minerbench/minerbench/wire"
)

// recordingPool records the buffers given back to it.
type recordingPool struct {
	mu  sync.Mutex
	put []*[]byte
}

func (p *recordingPool) Get(n int) *[]byte {
	b := make([]byte, n)
	return &b
}

func (p *recordingPool) Put(b *[]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.put = append(p.put, b)
}

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
// proto.Marshal writes, hands the tensor buffer over without copying it,
// gets it back only once gRPC frees the marshaled bytes, and recycles the
// response without its buffer.
func TestCodecMarshalsAsProto(t *testing.T) {
	tests := []struct {
		name string
		msg  func(*testing.T) *wire.TensorMessage
	}{
		{"every field set", func(t *testing.T) *wire.TensorMessage { return fullResponse(t, 5000, "Success") }},
		{"buffer below gRPC's pooling threshold", func(t *testing.T) *wire.TensorMessage { return fullResponse(t, 10, "Success") }},
		{"buffer of 1 MiB", func(t *testing.T) *wire.TensorMessage { return fullResponse(t, 1<<20, "Success") }},
		{"long message", func(t *testing.T) *wire.TensorMessage { return fullResponse(t, 2000, strings.Repeat("long ", 400)) }},
		{"negative numbers", func(t *testing.T) *wire.TensorMessage {
			m := fullResponse(t, 3000, "Success")
			m.Version, m.Tensors[0].Version, m.ReturnCode = -1, -204, -3
			return m
		}},
		{"only a buffer", func(t *testing.T) *wire.TensorMessage {
			return &wire.TensorMessage{Tensors: []*wire.Tensor{{Buffer: []byte("data")}}}
		}},
		{"no tensor", func(*testing.T) *wire.TensorMessage {
			return &wire.TensorMessage{Version: wire.Version, Hotkey: "5Hotkey", ReturnCode: wire.ReturnCode_Timeout, Message: "late", Tensors: []*wire.Tensor{{}}[:0]}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.msg(t)
			want, err := proto.Marshal(m)
			require.NoError(t, err)
			orig := proto.Clone(m).(*wire.TensorMessage)
			var buf []byte
			if len(m.Tensors) == 1 {
				buf = m.Tensors[0].Buffer
			}
			responses := &sync.Pool{}
			buffers := &recordingPool{}
			c := recyclingCodec{responses: responses, buffers: buffers}

			out, err := c.Marshal(m)
			require.NoError(t, err)
			got := out.Materialize()
			assert.Equal(t, want, got, "the bytes proto.Marshal writes")
			var back wire.TensorMessage
			require.NoError(t, proto.Unmarshal(got, &back))
			assert.True(t, proto.Equal(orig, &back), "decodes to the response")
			if len(buf) > 0 {
				require.Len(t, out, 3, "the bytes before the buffer, the buffer, the bytes after")
				assert.Same(t, &buf[0], &out[1].ReadOnlyData()[0], "the buffer is handed over, not copied")
			}

			assert.Empty(t, buffers.put, "the buffer is in use until gRPC frees it")
			out.Free()
			if len(buf) > 1024 { // smaller buffers are left to the collector, as gRPC's own
				require.Len(t, buffers.put, 1, "the buffer goes back once freed")
				assert.Same(t, &buf[0], &(*buffers.put[0])[0])
			}

			// The response is put back in responses; sync.Pool may drop it
			// (it does at random under the race detector), so only its
			// state is checked.
			assert.Empty(t, m.Tensors)
			assert.Empty(t, m.Message)
			if cap(m.Tensors) > 0 {
				assert.Nil(t, m.Tensors[:1][0].Buffer, "the recycled response keeps no buffer")
			}
		})
	}
}

func TestCodecMarshalsOtherMessages(t *testing.T) {
	n := &wire.Neuron{Version: wire.Version, Uid: 7, Hotkey: "5Hotkey", Ip: "127.0.0.1", Port: 8091}
	want, err := proto.Marshal(n)
	require.NoError(t, err)
	responses := &sync.Pool{}
	out, err := recyclingCodec{responses: responses, buffers: &recordingPool{}}.Marshal(n)
	require.NoError(t, err)
	assert.Equal(t, want, out.Materialize())
	out.Free()
	assert.Nil(t, responses.Get(), "only responses are recycled")
}

func TestBufferPoolGet(t *testing.T) {
	var p bufferPool
	for _, n := range []int{0, 10, 5000, 3} {
		b := p.Get(n)
		assert.Len(t, *b, n)
		p.Put(b)
	}
}
