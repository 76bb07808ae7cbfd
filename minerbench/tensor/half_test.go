package tensor

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHalfBitsKnownValues(t *testing.T) {
	minSub := math.Ldexp(1, -24)
	cases := []struct {
		name string
		in   float32
		want uint16
	}{
		{"one", 1, 0x3c00},
		{"minus two", -2, 0xc000},
		{"zero", 0, 0x0000},
		{"minus zero", float32(math.Copysign(0, -1)), 0x8000},
		{"max", 65504, 0x7bff},
		{"rounds down to max", 65519, 0x7bff},
		{"rounds up to inf", 65520, 0x7c00},
		{"overflow", 1e10, 0x7c00},
		{"inf", float32(math.Inf(1)), 0x7c00},
		{"minus inf", float32(math.Inf(-1)), 0xfc00},
		{"smallest normal", float32(math.Ldexp(1, -14)), 0x0400},
		{"largest subnormal", float32(1023 * minSub), 0x03ff},
		{"smallest subnormal", float32(minSub), 0x0001},
		{"half smallest subnormal ties to zero", float32(minSub / 2), 0x0000},
		{"above half smallest subnormal", float32(minSub/2) * 1.0001, 0x0001},
		{"minus tiny", -1e-30, 0x8000},
		{"float32 subnormal", math.SmallestNonzeroFloat32, 0x0000},
		{"subnormal tie to even down", float32(2.5 * minSub), 0x0002},
		{"subnormal tie to even up", float32(3.5 * minSub), 0x0004},
		{"subnormal carries to normal", float32(1023.5 * minSub), 0x0400},
		{"tie to even down", 1 + 1.0/2048, 0x3c00},
		{"tie to even up", 1 + 3.0/2048, 0x3c02},
		{"above tie", 1 + 1.0/2048 + 1.0/65536, 0x3c01},
		{"third", 1.0 / 3, 0x3555},
		{"pi", math.Pi, 0x4248},
		{"carry into exponent", 2 - 1.0/4096, 0x4000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, HalfBits(c.in), "HalfBits(%g)", c.in)
		})
	}
}

func TestHalfNaN(t *testing.T) {
	cases := []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"quiet NaN", 0x7fc00000, 0x7e00},
		{"negative quiet NaN", 0xffc00000, 0xfe00},
		{"payload kept", 0x7fc02000, 0x7e01},
		{"signalling NaN with high payload stays signalling", 0x7f802000, 0x7c01},
		{"payload only in dropped bits becomes quiet", 0x7f800001, 0x7e00},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := halfFromFloat32Bits(c.in)
			assert.Equal(t, c.want, got)
			assert.True(t, math.IsNaN(float64(FromHalfBits(got))))
		})
	}
}

// TestHalfRoundTripAll widens every binary16 value and narrows it back,
// from float32 and from float64: each must come back bit for bit.
func TestHalfRoundTripAll(t *testing.T) {
	for h := range 1 << 16 {
		f := float32BitsFromHalf(uint16(h))
		require.Equal(t, uint16(h), halfFromFloat32Bits(f), "float32 %#x", f)
		d := float64BitsFromHalf(uint16(h))
		require.Equal(t, uint16(h), halfFromFloat64Bits(d), "float64 %#x", d)
		if exp := h >> 10 & 0x1f; exp != 0x1f {
			// Finite: the float32 and float64 values agree.
			require.Equal(t, float64(math.Float32frombits(f)), math.Float64frombits(d))
		}
	}
	assert.Equal(t, float32(65504), FromHalfBits(0x7bff))
	assert.Equal(t, float32(math.Ldexp(1, -24)), FromHalfBits(0x0001))
	assert.Equal(t, float32(-1.5), FromHalfBits(0xbe00))
}

// nearestHalf is a slow reference: the binary16 value nearest to the finite
// x, ties to even, found by binary search over the ordered positive values.
func nearestHalf(x float32) uint16 {
	sign := uint16(0)
	if math.Signbit(float64(x)) {
		sign, x = 0x8000, -x
	}
	if x >= 65520 {
		return sign | 0x7c00
	}
	// lo is the largest magnitude with value <= x.
	lo, hi := uint16(0), uint16(0x7bff)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if FromHalfBits(mid) <= x {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if lo == 0x7bff {
		return sign | lo
	}
	// Differences of values within a factor of two are exact in float64.
	down := float64(x) - float64(FromHalfBits(lo))
	up := float64(FromHalfBits(lo+1)) - float64(x)
	if up < down || (up == down && lo&1 == 1) {
		lo++
	}
	return sign | lo
}

func TestHalfBitsMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(b uint32) {
		x := math.Float32frombits(b)
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return
		}
		require.Equal(t, nearestHalf(x), HalfBits(x), "float32 bits %#x (%g)", b, x)
		// float64 narrowing of the same value agrees.
		require.Equal(t, nearestHalf(x), halfFromFloat64Bits(math.Float64bits(float64(x))), "float64 of %#x", b)
	}
	// Every float32 exponent in binary16's range, with the low bits that
	// decide rounding swept around the tie.
	for exp := uint32(97); exp <= 143; exp++ {
		for _, low := range []uint32{0, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x7fffff, 0x7fe000, 0x7ff000} {
			check(exp<<23 | low)
			check(1<<31 | exp<<23 | low)
		}
	}
	for range 200000 {
		check(rng.Uint32())
	}
	// Bias towards binary16's range.
	for range 200000 {
		check(uint32(97+rng.IntN(47))<<23 | rng.Uint32()&0x807fffff)
	}
}

func TestHalfFromFloat64RoundsOnce(t *testing.T) {
	// 1 + 2^-11 + 2^-40 lies just above a binary16 tie. Rounding to float32
	// first would land on the tie and then round down to 1; rounding once
	// gives 1 + 2^-10.
	x := 1 + math.Ldexp(1, -11) + math.Ldexp(1, -40)
	assert.Equal(t, uint16(0x3c01), halfFromFloat64Bits(math.Float64bits(x)))
	assert.Equal(t, uint16(0x3c00), HalfBits(float32(x)))
	assert.Equal(t, uint16(0x7c00), halfFromFloat64Bits(math.Float64bits(1e300)))
	assert.Equal(t, uint16(0x8000), halfFromFloat64Bits(math.Float64bits(-1e-300)))
	assert.Equal(t, uint16(0x0001), halfFromFloat64Bits(math.Float64bits(math.Ldexp(1, -24))))
	assert.Equal(t, uint16(0xfe00), halfFromFloat64Bits(math.Float64bits(math.Copysign(math.NaN(), -1))))
}

func TestCmppack(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	in := []float32{1, negZero, 65504, float32(math.Inf(-1)), nan, float32(math.Ldexp(1, -24)), 1 + 1.0/2048, 1e6}
	wantHalf := []uint16{0x3c00, 0x8000, 0x7bff, 0xfc00, 0x7e00, 0x0001, 0x3c00, 0x7c00}
	x := FromFloat32([]int64{2, 4}, in)
	buf, err := Encode(nil, x, Cmppack)
	require.NoError(t, err)

	var wantData []byte
	for _, h := range wantHalf {
		wantData = binary.LittleEndian.AppendUint16(wantData, h)
	}
	header := cat([]byte{0x85}, bin("nd"), []byte{0xc3}, bin("type"), str("<f2"), bin("kind"), bin(""),
		bin("shape"), []byte{0x92, 0x02, 0x04}, bin("data"), []byte{0xc4, 16})
	assert.Equal(t, cat(header, wantData), buf)
	assert.Equal(t, len(buf), encodedLen(x.Shape, len(wantData)))

	// The buffer is a valid MSGPACK float16 tensor too.
	raw, err := Decode(buf, Msgpack, Float16)
	require.NoError(t, err)
	assert.Equal(t, wantData, raw.Data)

	got, err := Decode(buf, Cmppack, Float32)
	require.NoError(t, err)
	assert.Equal(t, Float32, got.DType)
	assert.Equal(t, []int64{2, 4}, got.Shape)
	f := got.Float32s()
	require.Len(t, f, 8)
	want := []float32{1, negZero, 65504, float32(math.Inf(-1)), nan, float32(math.Ldexp(1, -24)), 1, float32(math.Inf(1))}
	for i := range want {
		if math.IsNaN(float64(want[i])) {
			assert.True(t, math.IsNaN(float64(f[i])), "element %d", i)
			continue
		}
		assert.Equal(t, math.Float32bits(want[i]), math.Float32bits(f[i]), "element %d: %g", i, f[i])
	}

	wide, err := Decode(buf, Cmppack, Float64)
	require.NoError(t, err)
	assert.Equal(t, Float64, wide.DType)
	require.Len(t, wide.Data, 64)
	for i := range want {
		g := math.Float64frombits(binary.LittleEndian.Uint64(wide.Data[8*i:]))
		if math.IsNaN(float64(want[i])) {
			assert.True(t, math.IsNaN(g))
			continue
		}
		assert.Equal(t, math.Float64bits(float64(want[i])), math.Float64bits(g), "element %d", i)
	}

	same, err := Decode(buf, Cmppack, Float16)
	require.NoError(t, err)
	assert.Equal(t, Float16, same.DType)
	assert.Equal(t, wantData, same.Data)

	// Float16 and Float64 tensors encode to the same buffer.
	again, err := Encode(nil, same, Cmppack)
	require.NoError(t, err)
	assert.Equal(t, buf, again)
	again, err = Encode(nil, wide, Cmppack)
	require.NoError(t, err)
	assert.Equal(t, buf, again)
}
