package zeros

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/miner"
)

// kept returns the number of float32 z keeps.
func (z *Answerer) kept() int {
	if p := z.buf.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// tokens returns [batch, seq] inputs.
func tokens(batch, seq int64) miner.Tensor {
	return miner.FromInt64([]int64{batch, seq}, make([]int64, batch*seq))
}

func TestAnswer(t *testing.T) {
	var z Answerer
	for _, s := range [][2]int64{{2, 3}, {1, 1}, {4, 5}} {
		out := z.Answer(tokens(s[0], s[1]))
		require.Equal(t, []int64{s[0], s[1], miner.NetworkDim}, out.Shape)
		vals := out.Float32s()
		require.Len(t, vals, int(s[0]*s[1]*miner.NetworkDim))
		for _, v := range vals {
			require.Zero(t, v)
		}
	}
	small := z.Answer(tokens(1, 1))
	assert.Equal(t, int(miner.NetworkDim), len(small.Float32s()), "a smaller answer after a larger one is a view of the same buffer")
	assert.Equal(t, 20*int(miner.NetworkDim), z.kept())
}

// A buffer larger than keepFloats serves the answers asked while it is in
// use, and is released once unused for Release; a small one is kept.
func TestLargeBufferReleased(t *testing.T) {
	z := Answerer{releaseAfter: 20 * time.Millisecond}
	const seq = 2 * keepFloats / miner.NetworkDim // twice what is kept
	first := z.Answer(tokens(1, seq)).Float32s()
	second := z.Answer(tokens(1, seq)).Float32s()
	assert.Same(t, &first[0], &second[0], "answers in a row share the buffer")
	assert.Equal(t, 2*keepFloats, z.kept())
	require.Eventually(t, func() bool { return z.kept() == 0 }, time.Minute, time.Millisecond, "the large buffer is released")
	for _, v := range first {
		require.Zero(t, v, "an answer handed out keeps its zeros")
	}

	z.Answer(tokens(1, keepFloats/miner.NetworkDim))
	assert.Equal(t, keepFloats, z.kept(), "a buffer of keepFloats is kept")
	z.mu.Lock()
	defer z.mu.Unlock()
	assert.Nil(t, z.timer, "no release is armed for it")
}
