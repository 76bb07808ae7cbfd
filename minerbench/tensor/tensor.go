// Package tensor holds the Tensor type and the wire protocol's serializers.
//
// The serializers are MSGPACK and CMPPACK, in the msgpack-numpy layout.
// Tensors are views. FromInt64 and FromFloat32 share the caller's slice.
// Decode returns Data that aliases the decoded buffer. Int64s and Float32s
// return slices over Data whenever the host's byte order and the alignment
// allow it. So a forward response costs at most one copy between the
// network and the []float32 a caller reads.
//
// It is a supported API, for miner authors.
package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// DType is an element type. Its values are those of wire.DataType.
type DType int32

// Element types, numbered as wire.DataType numbers them.
const (
	Unknown DType = 0
	Float32 DType = 1
	Float64 DType = 2
	Int32   DType = 3
	Int64   DType = 4
	UTF8    DType = 5
	Float16 DType = 6
)

// Size returns the size in bytes of one element of d.
// It is 0 for Unknown, UTF8 and values outside the list above, which have
// no fixed-size encoding.
func (d DType) Size() int {
	switch d {
	case Float16:
		return 2
	case Float32, Int32:
		return 4
	case Float64, Int64:
		return 8
	default:
		return 0
	}
}

// String returns the numpy dtype string of d, such as "<f4".
// A type without one gives "DType(n)".
func (d DType) String() string {
	switch d {
	case Float16:
		return "<f2"
	case Float32:
		return "<f4"
	case Float64:
		return "<f8"
	case Int32:
		return "<i4"
	case Int64:
		return "<i8"
	default:
		return fmt.Sprintf("DType(%d)", int32(d))
	}
}

// ParseDType returns the DType whose numpy dtype string is s.
// It accepts "<f2", "<f4", "<f8", "<i4" and "<i8". Anything else gets an
// *Error whose Reason is ErrUnknownDType.
func ParseDType(s string) (DType, error) {
	switch s {
	case "<f2":
		return Float16, nil
	case "<f4":
		return Float32, nil
	case "<f8":
		return Float64, nil
	case "<i4":
		return Int32, nil
	case "<i8":
		return Int64, nil
	default:
		return Unknown, &Error{Field: "type", Reason: ErrUnknownDType,
			Detail: fmt.Sprintf("%s; want one of <f2, <f4, <f8, <i4, <i8", quoteShort(s))}
	}
}

// Serializer names a buffer layout.
// Its values are those of wire.Serializer.
type Serializer int32

// Serializers, numbered as wire.Serializer numbers them.
const (
	Msgpack Serializer = 0
	Cmppack Serializer = 1
)

// String returns the wire name of s, such as "MSGPACK".
// An unknown value gives "Serializer(n)".
func (s Serializer) String() string {
	switch s {
	case Msgpack:
		return "MSGPACK"
	case Cmppack:
		return "CMPPACK"
	default:
		return fmt.Sprintf("Serializer(%d)", int32(s))
	}
}

// MaxRank is the largest number of dimensions a Tensor may have.
// It is numpy 2's limit, and bounds what a decoder allocates for a hostile
// shape.
const MaxRank = 64

// Tensor is an n-dimensional array in C order.
// Its elements are stored as raw little-endian bytes in Data.
type Tensor struct {
	DType DType
	Shape []int64
	Data  []byte
}

// NumElements returns the number of elements of an array of the given shape.
//
// It is the product of the dimensions, and 1 for rank 0. A zero dimension
// makes the product 0 whatever the others are, as in numpy. NumElements
// refuses more than MaxRank dimensions (ErrRank), a negative dimension
// (ErrNegativeDim) and a product that overflows int64 (ErrOverflow).
func NumElements(shape []int64) (int64, error) {
	if len(shape) > MaxRank {
		return 0, &Error{Field: "shape", Reason: ErrRank,
			Detail: fmt.Sprintf("%d dimensions; want at most %d", len(shape), MaxRank)}
	}
	zero := false
	for i, d := range shape {
		if d < 0 {
			return 0, &Error{Field: "shape", Reason: ErrNegativeDim,
				Detail: fmt.Sprintf("shape[%d] = %d; want >= 0", i, d)}
		}
		zero = zero || d == 0
	}
	if zero {
		return 0, nil
	}
	n := int64(1)
	for _, d := range shape {
		if n > math.MaxInt64/d {
			return 0, &Error{Field: "shape", Reason: ErrOverflow,
				Detail: fmt.Sprintf("%v has more than %d elements", shape, int64(math.MaxInt64))}
		}
		n *= d
	}
	return n, nil
}

// byteSize returns the number of data bytes of an array of dtype d.
// It refuses types without a size and sizes that overflow int64.
func byteSize(d DType, shape []int64) (int64, error) {
	size := int64(d.Size())
	if size == 0 {
		return 0, &Error{Field: "dtype", Reason: ErrUnsupportedDType,
			Detail: fmt.Sprintf("%s; want Float16, Float32, Float64, Int32 or Int64", d)}
	}
	n, err := NumElements(shape)
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt64/size {
		return 0, &Error{Field: "shape", Reason: ErrOverflow,
			Detail: fmt.Sprintf("%v elements of %d bytes exceed %d bytes", shape, size, int64(math.MaxInt64))}
	}
	return n * size, nil
}

// Validate checks that t's DType, Shape and Data agree.
//
// The DType must have a fixed size, and the shape must be valid (see
// NumElements). Data must hold exactly as many bytes as the shape calls
// for. A disagreement is an *Error whose Reason is ErrSizeMismatch.
func (t Tensor) Validate() error {
	want, err := byteSize(t.DType, t.Shape)
	if err != nil {
		return err
	}
	if want != int64(len(t.Data)) {
		return &Error{Field: "data", Reason: ErrSizeMismatch,
			Detail: fmt.Sprintf("%d bytes for shape %v of %s; want %d", len(t.Data), t.Shape, t.DType, want)}
	}
	return nil
}

// littleEndian reports whether the host stores integers least significant
// byte first. Element slices and Data then share one layout.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// FromInt64 returns an Int64 tensor of the given shape over vals.
//
// Both slices are kept, not copied. On a little-endian host, Data views
// the bytes of vals, so later writes to vals show in the tensor. On a
// big-endian host, Data is a little-endian copy. FromInt64 does not check
// the shape (see Validate).
func FromInt64(shape []int64, vals []int64) Tensor {
	if littleEndian {
		return Tensor{DType: Int64, Shape: shape,
			Data: unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals)*8)}
	}
	data := make([]byte, 0, len(vals)*8)
	for _, v := range vals {
		data = binary.LittleEndian.AppendUint64(data, uint64(v))
	}
	return Tensor{DType: Int64, Shape: shape, Data: data}
}

// FromFloat32 returns a Float32 tensor of the given shape over vals.
// It shares vals as FromInt64 does.
func FromFloat32(shape []int64, vals []float32) Tensor {
	if littleEndian {
		return Tensor{DType: Float32, Shape: shape,
			Data: unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals)*4)}
	}
	data := make([]byte, 0, len(vals)*4)
	for _, v := range vals {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
	}
	return Tensor{DType: Float32, Shape: shape, Data: data}
}

// viewable reports whether elements of the given alignment can be read in
// place from b.
//
// The host must be little-endian, and b aligned unless the architecture
// does not care.
func viewable(b []byte, align uintptr) bool {
	return littleEndian && (unalignedOK || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%align == 0)
}

// Int64s returns the elements of an Int64 tensor.
//
// It returns nil if t is not Int64 or len(Data) is not a multiple of 8. On
// a little-endian host the result may alias Data. It does when Data is
// aligned to 8 bytes, or when the architecture reads unaligned words
// natively (amd64, 386, arm64). Writes to one then show in the other, and
// in the buffer Data was decoded from. Otherwise the result is a copy.
func (t Tensor) Int64s() []int64 {
	if t.DType != Int64 || len(t.Data)%8 != 0 {
		return nil
	}
	n := len(t.Data) / 8
	if n == 0 {
		return []int64{}
	}
	if viewable(t.Data, unsafe.Alignof(int64(0))) {
		return unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(t.Data))), n)
	}
	return copyInt64s(t.Data, n)
}

// copyInt64s decodes n little-endian int64 values into a new slice.
func copyInt64s(data []byte, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(data[8*i:]))
	}
	return out
}

// Float32s returns the elements of a Float32 tensor.
//
// It returns nil if t is not Float32 or len(Data) is not a multiple of 4.
// It aliases Data under the same conditions as Int64s, with alignment to 4
// bytes. Otherwise it is a copy.
func (t Tensor) Float32s() []float32 {
	if t.DType != Float32 || len(t.Data)%4 != 0 {
		return nil
	}
	n := len(t.Data) / 4
	if n == 0 {
		return []float32{}
	}
	if viewable(t.Data, unsafe.Alignof(float32(0))) {
		return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(t.Data))), n)
	}
	return copyFloat32s(t.Data, n)
}

// copyFloat32s decodes n little-endian float32 values into a new slice.
func copyFloat32s(data []byte, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out
}
