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
