package tensor

import (
	"testing"
)

// benchTensor returns a [10, 10, 1024] Float32 tensor, the response to a
// batch of 10 sequences of 10 tokens.
func benchTensor() Tensor {
	vals := make([]float32, 10*10*1024)
	for i := range vals {
		vals[i] = float32(i%4096) / 7
	}
	return FromFloat32([]int64{10, 10, 1024}, vals)
}

// BenchmarkCodec measures MSGPACK on a [10, 10, 1024] Float32 tensor against
// a plain copy of its data: op=encode appends to a reused buffer, op=decode
// decodes and reads the []float32 as a dendrite does, op=copy copies the
// data bytes. MB/s counts the data bytes.
func BenchmarkCodec(b *testing.B) {
	x := benchTensor()
	benchSerializer(b, x, Msgpack)
	b.Run("op=copy", func(b *testing.B) {
		dst := make([]byte, len(x.Data))
		b.SetBytes(int64(len(x.Data)))
		b.ReportAllocs()
		for b.Loop() {
			copy(dst, x.Data)
		}
	})
}

// BenchmarkCmppack measures CMPPACK on the same tensor: op=encode narrows
// to float16 into a reused buffer, op=decode widens back to a new []float32.
// MB/s counts the float32 data bytes.
func BenchmarkCmppack(b *testing.B) {
	benchSerializer(b, benchTensor(), Cmppack)
}

// benchSerializer runs op=encode (into a reused buffer) and op=decode (and
// reading the []float32) of x with s.
func benchSerializer(b *testing.B, x Tensor, s Serializer) {
	buf, err := Encode(nil, x, s)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("op=encode", func(b *testing.B) {
		dst := make([]byte, 0, len(buf))
		b.SetBytes(int64(len(x.Data)))
		b.ReportAllocs()
		for b.Loop() {
			if dst, err = Encode(dst[:0], x, s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=decode", func(b *testing.B) {
		b.SetBytes(int64(len(x.Data)))
		b.ReportAllocs()
		var sink float32
		for b.Loop() {
			got, err := Decode(buf, s, Float32)
			if err != nil {
				b.Fatal(err)
			}
			f := got.Float32s()
			sink += f[len(f)-1]
		}
		if sink == 0 {
			b.Fatal("decoded data is zero")
		}
	})
}
