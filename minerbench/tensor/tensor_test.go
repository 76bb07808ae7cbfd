package tensor

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"
)

// goldenBytes returns the one-line hex buffer of testdata/wire-golden.txt,
// the MSGPACK buffer Python writes for int64 [[1, 2, 3], [4, 5, 6]].
func goldenBytes(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open("testdata/wire-golden.txt")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if len(line) > 100 && !strings.ContainsAny(line, " #") {
			b, err := hex.DecodeString(line)
			require.NoError(t, err)
			return b
		}
	}
	require.NoError(t, sc.Err())
	t.Fatal("no one-line hex buffer in testdata/wire-golden.txt")
	return nil
}

func TestGoldenEncode(t *testing.T) {
	golden := goldenBytes(t)
	require.Len(t, golden, 90)

	got, err := Encode(nil, FromInt64([]int64{2, 3}, []int64{1, 2, 3, 4, 5, 6}), Msgpack)
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(golden), hex.EncodeToString(got))

	// Encode appends: a prefix in dst is kept.
	got, err = Encode([]byte("xy"), FromInt64([]int64{2, 3}, []int64{1, 2, 3, 4, 5, 6}), Msgpack)
	require.NoError(t, err)
	assert.Equal(t, append([]byte("xy"), golden...), got)
}

func TestGoldenDecode(t *testing.T) {
	golden := goldenBytes(t)
	for _, dtype := range []DType{Unknown, Int64} {
		got, err := Decode(golden, Msgpack, dtype)
		require.NoError(t, err)
		assert.Equal(t, Int64, got.DType)
		assert.Equal(t, []int64{2, 3}, got.Shape)
		assert.Equal(t, []int64{1, 2, 3, 4, 5, 6}, got.Int64s())
		// Data aliases the buffer (the last 48 bytes).
		assert.Same(t, &golden[42], &got.Data[0])
	}
}

// Raw msgpack pieces for building buffers by hand.
func bin(s string) []byte { return msgp.AppendBytes(nil, []byte(s)) }
func str(s string) []byte { return msgp.AppendString(nil, s) }
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// entry is one key/value pair of a hand-built map, both already encoded.
type entry struct{ key, val []byte }

// mapOf encodes a map of the given entries in order.
func mapOf(es ...entry) []byte {
	b := msgp.AppendMapHeader(nil, uint32(len(es)))
	for _, e := range es {
		b = append(b, e.key...)
		b = append(b, e.val...)
	}
	return b
}

// goldenEntries returns the entries of the golden buffer, in its order.
func goldenEntries() []entry {
	data := make([]byte, 0, 48)
	for i := range 6 {
		data = binary.LittleEndian.AppendUint64(data, uint64(i+1))
	}
	return []entry{
		{bin("nd"), msgp.AppendBool(nil, true)},
		{bin("type"), str("<i8")},
		{bin("kind"), bin("")},
		{bin("shape"), []byte{0x92, 0x02, 0x03}},
		{bin("data"), msgp.AppendBytes(nil, data)},
	}
}

// with returns goldenEntries with the entry at i replaced by e.
func with(i int, e entry) []entry {
	es := goldenEntries()
	es[i] = e
	return es
}

// without returns goldenEntries without the entry at i.
func without(i int) []entry {
	es := goldenEntries()
	return append(es[:i], es[i+1:]...)
}

func TestDecodeAcceptsVariants(t *testing.T) {
	strKeys := goldenEntries()
	for i := range strKeys {
		k, _, err := msgp.ReadBytesZC(strKeys[i].key)
		require.NoError(t, err)
		strKeys[i].key = str(string(k))
	}
	reversed := goldenEntries()
	for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
		reversed[i], reversed[j] = reversed[j], reversed[i]
	}
	cases := []struct {
		name string
		buf  []byte
	}{
		{"golden", mapOf(goldenEntries()...)},
		{"str keys", mapOf(strKeys...)},
		{"str kind", mapOf(with(2, entry{bin("kind"), str("")})...)},
		{"bin type", mapOf(with(1, entry{bin("type"), bin("<i8")})...)},
		{"str data", mapOf(with(4, entry{bin("data"), cat([]byte{0xd9, 48}, goldenEntries()[4].val[2:])})...)},
		{"reversed order", mapOf(reversed...)},
		{"signed int dims", mapOf(with(3, entry{bin("shape"), []byte{0x92, 0xd0, 0x02, 0xd3, 0, 0, 0, 0, 0, 0, 0, 0x03}})...)},
		{"uint64 dims", mapOf(with(3, entry{bin("shape"), []byte{0x92, 0xcf, 0, 0, 0, 0, 0, 0, 0, 0x02, 0xcd, 0x00, 0x03}})...)},
		{"array16 shape", mapOf(with(3, entry{bin("shape"), []byte{0xdc, 0x00, 0x02, 0x02, 0x03}})...)},
		{"map16 header", cat([]byte{0xde, 0x00, 0x05}, mapOf(goldenEntries()...)[1:])},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.buf, Msgpack, Int64)
			require.NoError(t, err)
			assert.Equal(t, []int64{2, 3}, got.Shape)
			assert.Equal(t, []int64{1, 2, 3, 4, 5, 6}, got.Int64s())
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	golden := mapOf(goldenEntries()...)
	f16 := mustEncode(t, FromFloat32([]int64{2}, []float32{1, 2}), Cmppack)
	cases := []struct {
		name   string
		buf    []byte
		s      Serializer
		dtype  DType
		reason error
	}{
		{"empty buffer", nil, Msgpack, Unknown, ErrMalformed},
		{"not a map", str("nd"), Msgpack, Unknown, ErrMalformed},
		{"truncated in header", golden[:1], Msgpack, Unknown, ErrMalformed},
		{"truncated in key", golden[:3], Msgpack, Unknown, ErrMalformed},
		{"truncated in data", golden[:len(golden)-1], Msgpack, Unknown, ErrMalformed},
		{"int key", mapOf(with(0, entry{[]byte{0x01}, msgp.AppendBool(nil, true)})...), Msgpack, Unknown, ErrMalformed},
		{"nd not bool", mapOf(with(0, entry{bin("nd"), []byte{0x01}})...), Msgpack, Unknown, ErrMalformed},
		{"nd false", mapOf(with(0, entry{bin("nd"), msgp.AppendBool(nil, false)})...), Msgpack, Unknown, ErrNotArray},
		{"type not bytes", mapOf(with(1, entry{bin("type"), []byte{0x04}})...), Msgpack, Unknown, ErrMalformed},
		{"kind nil", mapOf(with(2, entry{bin("kind"), []byte{0xc0}})...), Msgpack, Unknown, ErrMalformed},
		{"shape not array", mapOf(with(3, entry{bin("shape"), []byte{0x02}})...), Msgpack, Unknown, ErrMalformed},
		{"shape float dim", mapOf(with(3, entry{bin("shape"), []byte{0x92, 0xca, 0x40, 0, 0, 0, 0x03}})...), Msgpack, Unknown, ErrMalformed},
		{"bin32 length over 2 GiB", mapOf(with(4, entry{bin("data"), []byte{0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2}})...), Msgpack, Unknown, ErrMalformed},
		{"str32 length over 2 GiB", mapOf(with(1, entry{bin("type"), []byte{0xdb, 0x80, 0x00, 0x00, 0x00, 1, 2}})...), Msgpack, Unknown, ErrMalformed},
		{"data not bytes", mapOf(with(4, entry{bin("data"), []byte{0xc0}})...), Msgpack, Unknown, ErrMalformed},
		{"missing nd", mapOf(without(0)...), Msgpack, Unknown, ErrMissingKey},
		{"missing type", mapOf(without(1)...), Msgpack, Unknown, ErrMissingKey},
		{"missing kind", mapOf(without(2)...), Msgpack, Unknown, ErrMissingKey},
		{"missing shape", mapOf(without(3)...), Msgpack, Unknown, ErrMissingKey},
		{"missing data", mapOf(without(4)...), Msgpack, Unknown, ErrMissingKey},
		{"empty map", []byte{0x80}, Msgpack, Unknown, ErrMissingKey},
		{"duplicate key", mapOf(append(goldenEntries(), entry{str("kind"), bin("")})...), Msgpack, Unknown, ErrDuplicateKey},
		{"unknown key", mapOf(append(goldenEntries(), entry{bin("extra"), bin("")})...), Msgpack, Unknown, ErrUnknownKey},
		{"unknown dtype", mapOf(with(1, entry{bin("type"), str("<u2")})...), Msgpack, Unknown, ErrUnknownDType},
		{"big-endian dtype", mapOf(with(1, entry{bin("type"), str(">i8")})...), Msgpack, Unknown, ErrUnknownDType},
		{"object dtype", mapOf(with(1, entry{bin("type"), str("|O")})...), Msgpack, Unknown, ErrUnknownDType},
		{"kind O", mapOf(with(2, entry{bin("kind"), bin("O")})...), Msgpack, Unknown, ErrKind},
		{"kind V as str", mapOf(with(2, entry{bin("kind"), str("V")})...), Msgpack, Unknown, ErrKind},
		{"negative dim", mapOf(with(3, entry{bin("shape"), []byte{0x92, 0xff, 0x03}})...), Msgpack, Unknown, ErrNegativeDim},
		{"negative int64 dim", mapOf(with(3, entry{bin("shape"), cat([]byte{0x92, 0x02, 0xd3}, be64(math.MaxUint64))})...), Msgpack, Unknown, ErrNegativeDim},
		{"dim over int64", mapOf(with(3, entry{bin("shape"), cat([]byte{0x92, 0x02, 0xcf}, be64(1<<63))})...), Msgpack, Unknown, ErrOverflow},
		{"product overflows", mapOf(with(3, entry{bin("shape"), cat([]byte{0x92, 0xcf}, be64(1<<62), []byte{0x04})})...), Msgpack, Unknown, ErrOverflow},
		{"bytes overflow", mapOf(with(3, entry{bin("shape"), cat([]byte{0x91, 0xcf}, be64(1<<61))})...), Msgpack, Unknown, ErrOverflow},
		{"too many dims", mapOf(with(3, entry{bin("shape"), []byte{0xdd, 0xff, 0xff, 0xff, 0xff}})...), Msgpack, Unknown, ErrRank},
		{"shape too small", mapOf(with(3, entry{bin("shape"), []byte{0x92, 0x02, 0x02}})...), Msgpack, Unknown, ErrSizeMismatch},
		{"shape too large", mapOf(with(3, entry{bin("shape"), []byte{0x92, 0x02, 0x04}})...), Msgpack, Unknown, ErrSizeMismatch},
		{"zero-size shape", mapOf(with(3, entry{bin("shape"), []byte{0x92, 0x00, 0x03}})...), Msgpack, Unknown, ErrSizeMismatch},
		{"trailing byte", cat(golden, []byte{0xc0}), Msgpack, Unknown, ErrTrailingData},
		{"two maps", cat(golden, golden), Msgpack, Unknown, ErrTrailingData},
		{"dtype mismatch", golden, Msgpack, Float32, ErrDTypeMismatch},
		{"UTF8 dtype argument", golden, Msgpack, UTF8, ErrUnsupportedDType},
		{"cmppack of int64", golden, Cmppack, Float32, ErrDTypeMismatch},
		{"cmppack to int64", f16, Cmppack, Int64, ErrUnsupportedDType},
		{"cmppack to unknown", f16, Cmppack, Unknown, ErrUnsupportedDType},
		{"unknown serializer", golden, Serializer(7), Unknown, ErrSerializer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got Tensor
			var err error
			require.NotPanics(t, func() { got, err = Decode(c.buf, c.s, c.dtype) })
			require.ErrorIs(t, err, c.reason)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "decode", e.Op)
			assert.Contains(t, err.Error(), c.reason.Error())
			assert.Equal(t, Tensor{}, got)
		})
	}
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func mustEncode(t testing.TB, x Tensor, s Serializer) []byte {
	t.Helper()
	b, err := Encode(nil, x, s)
	require.NoError(t, err)
	return b
}

func TestErrorMessage(t *testing.T) {
	_, err := Decode(mapOf(with(3, entry{bin("shape"), []byte{0x92, 0x02, 0xfd}})...), Msgpack, Unknown)
	require.Error(t, err)
	assert.Equal(t, "tensor decode: shape: negative dimension: shape[1] = -3; want >= 0", err.Error())
}

func TestEncodeLargeLayouts(t *testing.T) {
	cases := []struct {
		name  string
		dtype DType
		shape []int64
		// header is the expected bytes from the shape array to the data.
		header []byte
	}{
		{"dim 127 fixint, bin8", Float16, []int64{127, 1}, cat([]byte{0x92, 0x7f, 0x01}, bin("data"), []byte{0xc4, 254})},
		{"256 bytes, bin16", Float32, []int64{8, 8}, cat([]byte{0x92, 0x08, 0x08}, bin("data"), []byte{0xc5, 0x01, 0x00})},
		{"dim 200 uint8", Float16, []int64{200, 2}, cat([]byte{0x92, 0xcc, 200, 0x02}, bin("data"), []byte{0xc5, 0x03, 0x20})},
		{"dim 1024 uint16", Float32, []int64{2, 1024}, cat([]byte{0x92, 0x02, 0xcd, 0x04, 0x00}, bin("data"), []byte{0xc5, 0x20, 0x00})},
		{"65534 bytes, bin16", Float16, []int64{32767}, cat([]byte{0x91, 0xcd, 0x7f, 0xff}, bin("data"), []byte{0xc5, 0xff, 0xfe})},
		{"response 2x3x1024", Float32, []int64{2, 3, 1024}, cat([]byte{0x93, 0x02, 0x03, 0xcd, 0x04, 0x00}, bin("data"), []byte{0xc5, 0x60, 0x00})},
		{"65536 bytes, bin32", Int64, []int64{8192}, cat([]byte{0x91, 0xcd, 0x20, 0x00}, bin("data"), []byte{0xc6, 0x00, 0x01, 0x00, 0x00})},
		{"dim 70000 uint32", Float32, []int64{70000}, cat([]byte{0x91, 0xce, 0x00, 0x01, 0x11, 0x70}, bin("data"), []byte{0xc6, 0x00, 0x04, 0x45, 0xc0})},
		{"response 10x10x1024", Float32, []int64{10, 10, 1024}, cat([]byte{0x93, 0x0a, 0x0a, 0xcd, 0x04, 0x00}, bin("data"), []byte{0xc6, 0x00, 0x06, 0x40, 0x00})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := NumElements(c.shape)
			require.NoError(t, err)
			data := make([]byte, n*int64(c.dtype.Size()))
			for i := range data {
				data[i] = byte(i * 7)
			}
			x := Tensor{DType: c.dtype, Shape: c.shape, Data: data}
			buf := mustEncode(t, x, Msgpack)
			assert.Equal(t, len(buf), encodedLen(c.shape, len(data)))
			prefix := cat([]byte{0x85}, bin("nd"), []byte{0xc3}, bin("type"), str(c.dtype.String()), bin("kind"), bin(""), bin("shape"))
			require.Equal(t, prefix, buf[:len(prefix)])
			require.Equal(t, c.header, buf[len(prefix):len(prefix)+len(c.header)])
			require.Equal(t, data, buf[len(prefix)+len(c.header):])

			got, err := Decode(buf, Msgpack, c.dtype)
			require.NoError(t, err)
			assert.Equal(t, c.shape, got.Shape)
			assert.Equal(t, data, got.Data)
		})
	}
}

func TestRoundTripDTypes(t *testing.T) {
	cases := []Tensor{
		FromFloat32([]int64{2, 2}, []float32{1.5, -2, float32(math.Inf(1)), 0}),
		FromInt64([]int64{3}, []int64{-1, 0, math.MaxInt64}),
		{DType: Int32, Shape: []int64{1, 2}, Data: []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}},
		{DType: Float64, Shape: []int64{1}, Data: be64(0x3ff0000000000000)},
		{DType: Float16, Shape: []int64{2}, Data: []byte{0x00, 0x3c, 0x00, 0xc0}},
		{DType: Float32, Shape: []int64{}, Data: []byte{0, 0, 0x80, 0x3f}},
		{DType: Float32, Shape: []int64{0, 1024}, Data: []byte{}},
		{DType: Float32, Shape: []int64{1 << 32, 70000, 300, 0}, Data: []byte{}},
		{DType: Int32, Shape: []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, Data: []byte{1, 2, 3, 4}},
	}
	for _, x := range cases {
		t.Run(x.DType.String(), func(t *testing.T) {
			buf := mustEncode(t, x, Msgpack)
			assert.Equal(t, x.DType.String(), string(buf[13:16]))
			assert.Equal(t, len(buf), encodedLen(x.Shape, len(x.Data)))
			got, err := Decode(buf, Msgpack, Unknown)
			require.NoError(t, err)
			assert.Equal(t, x.DType, got.DType)
			assert.Equal(t, x.Shape, got.Shape)
			assert.Equal(t, x.Data, got.Data)
		})
	}
}

func TestEncodeRefuses(t *testing.T) {
	cases := []struct {
		name   string
		x      Tensor
		s      Serializer
		reason error
	}{
		{"data too short", FromInt64([]int64{2, 3}, []int64{1, 2, 3}), Msgpack, ErrSizeMismatch},
		{"data too long", FromFloat32([]int64{1}, []float32{1, 2}), Msgpack, ErrSizeMismatch},
		{"negative dim", FromFloat32([]int64{-1}, nil), Msgpack, ErrNegativeDim},
		{"unknown dtype", Tensor{Shape: []int64{1}, Data: []byte{0}}, Msgpack, ErrUnsupportedDType},
		{"utf8", Tensor{DType: UTF8, Shape: []int64{1}, Data: []byte{'a'}}, Msgpack, ErrUnsupportedDType},
		{"cmppack of int64", FromInt64([]int64{1}, []int64{1}), Cmppack, ErrUnsupportedDType},
		{"unknown serializer", FromInt64([]int64{1}, []int64{1}), Serializer(-1), ErrSerializer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := Encode(dst, c.x, c.s)
			require.ErrorIs(t, err, c.reason)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "encode", e.Op)
			assert.Equal(t, []byte("keep"), out)
		})
	}
}

func TestNumElements(t *testing.T) {
	cases := []struct {
		shape  []int64
		want   int64
		reason error
	}{
		{nil, 1, nil},
		{[]int64{0}, 0, nil},
		{[]int64{2, 3}, 6, nil},
		{[]int64{10, 10, 1024}, 102400, nil},
		{[]int64{math.MaxInt64}, math.MaxInt64, nil},
		{[]int64{1 << 40, 1 << 40, 0}, 0, nil},
		{[]int64{2, -1}, 0, ErrNegativeDim},
		{[]int64{0, -1}, 0, ErrNegativeDim},
		{[]int64{1 << 32, 1 << 31}, 0, ErrOverflow},
		{[]int64{math.MaxInt64, 2}, 0, ErrOverflow},
		{make([]int64, MaxRank+1), 0, ErrRank},
	}
	for _, c := range cases {
		got, err := NumElements(c.shape)
		if c.reason != nil {
			assert.ErrorIs(t, err, c.reason, "shape %v", c.shape)
			continue
		}
		assert.NoError(t, err, "shape %v", c.shape)
		assert.Equal(t, c.want, got, "shape %v", c.shape)
	}
}

func TestDType(t *testing.T) {
	for _, d := range []DType{Float16, Float32, Float64, Int32, Int64} {
		got, err := ParseDType(d.String())
		require.NoError(t, err)
		assert.Equal(t, d, got)
	}
	assert.Equal(t, map[DType]int{Float16: 2, Float32: 4, Float64: 8, Int32: 4, Int64: 8, Unknown: 0, UTF8: 0},
		map[DType]int{Float16: Float16.Size(), Float32: Float32.Size(), Float64: Float64.Size(), Int32: Int32.Size(),
			Int64: Int64.Size(), Unknown: Unknown.Size(), UTF8: UTF8.Size()})
	assert.Equal(t, "DType(5)", UTF8.String())
	assert.Equal(t, "CMPPACK", Cmppack.String())
	_, err := ParseDType("float32")
	assert.ErrorIs(t, err, ErrUnknownDType)
}

func TestViews(t *testing.T) {
	vals := []float32{1, 2, 3}
	x := FromFloat32([]int64{3}, vals)
	require.Len(t, x.Data, 12)
	assert.Equal(t, []byte{0, 0, 0x80, 0x3f}, x.Data[:4])
	vals[0] = 4
	assert.Equal(t, []byte{0, 0, 0x80, 0x40}, x.Data[:4], "Data views vals")
	f := x.Float32s()
	assert.Same(t, &vals[0], &f[0], "Float32s of aligned data is a view")

	ints := []int64{7, -8}
	y := FromInt64([]int64{2}, ints)
	assert.Same(t, &ints[0], &y.Int64s()[0])

	// Misaligned data: a view where the architecture allows it, else a copy;
	// the values are the same either way.
	backing := make([]byte, 17)
	copy(backing[1:], y.Data)
	z := Tensor{DType: Int64, Shape: []int64{2}, Data: backing[1:]}
	got := z.Int64s()
	assert.Equal(t, []int64{7, -8}, got)
	got[0] = 1
	assert.Equal(t, unalignedOK, backing[1] == 1, "writes go through exactly when Int64s is a view")
	assert.Equal(t, []int64{7, -8}, copyInt64s(y.Data, 2))

	fb := make([]byte, 13)
	copy(fb[1:], x.Data)
	assert.Equal(t, []float32{4, 2, 3}, Tensor{DType: Float32, Data: fb[1:]}.Float32s())
	assert.Equal(t, []float32{4, 2, 3}, copyFloat32s(fb[1:], 3))

	// Wrong dtype or ragged length: nil; empty: empty.
	assert.Nil(t, y.Float32s())
	assert.Nil(t, x.Int64s())
	assert.Nil(t, Tensor{DType: Float32, Data: make([]byte, 5)}.Float32s())
	assert.Nil(t, Tensor{DType: Int64, Data: make([]byte, 9)}.Int64s())
	assert.Equal(t, []float32{}, Tensor{DType: Float32}.Float32s())
	assert.Equal(t, []int64{}, Tensor{DType: Int64}.Int64s())
	assert.Empty(t, FromInt64(nil, nil).Data)
}

func TestDecodeAllocs(t *testing.T) {
	vals := make([]float32, 10*10*1024)
	for i := range vals {
		vals[i] = float32(i)
	}
	x := FromFloat32([]int64{10, 10, 1024}, vals)
	buf := mustEncode(t, x, Msgpack)
	cbuf := mustEncode(t, x, Cmppack)

	var sink float32
	allocs := testing.AllocsPerRun(20, func() {
		got, err := Decode(buf, Msgpack, Float32)
		if err != nil {
			panic(err)
		}
		sink += got.Float32s()[1]
	})
	assert.LessOrEqual(t, allocs, 2.0, "MSGPACK decode and Float32s")
	allocs = testing.AllocsPerRun(20, func() {
		got, err := Decode(cbuf, Cmppack, Float32)
		if err != nil {
			panic(err)
		}
		sink += got.Float32s()[1]
	})
	assert.LessOrEqual(t, allocs, 2.0, "CMPPACK decode and Float32s")
	dst := make([]byte, 0, len(buf))
	allocs = testing.AllocsPerRun(20, func() {
		dst, _ = Encode(dst[:0], x, Msgpack)
	})
	assert.Zero(t, allocs, "encoding into a large enough dst")
	assert.Positive(t, sink)
}

func TestFloat32sOfDecodedResponseIsAView(t *testing.T) {
	// A [2, 3, 1024] response's data starts 46 bytes into the buffer
	// (bin16), a [10, 10, 1024] one's 48 bytes in (bin32).
	for _, shape := range [][]int64{{2, 3, 1024}, {10, 10, 1024}} {
		n, err := NumElements(shape)
		require.NoError(t, err)
		buf := mustEncode(t, FromFloat32(shape, make([]float32, n)), Msgpack)
		got, err := Decode(buf, Msgpack, Float32)
		require.NoError(t, err)
		offset := len(buf) - len(got.Data)
		f := got.Float32s()
		f[0] = 1
		if unalignedOK || offset%4 == 0 {
			assert.Equal(t, []byte{0, 0, 0x80, 0x3f}, buf[offset:offset+4], "shape %v: Float32s views buf", shape)
		}
	}
}

func TestDecodeTo(t *testing.T) {
	buf := goldenBytes(t) // int64 [[1, 2, 3], [4, 5, 6]]
	want, err := Decode(buf, Msgpack, Int64)
	require.NoError(t, err)
	tests := []struct {
		name   string
		shape  []int64
		reused bool
	}{
		{"nil", nil, false},
		{"no room", make([]int64, 1), false},
		{"exact room", make([]int64, 2), true},
		{"more room", make([]int64, 1, 5), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeTo(tt.shape, buf, Msgpack, Int64)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			if tt.reused {
				assert.Same(t, &tt.shape[:1][0], &got.Shape[0], "decoded into the given shape")
			} else if cap(tt.shape) > 0 {
				assert.NotSame(t, &tt.shape[:1][0], &got.Shape[0], "a new shape")
			}
		})
	}
	var room [3]int64
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := DecodeTo(room[:], buf, Msgpack, Int64); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs, "MSGPACK decode into a shape with room")
	scalar, err := Decode(mustEncode(t, FromInt64([]int64{}, []int64{7}), Msgpack), Msgpack, Int64)
	require.NoError(t, err)
	assert.Equal(t, []int64{}, scalar.Shape, "Decode gives rank 0 an empty, not nil, shape")
}
