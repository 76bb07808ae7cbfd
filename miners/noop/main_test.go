package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/httpdendrite"
	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/minerbench/miner/minertest"
	"github.com/minerbench/minerbench/minerbench/wallet"
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
	query := func(body string) httpdendrite.Result {
		c, err := httpdendrite.New(httpdendrite.Config{URL: s.SynapseEndpoint, AxonHotkey: s.Hotkey, Synapse: "Tokens",
			Body: []byte(body), Key: wallet.Mock("validator"), Streaming: true})
		require.NoError(t, err)
		return c.Query(t.Context())
	}
	r := query(`{"n": 5}`)
	require.Equal(t, 200, r.Code, r.Message)
	assert.Equal(t, int64(len("token 0\ntoken 1\ntoken 2\ntoken 3\ntoken 4\n")), r.Bytes)
	assert.Positive(t, r.Chunks)
	assert.LessOrEqual(t, r.Chunks, 5, "a chunk holds at least one token")
	assert.Positive(t, r.FirstByte)
	assert.LessOrEqual(t, r.FirstByte, r.LastChunk)

	r = query(`{"n": 5000}`)
	assert.Equal(t, 400, r.Code)
	assert.Equal(t, "n: 5000; want 0 to 4096", r.Message)
}
