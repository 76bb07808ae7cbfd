package dendrite

import (
	"fmt"
	"math/bits"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// The fields of a TensorMessage and of a Tensor that reply reads.
const (
	fieldHotkey     protowire.Number = 2
	fieldTensors    protowire.Number = 5
	fieldReturnCode protowire.Number = 6
	fieldMessage    protowire.Number = 7

	fieldBuffer     protowire.Number = 2
	fieldShape      protowire.Number = 3
	fieldSerializer protowire.Number = 4
	fieldDtype      protowire.Number = 6
)

// reply is a forward response as the dendrite checks it.
//
// It holds the return code, how many tensors there are, and the first
// tensor's fields. That tensor's buffer is a view of the received message.
// The message is copied once, out of gRPC's buffers into one of the
// dendrite's (msg). recycle returns msg once the answer has been checked.
// When the caller keeps the outputs, the copy goes to a buffer of its own
// instead.
type reply struct {
	keep       bool    // the caller keeps the outputs: msg is not from buffers
	msg        *[]byte // the received message, or nil
	code       wire.ReturnCode
	tensors    int
	buffer     []byte  // of the first tensor, a view of *msg
	shape      []int64 // of the first tensor; its backing array is reused
	serializer wire.Serializer
	dtype      wire.DataType
}

// replyCodec is the proto codec, but reads a response into a *reply.
//
// It does so without allocating. Unmarshal copies the message into a
// buffer from buffers and parses it in place, as proto.Unmarshal would
// parse a wire.TensorMessage.
type replyCodec struct{}

var protoCodec = encoding.GetCodecV2("proto")

// Marshal is the proto codec's.
func (replyCodec) Marshal(v any) (mem.BufferSlice, error) { return protoCodec.Marshal(v) }

// Unmarshal reads data into v, an *reply or a proto message.
func (replyCodec) Unmarshal(data mem.BufferSlice, v any) error {
	a, ok := v.(*reply)
	if !ok {
		return protoCodec.Unmarshal(data, v)
	}
	if a.keep {
		b := data.Materialize()
		a.msg = &b
	} else {
		a.msg = buffers.Get(data.Len())
		data.CopyTo(*a.msg)
	}
	return a.parse(*a.msg)
}

// Name is the proto codec's, so the content-subtype on the wire stays
// proto.
func (replyCodec) Name() string { return protoCodec.Name() }

// parse reads the TensorMessage in b, keeping what reply holds.
//
// It accepts and refuses what proto.Unmarshal does for a
// wire.TensorMessage. A field of an unexpected wire type is skipped as
// unknown. A repeated scalar may be packed or not. The last value of a
// scalar field wins. The strings must be valid UTF-8.
func (a *reply) parse(b []byte) error {
	a.code, a.tensors = 0, 0
	a.buffer, a.shape, a.serializer, a.dtype = nil, a.shape[:0], 0, 0
	return walk(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch {
		case num == fieldReturnCode && typ == protowire.VarintType:
			return consumeEnum(b, &a.code), nil
		case num == fieldTensors && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return n, nil
			}
			a.tensors++
			if a.tensors == 1 {
				return n, a.parseTensor(v)
			}
			var other reply // a later tensor is checked, not kept
			return n, other.parseTensor(v)
		case (num == fieldHotkey || num == fieldMessage) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n >= 0 && !utf8.Valid(v) {
				return n, fmt.Errorf("TensorMessage field %d: invalid UTF-8; want a string", num)
			}
			return n, nil
		}
		return protowire.ConsumeFieldValue(num, typ, b), nil
	})
}

// parseTensor reads a Tensor message into the first tensor's fields.
func (a *reply) parseTensor(b []byte) error {
	return walk(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch {
		case num == fieldBuffer && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			a.buffer = v
			return n, nil
		case num == fieldShape && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			a.shape = append(a.shape, int64(v))
			return n, nil
		case num == fieldShape && typ == protowire.BytesType:
			packed, n := protowire.ConsumeBytes(b)
			for len(packed) > 0 {
				v, vn := protowire.ConsumeVarint(packed)
				if vn < 0 {
					return vn, nil
				}
				a.shape = append(a.shape, int64(v))
				packed = packed[vn:]
			}
			return n, nil
		case num == fieldSerializer && typ == protowire.VarintType:
			return consumeEnum(b, &a.serializer), nil
		case num == fieldDtype && typ == protowire.VarintType:
			return consumeEnum(b, &a.dtype), nil
		}
		return protowire.ConsumeFieldValue(num, typ, b), nil
	})
}

// consumeEnum reads an enum's varint into dst and returns its length.
// dst keeps the low 32 bits, as proto.Unmarshal does. A bad varint returns
// a protowire error code.
func consumeEnum[E ~int32](b []byte, dst *E) int {
	v, n := protowire.ConsumeVarint(b)
	*dst = E(int32(v))
	return n
}

// walk calls field for every field of the marshaled message b.
//
// field gets the bytes from the field's value on. It returns the length
// of the value, or a negative protowire error code when the value does not
// parse, and any other error.
func walk(b []byte, field func(protowire.Number, protowire.Type, []byte) (int, error)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if num > protowire.MaxValidNumber {
			return fmt.Errorf("proto: field number %d: want at most %d", num, protowire.MaxValidNumber)
		}
		b = b[n:]
		vn, err := field(num, typ, b)
		if err != nil {
			return err
		}
		if vn < 0 {
			return protowire.ParseError(vn)
		}
		b = b[vn:]
	}
	return nil
}

// bufferPool holds byte buffers in size classes of powers of two, and
// hands them out without zeroing them. It is the pool of the dendrite's
// connections, where gRPC reads frames into buffers it fills before reading
// them (its default pool zeroes every buffer it hands out), and of the
// messages the dendrite receives replies into. It is safe for concurrent
// use.
type bufferPool struct {
	classes [maxClass + 1]sync.Pool // of *[]byte with capacity 1<<class
}

// maxClass is the largest size class kept, 2^27 bytes: room for a message
// of wire.MaxMessageSize.
const maxClass = 27

// sizeClass returns the smallest class whose buffers hold n bytes.
func sizeClass(n int) int { return bits.Len(uint(max(n, 1) - 1)) }

// Get returns a buffer of length n whose contents are undefined.
func (p *bufferPool) Get(n int) *[]byte {
	c := sizeClass(n)
	if c > maxClass {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<c)
	return &b
}

// Put makes b free for reuse; a buffer of a capacity Get does not hand out
// is dropped.
func (p *bufferPool) Put(b *[]byte) {
	if c := sizeClass(cap(*b)); c <= maxClass && cap(*b) == 1<<c {
		p.classes[c].Put(b)
	}
}

// buffers is the pool of every dendrite.
var buffers bufferPool

// recycle gives a received message's buffer back for reuse; nothing may
// read it afterwards. Tests replace it to overwrite the buffer first.
var recycle = buffers.Put
