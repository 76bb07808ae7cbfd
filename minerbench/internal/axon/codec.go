package axon

import (
	"sync"

	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// Field numbers of the bytes the codec hands over without copying: the
// tensors of a TensorMessage and the buffer of a Tensor.
const (
	fieldTensors protowire.Number = 5
	fieldBuffer  protowire.Number = 2
)

// answerCodec is the proto codec, except for the Success answers Forward
// registers in answers: those it marshals without copying their tensor's
// buffer, and it hands gRPC that buffer tied to its answer, so that the
// answer learns when gRPC has written it.
//
// Such an answer holds one tensor whose buffer Forward encoded into one of
// the axon's buffers. The marshaled answer is the bytes before that buffer,
// the buffer itself, and the bytes after it, together exactly the bytes
// proto.Marshal writes. gRPC copies them to the connection and then frees
// the buffer, which gives it back to the axon's buffers and releases the
// answer's budget.
//
// The codec leaves the message as it found it, and gRPC frees the buffer
// only once the call's SendMsg has returned, after any stats handler or
// binary logger has seen the message, so those read it intact.
type answerCodec struct {
	answers *sync.Map // *wire.TensorMessage → *answer, until marshaled
}

var protoCodec = encoding.GetCodecV2("proto")

// Marshal marshals v, splicing in the buffer of a registered answer.
func (c answerCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*wire.TensorMessage)
	if !ok {
		return protoCodec.Marshal(v)
	}
	x, ok := c.answers.LoadAndDelete(m)
	if !ok {
		return protoCodec.Marshal(v)
	}
	ans := x.(*answer)
	out, err := splice(m, ans)
	if err != nil {
		ans.release()
		return nil, err
	}
	return out, nil
}

// splice marshals m, whose one tensor's buffer is *ans.buf, as three
// buffers: the bytes before the tensor's buffer, the buffer, and the bytes
// after it. Freeing the middle one gives the buffer back through ans.
func splice(m *wire.TensorMessage, ans *answer) (mem.BufferSlice, error) {
	// The tensor without its buffer and the message without its tensor,
	// then from them the bytes before the buffer and after it.
	t, tensors := m.Tensors[0], m.Tensors
	buf := t.Buffer
	t.Buffer = nil
	b, err := proto.MarshalOptions{}.MarshalAppend(make([]byte, 0, 512), t)
	t.Buffer = buf
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
	middle := mem.NewBuffer(ans.buf, ans)
	if _, unpooled := middle.(mem.SliceBuffer); unpooled {
		// Too small for gRPC to free it: the answer is released at once.
		ans.release()
	}
	return mem.BufferSlice{
		mem.SliceBuffer(b[mn:after]),
		middle,
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

// Unmarshal is the proto codec's.
func (c answerCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return protoCodec.Unmarshal(data, v)
}

// Name is the proto codec's.
func (c answerCodec) Name() string { return protoCodec.Name() }

// bufferPool holds the axon's tensor buffers, up to the largest answer each:
// Forward encodes an answer's tensor into one, and it comes back once gRPC
// has written the answer.
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
