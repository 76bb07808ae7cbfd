package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/minerbench/miner/minertest"
)

// small is a nucleus small enough to build at once.
var small = miner.Settings{"nucleus.nhid": "16", "nucleus.nlayers": "1", "nucleus.nhead": "2"}

// TestTextEmbedding answers TextEmbedding with the mean over each sequence
// of what a forward query of the same ids answers, and refuses ragged ids
// with 400.
func TestTextEmbedding(t *testing.T) {
	s, err := minertest.Start(t, template{}, small)
	require.NoError(t, err)
	ids := minertest.Tokens(2, 3)
	out, code := s.Forward(t.Context(), ids)
	require.Equal(t, miner.Success, code)

	rows := [][]int64{ids.Int64s()[:3], ids.Int64s()[3:]}
	got, ans, err := minertest.QuerySynapse(t.Context(), s, &TextEmbedding{TokenIDs: rows})
	require.NoError(t, err)
	require.Equal(t, 200, ans.Status, ans.Message)
	require.Len(t, got.Embedding, 2)
	want := out.Float32s()
	for b, row := range got.Embedding {
		require.Len(t, row, miner.NetworkDim)
		for i := range row {
			mean := (want[(b*3)*miner.NetworkDim+i] + want[(b*3+1)*miner.NetworkDim+i] + want[(b*3+2)*miner.NetworkDim+i]) / 3
			assert.InDelta(t, mean, row[i], 1e-5)
		}
	}

	_, ans, err = minertest.QuerySynapse(t.Context(), s, &TextEmbedding{TokenIDs: [][]int64{{1, 2}, {3}}})
	require.NoError(t, err)
	assert.Equal(t, minertest.SynapseAnswer{Status: 400, Message: "token_ids[1]: 1 ids; want 2, as token_ids[0]"}, ans)
}
