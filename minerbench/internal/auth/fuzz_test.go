package auth

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse checks that ParseSignature never panics, and that whatever it
// accepts writes back with String to a value that parses to the same
// signature. Its seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, value string) {
		sig, err := ParseSignature(value)
		if err != nil {
			var ae *Error
			require.ErrorAs(t, err, &ae)
			return
		}
		back, err := ParseSignature(sig.String())
		require.NoError(t, err)
		require.Equal(t, sig, back)
	})
}
