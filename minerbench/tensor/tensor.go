// Package tensor holds the Tensor type and the MSGPACK and CMPPACK serializers
// of the Bittensor wire protocol (msgpack-numpy layout).
package tensor

// DType is an element type; its values are those of wire.DataType.
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

// Serializer names a buffer layout; its values are those of wire.Serializer.
type Serializer int32

// Serializers, numbered as wire.Serializer numbers them.
const (
	Msgpack Serializer = 0
	Cmppack Serializer = 1
)

// Tensor is an n-dimensional array in C order whose elements are stored as
// raw little-endian bytes in Data.
type Tensor struct {
	DType DType
	Shape []int64
	Data  []byte
}

// FromInt64 returns an Int64 tensor of the given shape over vals.
func FromInt64(shape []int64, vals []int64) Tensor { panic("unimplemented") }

// FromFloat32 returns a Float32 tensor of the given shape over vals.
func FromFloat32(shape []int64, vals []float32) Tensor { panic("unimplemented") }

// Int64s returns the elements of an Int64 tensor.
func (t Tensor) Int64s() []int64 { panic("unimplemented") }

// Float32s returns the elements of a Float32 tensor.
func (t Tensor) Float32s() []float32 { panic("unimplemented") }

// Encode appends t serialized with s to dst.
func Encode(dst []byte, t Tensor, s Serializer) ([]byte, error) { panic("unimplemented") }

// Decode reads a tensor serialized with s; dtype is the dtype the message
// declares (the dtype to widen to, for Cmppack).
func Decode(buf []byte, s Serializer, dtype DType) (Tensor, error) { panic("unimplemented") }
