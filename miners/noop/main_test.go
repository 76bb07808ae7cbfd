package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/minerbench/miner/minertest"
)

// TestSynapses queries the noop miner's synapses over the HTTP synapse
// protocol: Dummy doubles its input, Echo upper-cases its text.
func TestSynapses(t *testing.T) {
	s, err := minertest.Start(t, noop{}, nil)
	require.NoError(t, err)
	require.NotEmpty(t, s.SynapseEndpoint)

	d, ans, err := minertest.QuerySynapse(t.Context(), s, &Dummy{DummyInput: 21})
	require.NoError(t, err)
	require.Equal(t, minertest.SynapseAnswer{Status: 200, Message: "Success"}, ans)
	require.NotNil(t, d.DummyOutput)
	assert.Equal(t, 42, *d.DummyOutput)

	e, ans, err := minertest.QuerySynapse(t.Context(), s, &Echo{Text: "héllo"})
	require.NoError(t, err)
	require.Equal(t, 200, ans.Status, ans.Message)
	assert.Equal(t, "HÉLLO", e.Text)

	_, code := s.Query(1, 4)
	assert.Equal(t, miner.Success, code, "the gRPC axon still serves")
}

// TestTokensStreams: Tokens sends each of its n tokens as a chunk of its
// own, read as a streaming synapse's dendrite reads them; an n out of
// range is refused with 400.
func TestTokensStreams(t *testing.T) {
	s, err := minertest.Start(t, noop{}, nil)
	require.NoError(t, err)
	ans, err := minertest.QueryStream(t.Context(), s, &Tokens{N: 5})
	require.NoError(t, err)
	require.Equal(t, 200, ans.Status, ans.Message)
	assert.Equal(t, int64(len("token 0\ntoken 1\ntoken 2\ntoken 3\ntoken 4\n")), ans.Bytes)
	assert.Positive(t, ans.Chunks)
	assert.LessOrEqual(t, ans.Chunks, 5, "a chunk holds at least one token")

	ans, err = minertest.QueryStream(t.Context(), s, &Tokens{N: 5000})
	require.NoError(t, err)
	assert.Equal(t, 400, ans.Status)
	assert.Equal(t, "n: 5000; want 0 to 4096", ans.Message)
}
