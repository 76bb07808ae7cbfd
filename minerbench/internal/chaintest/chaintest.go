// Package chaintest serves a mock chain to tests on loopback, as the host
// serves its embedded chain to the miners it launches.
package chaintest

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/chain"
)

// Serve serves a new chain of cfg on a free 127.0.0.1 port until tb ends,
// and returns it with its endpoint. The chain is not started: blocks come
// from its Advance, or from its Start.
func Serve(tb testing.TB, cfg chain.Config) (*chain.Chain, string) {
	tb.Helper()
	ch, err := chain.New(cfg)
	require.NoError(tb, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	stop, err := ch.Serve(lis)
	require.NoError(tb, err)
	tb.Cleanup(func() { assert.NoError(tb, stop()) })
	return ch, lis.Addr().String()
}
