package tensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/tinylib/msgp/msgp"
)

// The five keys of the msgpack-numpy map, in msgpack-numpy's order.
var (
	keyND    = []byte("nd")
	keyType  = []byte("type")
	keyKind  = []byte("kind")
	keyShape = []byte("shape")
	keyData  = []byte("data")
)

// encodedLen returns the length of the map Encode writes.
//
// It is exact for the given shape and n data bytes. So Encode grows dst at
// most once, and not at all when dst has room for a previous buffer of the
// same shape.
func encodedLen(shape []int64, n int) int {
	// Map header, the five keys, true, the 3-byte dtype str, empty kind.
	size := 1 + 4 + 6 + 6 + 7 + 6 + 1 + 4 + 2
	switch {
	case len(shape) <= 15:
		size++
	default: // MaxRank fits an array16
		size += 3
	}
	for _, d := range shape {
		switch {
		case d <= math.MaxInt8:
			size++
		case d <= math.MaxUint8:
			size += 2
		case d <= math.MaxUint16:
			size += 3
		case d <= math.MaxUint32:
			size += 5
		default:
			size += 9
		}
	}
	switch {
	case n <= math.MaxUint8:
		size += 2
	case n <= math.MaxUint16:
		size += 3
	default:
		size += 5
	}
	return size + n
}

// Encode appends t serialized with s to dst and returns the extended slice.
//
// It grows dst at most once. A reused dst[:0] encodes without allocating.
// t must pass Validate, and its Data must fit a bin32 (< 4 GiB).
//
// Msgpack writes the msgpack-numpy map byte for byte as Python's msgpack
// 1.0 with msgpack-numpy 0.4 does. Keys are bin, type is str, and kind is
// an empty bin. shape is an array of unsigned ints, and data is bin. It
// takes any DType with a size. Cmppack writes the same map holding "<f2"
// values. It narrows Float32 and Float64 tensors to binary16, to nearest
// with ties to even, and overflow becomes ±inf. Float16 tensors are
// written as they are.
func Encode(dst []byte, t Tensor, s Serializer) ([]byte, error) {
	if err := t.Validate(); err != nil {
		return dst, withOp(err, "encode")
	}
	wire := t.DType
	switch s {
	case Msgpack:
	case Cmppack:
		if t.DType != Float16 && t.DType != Float32 && t.DType != Float64 {
			return dst, &Error{Op: "encode", Field: "dtype", Reason: ErrUnsupportedDType,
				Detail: fmt.Sprintf("%s for CMPPACK; want Float16, Float32 or Float64", t.DType)}
		}
		wire = Float16
	default:
		return dst, &Error{Op: "encode", Field: "serializer", Reason: ErrSerializer,
			Detail: fmt.Sprintf("%s; want MSGPACK or CMPPACK", s)}
	}
	n := len(t.Data) / t.DType.Size() * wire.Size()
	if uint64(n) > math.MaxUint32 {
		return dst, &Error{Op: "encode", Field: "data", Reason: ErrOverflow,
			Detail: fmt.Sprintf("%d bytes; msgpack bin holds at most %d", n, uint32(math.MaxUint32))}
	}

	dst = slices.Grow(dst, encodedLen(t.Shape, n))
	dst = msgp.AppendMapHeader(dst, 5)
	dst = msgp.AppendBytes(dst, keyND)
	dst = msgp.AppendBool(dst, true)
	dst = msgp.AppendBytes(dst, keyType)
	dst = msgp.AppendString(dst, wire.String())
	dst = msgp.AppendBytes(dst, keyKind)
	dst = msgp.AppendBytes(dst, nil)
	dst = msgp.AppendBytes(dst, keyShape)
	dst = msgp.AppendArrayHeader(dst, uint32(len(t.Shape)))
	for _, d := range t.Shape {
		dst = msgp.AppendUint64(dst, uint64(d))
	}
	dst = msgp.AppendBytes(dst, keyData)
	if wire == t.DType {
		return msgp.AppendBytes(dst, t.Data), nil
	}
	dst = msgp.AppendBytesHeader(dst, uint32(n))
	start := len(dst)
	dst = dst[:start+n]
	narrowToHalf(dst[start:], t.Data, t.DType)
	return dst, nil
}

// Decode reads a tensor serialized with s from buf.
//
// dtype is the dtype the message declares. For Msgpack, dtype Unknown
// takes whatever dtype the buffer holds. Any other dtype must equal it
// (ErrDTypeMismatch). The returned Data aliases buf, so buf must not
// change while the tensor is in use. Shape is the one allocation.
//
// For Cmppack the buffer must hold "<f2" values, widened to dtype. Float32
// and Float64 cost one more allocation, for the widened Data. With Float16,
// Data aliases buf.
//
// Decode accepts keys, type, kind and data written as msgpack str or bin,
// and the keys in any order. It never panics. It refuses these with an
// *Error whose Reason says why:
//   - a buffer that is not a single msgpack map (ErrMalformed,
//     ErrTrailingData);
//   - a missing, repeated or unknown key;
//   - nd not true;
//   - a non-empty kind, since data is never unpickled;
//   - an unknown dtype string;
//   - a negative dimension, more than MaxRank dimensions, or sizes that
//     overflow;
//   - data whose length is not the shape's product times the element size.
func Decode(buf []byte, s Serializer, dtype DType) (Tensor, error) {
	return DecodeTo(nil, buf, s, dtype)
}

// DecodeTo is Decode into a shape the caller provides.
//
// The decoded Shape is shape[:rank] when shape has room for rank
// dimensions. So a caller reusing shape decodes MSGPACK without
// allocating. Without room, a new Shape is allocated, as in Decode.
func DecodeTo(shape []int64, buf []byte, s Serializer, dtype DType) (Tensor, error) {
	switch s {
	case Msgpack:
		if dtype != Unknown && dtype.Size() == 0 {
			return Tensor{}, &Error{Op: "decode", Field: "dtype", Reason: ErrUnsupportedDType,
				Detail: fmt.Sprintf("%s for MSGPACK; want Unknown, Float16, Float32, Float64, Int32 or Int64", dtype)}
		}
	case Cmppack:
		if dtype != Float16 && dtype != Float32 && dtype != Float64 {
			return Tensor{}, &Error{Op: "decode", Field: "dtype", Reason: ErrUnsupportedDType,
				Detail: fmt.Sprintf("%s for CMPPACK; want Float16, Float32 or Float64", dtype)}
		}
	default:
		return Tensor{}, &Error{Op: "decode", Field: "serializer", Reason: ErrSerializer,
			Detail: fmt.Sprintf("%s; want MSGPACK or CMPPACK", s)}
	}
	t, err := decodeMap(shape, buf)
	if err != nil {
		return Tensor{}, withOp(err, "decode")
	}
	if s == Msgpack {
		if dtype != Unknown && dtype != t.DType {
			return Tensor{}, &Error{Op: "decode", Field: "type", Reason: ErrDTypeMismatch,
				Detail: fmt.Sprintf("buffer holds %s; want %s", t.DType, dtype)}
		}
		return t, nil
	}
	if t.DType != Float16 {
		return Tensor{}, &Error{Op: "decode", Field: "type", Reason: ErrDTypeMismatch,
			Detail: fmt.Sprintf("CMPPACK buffer holds %s; want %s", t.DType, Float16)}
	}
	if dtype == Float16 {
		return t, nil
	}
	// The size check in decodeMap bounds this allocation by 4×len(buf).
	wide := make([]byte, len(t.Data)/2*dtype.Size())
	widenHalf(wide, t.Data, dtype)
	return Tensor{DType: dtype, Shape: t.Shape, Data: wide}, nil
}

// Bits of the keys seen by decodeMap.
const (
	seenND = 1 << iota
	seenType
	seenKind
	seenShape
	seenData
)

// decodeMap parses and checks the msgpack-numpy map in buf.
// The shape is decoded into shape when it has room. Errors carry no Op.
func decodeMap(shape []int64, buf []byte) (Tensor, error) {
	var t Tensor
	n, b, err := msgp.ReadMapHeaderBytes(buf)
	if err != nil {
		return t, malformed("", "want a map of 5 entries", err)
	}
	seen := 0
	for range n {
		var key []byte
		key, b, err = readRaw(b)
		if err != nil {
			return t, malformed("", "want a str or bin key", err)
		}
		var bit int
		if bit, err = keyBit(key); err != nil {
			return t, err
		}
		if seen&bit != 0 {
			return t, &Error{Field: string(key), Reason: ErrDuplicateKey, Detail: "each key must occur once"}
		}
		seen |= bit
		if b, err = t.readValue(bit, shape, b); err != nil {
			return t, err
		}
	}
	for _, k := range []struct {
		bit  int
		name string
	}{{seenND, "nd"}, {seenType, "type"}, {seenKind, "kind"}, {seenShape, "shape"}, {seenData, "data"}} {
		if seen&k.bit == 0 {
			return t, &Error{Field: k.name, Reason: ErrMissingKey, Detail: "want nd, type, kind, shape and data"}
		}
	}
	if len(b) != 0 {
		return t, &Error{Reason: ErrTrailingData, Detail: fmt.Sprintf("%d bytes after the map; want none", len(b))}
	}
	if err := t.Validate(); err != nil {
		return t, err
	}
	return t, nil
}

// keyBit returns the bit of a msgpack-numpy key, or an error for another
// key.
func keyBit(key []byte) (int, error) {
	switch string(key) {
	case "nd":
		return seenND, nil
	case "type":
		return seenType, nil
	case "kind":
		return seenKind, nil
	case "shape":
		return seenShape, nil
	case "data":
		return seenData, nil
	}
	return 0, &Error{Field: quoteShort(string(key)), Reason: ErrUnknownKey,
		Detail: "want nd, type, kind, shape and data"}
}

// readValue reads the value of the key with bit from b into t, and returns
// the rest of b. The shape is decoded into shape when it has room.
func (t *Tensor) readValue(bit int, shape []int64, b []byte) ([]byte, error) {
	var err error
	switch bit {
	case seenND:
		var nd bool
		nd, b, err = msgp.ReadBoolBytes(b)
		if err != nil {
			return nil, malformed("nd", "want true", err)
		}
		if !nd {
			return nil, &Error{Field: "nd", Reason: ErrNotArray, Detail: "nd is false (a numpy scalar); want true"}
		}
	case seenType:
		var v []byte
		v, b, err = readRaw(b)
		if err != nil {
			return nil, malformed("type", "want a numpy dtype string", err)
		}
		if t.DType, err = ParseDType(string(v)); err != nil {
			return nil, err
		}
	case seenKind:
		var v []byte
		v, b, err = readRaw(b)
		if err != nil {
			return nil, malformed("kind", "want an empty bin", err)
		}
		if len(v) != 0 {
			return nil, &Error{Field: "kind", Reason: ErrKind,
				Detail: fmt.Sprintf("%s; want empty (object arrays are refused)", quoteShort(string(v)))}
		}
	case seenShape:
		if t.Shape, b, err = readShape(shape, b); err != nil {
			return nil, err
		}
	case seenData:
		if t.Data, b, err = readRaw(b); err != nil {
			return nil, malformed("data", "want a bin", err)
		}
	}
	return b, nil
}

// readRaw reads a msgpack str or bin from b without copying.
func readRaw(b []byte) (v, rest []byte, err error) {
	// msgp turns a 32-bit length into an int, which is negative on 32-bit
	// platforms for lengths of 2 GiB and more, and then slices with it;
	// refuse any length longer than the buffer first.
	if len(b) >= 5 && (b[0] == 0xc6 || b[0] == 0xdb) && uint64(binary.BigEndian.Uint32(b[1:])) > uint64(len(b)-5) {
		return nil, b, msgp.ErrShortBytes
	}
	if msgp.NextType(b) == msgp.BinType {
		return msgp.ReadBytesZC(b)
	}
	return msgp.ReadStringZC(b)
}

// readShape reads the shape array from b.
//
// It reads into dst when dst has room, else into a new slice. It refuses
// more than MaxRank dimensions before allocating. It also refuses negative
// or oversized dimensions.
func readShape(dst []int64, b []byte) ([]int64, []byte, error) {
	n, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return nil, b, malformed("shape", "want an array of ints", err)
	}
	if n > MaxRank {
		return nil, b, &Error{Field: "shape", Reason: ErrRank,
			Detail: fmt.Sprintf("%d dimensions; want at most %d", n, MaxRank)}
	}
	shape := dst[:0]
	if dst == nil || uint32(cap(dst)) < n {
		shape = make([]int64, n)
	}
	shape = shape[:n]
	for i := range shape {
		var d int64
		d, b, err = msgp.ReadInt64Bytes(b)
		if err != nil {
			var uo msgp.UintOverflow
			if errors.As(err, &uo) {
				return nil, b, &Error{Field: "shape", Reason: ErrOverflow,
					Detail: fmt.Sprintf("shape[%d] = %d; want at most %d", i, uo.Value, int64(math.MaxInt64))}
			}
			return nil, b, malformed("shape", fmt.Sprintf("shape[%d]: want an int", i), err)
		}
		if d < 0 {
			return nil, b, &Error{Field: "shape", Reason: ErrNegativeDim,
				Detail: fmt.Sprintf("shape[%d] = %d; want >= 0", i, d)}
		}
		shape[i] = d
	}
	return shape, b, nil
}

// malformed wraps a msgp error as an ErrMalformed *Error.
func malformed(field, want string, err error) error {
	return &Error{Field: field, Reason: ErrMalformed, Detail: want + ": " + err.Error()}
}
