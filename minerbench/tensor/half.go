package tensor

import (
	"encoding/binary"
	"math"
)

// IEEE 754 binary16 is the "<f2" of CMPPACK.
//
// It has 1 sign bit, 5 exponent bits (bias 15) and 10 fraction bits.
// Conversions work on bit patterns rather than through float64. So NaN
// payloads survive a round trip, signalling NaNs included. A float32 to
// float64 conversion may quiet them.

const (
	halfSign = 0x8000
	halfInf  = 0x7c00
	halfQNaN = 0x0200 // the quiet bit, top of the fraction
)

// shiftRoundEven returns x >> s rounded to nearest, ties to even, for
// 1 <= s <= 63.
func shiftRoundEven(x uint64, s uint) uint64 {
	q := x >> s
	r := x & (1<<s - 1)
	half := uint64(1) << (s - 1)
	if r > half || (r == half && q&1 == 1) {
		q++
	}
	return q
}

// halfFromFloat32Bits narrows the float32 with bits b to binary16.
//
// It rounds to nearest even. Too large becomes ±inf, and too small ±0. A
// NaN keeps its sign and the top 10 bits of its payload. It becomes quiet
// only if those are all zero, so that it stays a NaN.
func halfFromFloat32Bits(b uint32) uint16 {
	sign := uint16(b>>16) & halfSign
	exp := int(b>>23) & 0xff
	frac := uint64(b & 0x7fffff)
	switch {
	case exp == 0xff:
		return sign | halfNaNOrInf(frac != 0, uint16(frac>>13))
	case exp == 0: // ±0 and float32 subnormals (< 2^-126) round to ±0
		return sign
	}
	e := exp - 127 + 15 // binary16 biased exponent
	if e >= 0x1f {
		return sign | halfInf
	}
	full := frac | 1<<23
	if e >= 1 {
		// Normal: keep 11 significant bits. Adding the rounded significand
		// (implicit bit included) to (e-1)<<10 lets a carry bump the
		// exponent, up to infinity.
		return sign | uint16(uint64(e-1)<<10+shiftRoundEven(full, 13))
	}
	shift := uint(14 - e) // subnormal: value = m × 2^-24
	if shift > 24 {
		return sign
	}
	return sign | uint16(shiftRoundEven(full, shift))
}

// halfFromFloat64Bits narrows the float64 with bits b to binary16.
// It works as halfFromFloat32Bits does, rounding once from the full value.
func halfFromFloat64Bits(b uint64) uint16 {
	sign := uint16(b>>48) & halfSign
	exp := int(b>>52) & 0x7ff
	frac := b & (1<<52 - 1)
	switch {
	case exp == 0x7ff:
		return sign | halfNaNOrInf(frac != 0, uint16(frac>>42))
	case exp == 0:
		return sign
	}
	e := exp - 1023 + 15
	if e >= 0x1f {
		return sign | halfInf
	}
	full := frac | 1<<52
	if e >= 1 {
		return sign | uint16(uint64(e-1)<<10+shiftRoundEven(full, 42))
	}
	shift := uint(43 - e)
	if shift > 53 {
		return sign
	}
	return sign | uint16(shiftRoundEven(full, shift))
}

// halfNaNOrInf returns the unsigned binary16 infinity, or a NaN with the
// given top fraction bits.
func halfNaNOrInf(isNaN bool, top uint16) uint16 {
	if !isNaN {
		return halfInf
	}
	if top == 0 {
		top = halfQNaN
	}
	return halfInf | top
}

// float32BitsFromHalf widens binary16 bits h to float32 bits.
// Every value, NaN payloads included, is represented exactly.
func float32BitsFromHalf(h uint16) uint32 {
	sign := uint32(h&halfSign) << 16
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	switch exp {
	case 0x1f:
		return sign | 0x7f800000 | frac<<13
	case 0:
		if frac == 0 {
			return sign
		}
		// Subnormal: shift the leading one into the implicit position.
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		return sign | e<<23 | (frac&0x3ff)<<13
	default:
		return sign | (exp+127-15)<<23 | frac<<13
	}
}

// float64BitsFromHalf widens binary16 bits h to float64 bits exactly.
func float64BitsFromHalf(h uint16) uint64 {
	b := float32BitsFromHalf(h)
	sign := uint64(b&0x80000000) << 32
	exp := uint64(b>>23) & 0xff
	frac := uint64(b&0x7fffff) << 29
	switch exp {
	case 0xff:
		return sign | 0x7ff<<52 | frac
	case 0: // only ±0: float32BitsFromHalf never yields a subnormal
		return sign
	default:
		return sign | (exp+1023-127)<<52 | frac
	}
}

// narrowToHalf writes the binary16 values of src's elements to dst.
// src holds little-endian elements of dtype d, Float32 or Float64.
func narrowToHalf(dst, src []byte, d DType) {
	if d == Float64 {
		for i := range len(dst) / 2 {
			h := halfFromFloat64Bits(binary.LittleEndian.Uint64(src[8*i:]))
			binary.LittleEndian.PutUint16(dst[2*i:], h)
		}
		return
	}
	for i := range len(dst) / 2 {
		h := halfFromFloat32Bits(binary.LittleEndian.Uint32(src[4*i:]))
		binary.LittleEndian.PutUint16(dst[2*i:], h)
	}
}

// widenHalf widens the binary16 values in src into dst.
// dst gets little-endian elements of dtype d, Float32 or Float64.
func widenHalf(dst, src []byte, d DType) {
	if d == Float64 {
		for i := range len(src) / 2 {
			binary.LittleEndian.PutUint64(dst[8*i:], float64BitsFromHalf(binary.LittleEndian.Uint16(src[2*i:])))
		}
		return
	}
	for i := range len(src) / 2 {
		binary.LittleEndian.PutUint32(dst[4*i:], float32BitsFromHalf(binary.LittleEndian.Uint16(src[2*i:])))
	}
}

// HalfBits returns the IEEE 754 binary16 bits nearest to f, ties to even.
// CMPPACK stores each element so.
func HalfBits(f float32) uint16 { return halfFromFloat32Bits(math.Float32bits(f)) }

// FromHalfBits returns the float32 value of the binary16 bits h, exactly.
func FromHalfBits(h uint16) float32 { return math.Float32frombits(float32BitsFromHalf(h)) }
