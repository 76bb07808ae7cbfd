package zeros

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/miner"
)

func TestAnswer(t *testing.T) {
	var z Answerer
	for _, s := range [][2]int64{{2, 3}, {1, 1}, {4, 5}} {
		in := miner.FromInt64([]int64{s[0], s[1]}, make([]int64, s[0]*s[1]))
		out := z.Answer(in)
		require.Equal(t, []int64{s[0], s[1], miner.NetworkDim}, out.Shape)
		vals := out.Float32s()
		require.Len(t, vals, int(s[0]*s[1]*miner.NetworkDim))
		for _, v := range vals {
			require.Zero(t, v)
		}
	}
	small := z.Answer(miner.FromInt64([]int64{1, 1}, []int64{0}))
	assert.Equal(t, int(miner.NetworkDim), len(small.Float32s()), "a smaller answer after a larger one is a view of the same buffer")
}
