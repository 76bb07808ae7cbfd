package wire

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/encoding"
)

// compress runs the registered compressor name over data.
func compress(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	c := encoding.GetCompressor(name)
	require.NotNil(t, c, "compressor %q is registered", name)
	var out bytes.Buffer
	w, err := c.Compress(&out)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return out.Bytes()
}

// decompress runs the registered decompressor name over data and closes the
// reader, as gRPC does.
func decompress(name string, data []byte) ([]byte, error) {
	r, err := encoding.GetCompressor(name).Decompress(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer r.(io.Closer).Close()
	return io.ReadAll(r)
}

// TestDeflateIsZlib checks that "deflate" is the zlib format both ways, as
// gRPC's C core writes it: what it writes is what compress/zlib reads, and
// it reads what compress/zlib writes, repeatedly through its pools.
func TestDeflateIsZlib(t *testing.T) {
	data := bytes.Repeat([]byte("bittensor 2.0.4 "), 1000)
	for range 3 {
		out := compress(t, Deflate, data)
		assert.Equal(t, byte(0x78), out[0], "a zlib header: deflate, 32 KiB window")
		zr, err := zlib.NewReader(bytes.NewReader(out))
		require.NoError(t, err)
		got, err := io.ReadAll(zr)
		require.NoError(t, err)
		assert.Equal(t, data, got)

		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		_, err = zw.Write(data)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		got, err = decompress(Deflate, z.Bytes())
		require.NoError(t, err)
		assert.Equal(t, data, got)
	}
}

// TestDeflateRefusesRawDeflate checks that a raw deflate stream (RFC 1951,
// without the zlib header) and a gzip stream are refused, not misread.
func TestDeflateRefusesRawDeflate(t *testing.T) {
	var raw bytes.Buffer
	fw, err := flate.NewWriter(&raw, flate.DefaultCompression)
	require.NoError(t, err)
	_, err = fw.Write([]byte("not zlib"))
	require.NoError(t, err)
	require.NoError(t, fw.Close())
	_, err = decompress(Deflate, raw.Bytes())
	assert.Error(t, err)
	_, err = decompress(Deflate, compress(t, Gzip, []byte("gzip, not zlib")))
	assert.Error(t, err)
	// The pool still serves good streams after a refusal.
	got, err := decompress(Deflate, compress(t, Deflate, []byte("fine")))
	require.NoError(t, err)
	assert.Equal(t, "fine", string(got))
}

func TestGzipRegistered(t *testing.T) {
	got, err := decompress(Gzip, compress(t, Gzip, []byte("gzip")))
	require.NoError(t, err)
	assert.Equal(t, "gzip", string(got))
}

func TestCheckCompression(t *testing.T) {
	for _, ok := range []string{"", Gzip, Deflate} {
		assert.NoError(t, CheckCompression("f", ok))
	}
	for _, bad := range []string{"zstd", "GZIP", "NoCompression", " gzip"} {
		err := CheckCompression("axon.compression", bad)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "axon.compression")
		assert.Contains(t, err.Error(), `"gzip", "deflate" or "" (none)`)
	}
}
