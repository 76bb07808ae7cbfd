//go:build !race

// The race detector's sync.Pool drops a quarter of what is put in it, so
// this test runs without it.

package nucleus

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Once warmed up, Forward allocates only its output: its working memory
// is reused from call to call.
func TestForwardReusesMemory(t *testing.T) {
	n := mustNew(t, small(64, 2, 40, 2, 40, 2))
	tokens := randomTokens(1, 4*8)
	_, err := n.Forward(tokens, 4, 8)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := n.Forward(tokens, 4, 8); err != nil {
			t.Fatal(err)
		}
	})
	assert.Equal(t, 1.0, allocs, "the output")
}
