package tensor

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecode feeds arbitrary buffers to Decode under both serializers:
// it must not panic, must refuse with an *Error, and whatever it accepts
// must be a valid tensor that re-encodes to a buffer decoding to the same
// tensor. The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add(mapOf(goldenEntries()...))
	cases := []struct {
		s     Serializer
		dtype DType
	}{
		{Msgpack, Unknown}, {Msgpack, Float32}, {Cmppack, Float16}, {Cmppack, Float32}, {Cmppack, Float64},
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		orig := bytes.Clone(buf)
		for _, c := range cases {
			got, err := Decode(buf, c.s, c.dtype)
			if err != nil {
				var e *Error
				require.ErrorAs(t, err, &e)
				require.NotNil(t, e.Reason)
				continue
			}
			require.NoError(t, got.Validate())
			enc, err := Encode(nil, got, c.s)
			require.NoError(t, err)
			again, err := Decode(enc, c.s, c.dtype)
			require.NoError(t, err)
			require.Equal(t, got.DType, again.DType)
			require.Equal(t, got.Shape, again.Shape)
			require.True(t, bytes.Equal(got.Data, again.Data), "data differs after a round trip")
			// The canonical encoding is a fixed point.
			enc2, err := Encode(nil, again, c.s)
			require.NoError(t, err)
			require.Equal(t, enc, enc2)
		}
		require.Equal(t, orig, buf, "Decode must not write to its input")
	})
}
