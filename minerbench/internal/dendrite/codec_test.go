package dendrite

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// FuzzReplyParse checks reply.parse against proto.Unmarshal: both accept
// the same bytes, and read the same code, tensor count and first tensor.
func FuzzReplyParse(f *testing.F) {
	good := answer(f, floats(2, 3, wire.NetworkDim))
	two := proto.Clone(good).(*wire.TensorMessage)
	two.Tensors = append(two.Tensors, &wire.Tensor{Buffer: []byte{1}, Shape: []int64{-1}})
	two.Message = "two"
	for _, m := range []*wire.TensorMessage{good, two, {}, {ReturnCode: wire.ReturnCode_Timeout, Message: "late"}} {
		b, err := proto.Marshal(m)
		require.NoError(f, err)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	// Shape unpacked, a tensor in two pieces, a wrong wire type, bad UTF-8.
	unpacked := protowire.AppendTag(nil, fieldShape, protowire.VarintType)
	unpacked = protowire.AppendVarint(unpacked, 7)
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, fieldTensors, protowire.BytesType), unpacked))
	f.Add(protowire.AppendVarint(protowire.AppendTag(nil, fieldTensors, protowire.VarintType), 3))
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, fieldMessage, protowire.BytesType), []byte{0xff}))
	f.Add(protowire.AppendVarint(protowire.AppendTag(nil, fieldReturnCode, protowire.VarintType), math.MaxUint64))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m wire.TensorMessage
		perr := proto.Unmarshal(b, &m)
		var r reply
		rerr := r.parse(b)
		require.Equal(t, perr == nil, rerr == nil, "proto: %v; parse: %v", perr, rerr)
		if perr != nil {
			return
		}
		assert.Equal(t, m.ReturnCode, r.code)
		require.Equal(t, len(m.Tensors), r.tensors)
		if r.tensors == 0 {
			return
		}
		t0 := m.Tensors[0]
		assert.Equal(t, len(t0.Buffer), len(r.buffer))
		assert.Equal(t, string(t0.Buffer), string(r.buffer))
		assert.Equal(t, len(t0.Shape), len(r.shape))
		if len(t0.Shape) > 0 {
			assert.Equal(t, t0.Shape, r.shape)
		}
		assert.Equal(t, t0.Serializer, r.serializer)
		assert.Equal(t, t0.Dtype, r.dtype)
	})
}

// TestRecycledBuffersAreNotRead overwrites every received message as its
// buffer goes back to the pool: a dendrite that read a reply after
// recycling it would see garbage and record another code, and outputs
// ForwardText returned from a recycled buffer would change. It also
// counts the buffers Measure recycles: one per call.
func TestRecycledBuffersAreNotRead(t *testing.T) {
	var recycled atomic.Int64
	put := recycle
	recycle = func(b *[]byte) {
		recycled.Add(1)
		for i := range *b {
			(*b)[i] = 0xff // a msgpack negative fixint: no tensor decodes from it
		}
		put(b)
	}
	t.Cleanup(func() { recycle = put })

	// Each answer is filled with its query's first token.
	f := &fake{respond: func(_ context.Context, req *wire.TensorMessage) (*wire.TensorMessage, error) {
		in, err := tensor.Decode(req.Tensors[0].Buffer, tensor.Msgpack, tensor.Int64)
		if err != nil {
			return nil, err
		}
		vals := make([]float32, 2*3*wire.NetworkDim)
		for i := range vals {
			vals[i] = float32(in.Int64s()[0])
		}
		return answer(t, tensor.FromFloat32([]int64{2, 3, wire.NetworkDim}, vals)), nil
	}}
	d := dial(t, serveFake(t, f))
	const workers, calls = 4, 20
	kept := make([][]tensor.Tensor, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				ids := make([]int64, 2*3)
				ids[0] = int64(w*calls + i)
				in := tensor.FromInt64([]int64{2, 3}, ids)
				code, _ := d.Measure(context.Background(), in)
				if !assert.Equal(t, wire.ReturnCode_Success, code, "Measure") {
					return
				}
				out, code, _ := d.ForwardText(context.Background(), in)
				if !assert.Equal(t, wire.ReturnCode_Success, code, "ForwardText") {
					return
				}
				kept[w] = append(kept[w], out)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(workers*calls), recycled.Load(), "one recycled buffer per Measure, none per ForwardText")
	for w, outs := range kept {
		require.Len(t, outs, calls)
		for i, out := range outs {
			want := float32(w*calls + i)
			for j, v := range out.Float32s() {
				if v != want {
					t.Fatalf("worker %d call %d: output %d is %v, want %v", w, i, j, v, want)
				}
			}
		}
	}
}

func TestBufferPool(t *testing.T) {
	var p bufferPool
	for _, n := range []int{0, 1, 255, 256, 257, 16384, 410_000} {
		b := p.Get(n)
		assert.Len(t, *b, n)
		assert.Equal(t, 1<<sizeClass(n), cap(*b), "size %d: capacity of its class", n)
		assert.GreaterOrEqual(t, cap(*b), n)
	}
	b := p.Get(1000)
	(*b)[0] = 7
	p.Put(b)
	again := p.Get(600) // the same class, 1024 bytes
	assert.Len(t, *again, 600)
	if again == b { // sync.Pool may drop what it holds (it does at random under -race)
		assert.Equal(t, byte(7), (*again)[0], "reused, not zeroed")
	}

	odd := make([]byte, 1000)
	p.Put(&odd) // not a class's capacity: dropped
	got := p.Get(1000)
	assert.Equal(t, 1024, cap(*got))
}

// TestForwardTextOutputsAreTheCallers checks that outputs ForwardText
// returned stay as they were through later calls of other shapes, which
// reuse the dendrite's request and reply.
func TestForwardTextOutputsAreTheCallers(t *testing.T) {
	addr, _ := serveAxon(t, axon.Config{})
	d := dial(t, addr)
	out, code, _ := d.ForwardText(context.Background(), tokens(2, 3))
	require.Equal(t, wire.ReturnCode_Success, code)
	for range 3 {
		_, code, _ = d.ForwardText(context.Background(), tokens(1, 4))
		require.Equal(t, wire.ReturnCode_Success, code)
		code, _ = d.Measure(context.Background(), tokens(4, 1))
		require.Equal(t, wire.ReturnCode_Success, code)
	}
	assert.Equal(t, []int64{2, 3, wire.NetworkDim}, out.Shape)
	assert.Len(t, out.Float32s(), 2*3*wire.NetworkDim)
}
