//go:build !race

// The race detector's sync.Pool drops a quarter of what is put in it, so
// this test runs without it.

package nucleus

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Once warmed up, ForwardInto allocates nothing: its working memory is
// reused from call to call.
func TestForwardIntoReusesMemory(t *testing.T) {
	n := mustNew(t, small(64, 2, 40, 2, 40, 2))
	tokens := randomTokens(1, 4*8)
	dst := make([]float32, len(tokens)*64)
	require.NoError(t, n.ForwardInto(dst, tokens, 4, 8))
	allocs := testing.AllocsPerRun(20, func() {
		if err := n.ForwardInto(dst, tokens, 4, 8); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}
