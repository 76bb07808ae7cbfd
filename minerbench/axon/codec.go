package axon

import (
	"sync"

	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/minerbench/minerbench/minerbench/wire"
)

// Field numbers of the bytes the codec hands over without copying: the
// tensors of a TensorMessage and the buffer of a Tensor.
const (
	fieldTensors protowire.Number = 5
	fieldBuffer  protowire.Number = 2
)

// recyclingCodec is the proto codec with two additions for the axon's
// responses, which hold at most one tensor, whose buffer Forward encoded
// into one of the axon's tensor buffers.
//
// The tensor buffer is not copied into gRPC's buffers: the marshaled
// response is the bytes before it, the tensor buffer itself, and the bytes
// after it, together exactly the bytes proto.Marshal writes. gRPC copies
// them as it writes the response to the connection, and then gives the
// tensor buffer back to the axon's buffers.
//
// Once marshaled, a response goes back to the axon's pool of responses.
// The axon's server marshals nothing but its own responses and installs no
// stats handler, so no one holds a response after Marshal.
type recyclingCodec struct {
	responses *sync.Pool     // of *wire.TensorMessage
	buffers   mem.BufferPool // where the tensor buffers go once written
}

var protoCodec = encoding.GetCodecV2("proto")

// Marshal marshals v and recycles it when it is a response.
func (c recyclingCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*wire.TensorMessage)
	if !ok {
		return protoCodec.Marshal(v)
	}
	defer c.recycle(m)
	if len(m.Tensors) != 1 || m.Tensors[0] == nil || len(m.Tensors[0].Buffer) == 0 {
		return protoCodec.Marshal(v)
	}
	// The tensor without its buffer and the message without its tensor,
	// then from them the bytes before the buffer and after it.
	t, tensors := m.Tensors[0], m.Tensors
	buf := t.Buffer
	t.Buffer = nil
	b, err := proto.MarshalOptions{}.MarshalAppend(make([]byte, 0, 512), t)
	if err != nil {
		return nil, err
	}
	tn := len(b)
	m.Tensors = nil
	b, err = proto.MarshalOptions{}.MarshalAppend(b, m)
	m.Tensors = tensors
	if err != nil {
		return nil, err
	}
	mn := len(b)
	ts, ms := fieldsBefore(b[:tn], fieldBuffer), tn+fieldsBefore(b[tn:mn], fieldTensors)
	b = append(b, b[tn:ms]...)
	b = protowire.AppendTag(b, fieldTensors, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(tn+protowire.SizeTag(fieldBuffer)+protowire.SizeBytes(len(buf))))
	b = append(b, b[:ts]...)
	b = protowire.AppendTag(b, fieldBuffer, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(buf)))
	after := len(b)
	b = append(b, b[ts:tn]...)
	b = append(b, b[ms:mn]...)
	return mem.BufferSlice{
		mem.SliceBuffer(b[mn:after]),
		mem.NewBuffer(&buf, c.buffers),
		mem.SliceBuffer(b[after:]),
	}, nil
}

// fieldsBefore returns the length of the fields of the marshaled message b
// whose numbers are below n; proto.Marshal writes fields in the order of
// their numbers.
func fieldsBefore(b []byte, n protowire.Number) int {
	i := 0
	for i < len(b) {
		num, typ, tl := protowire.ConsumeTag(b[i:])
		if tl < 0 || num >= n {
			break
		}
		vl := protowire.ConsumeFieldValue(num, typ, b[i+tl:])
		if vl < 0 {
			break
		}
		i += tl + vl
	}
	return i
}

// recycle gives a marshaled response back to the pool, its tensor (if any)
// kept in Tensors' backing array without its buffer.
func (c recyclingCodec) recycle(m *wire.TensorMessage) {
	if cap(m.Tensors) == 0 {
		return
	}
	m.Tensors = m.Tensors[:1]
	if t := m.Tensors[0]; t != nil {
		t.Buffer = nil
	}
	m.Tensors = m.Tensors[:0]
	m.Message = ""
	c.responses.Put(m)
}

// Unmarshal is the proto codec's.
func (c recyclingCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return protoCodec.Unmarshal(data, v)
}

// Name is the proto codec's.
func (c recyclingCodec) Name() string { return protoCodec.Name() }

// bufferPool holds the axon's tensor buffers, up to the largest answer each:
// Forward encodes a response's tensor into one, and gRPC puts it back once
// it has written the response.
type bufferPool struct {
	pool sync.Pool // of *[]byte
}

// Get returns a buffer of length n, reusing a free one with room for n.
func (p *bufferPool) Get(n int) *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n)
	return &b
}

// Put makes b free for reuse.
func (p *bufferPool) Put(b *[]byte) {
	p.pool.Put(b)
}
