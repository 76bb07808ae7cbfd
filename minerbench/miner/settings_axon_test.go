package miner

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/settings"
)

// TestAxonSettings checks that every axon.* setting reaches the axon's
// configuration, that the defaults are the axon's own, and that a bad value
// is refused naming its setting.
func TestAxonSettings(t *testing.T) {
	c, err := parseAxonSettings(RuntimeDefaults())
	require.NoError(t, err)
	assert.Equal(t, axon.Config{
		ForwardTimeout:          axon.DefaultForwardTimeout,
		MaxConnections:          axon.DefaultMaxConnections,
		MaxStreamsPerConnection: axon.DefaultMaxStreamsPerConnection,
		MaxRequestsInFlight:     axon.DefaultMaxRequestsInFlight,
		MaxAnswerBytes:          4 * axon.DefaultMaxMessageSize,
		HandshakeTimeout:        axon.DefaultHandshakeTimeout,
		RequestTimeout:          axon.DefaultRequestTimeout,
		WriteTimeout:            axon.DefaultWriteTimeout,
		IdleTimeout:             axon.DefaultIdleTimeout,
		MaxClockSkew:            axon.DefaultMaxClockSkew,
	}, c)

	merged, err := settings.Merge(RuntimeDefaults(), Settings{
		KeyAxonCompression:         "deflate",
		KeyAxonWorkers:             "3",
		KeyAxonQueue:               "7",
		KeyAxonMaxConnections:      "5",
		KeyAxonMaxStreams:          "6",
		KeyAxonMaxRequestsInFlight: "8",
		KeyAxonMaxAnswerBytes:      "134217728",
		KeyAxonMaxConnsPerPeer:     "4",
		KeyAxonMaxCallsPerPeer:     "9",
		KeyAxonMaxAnswerPerPeer:    "67108864",
		KeyAxonTimeout:             "2s",
		KeyAxonHandshakeTimeout:    "3s",
		KeyAxonRequestTimeout:      "4s",
		KeyAxonWriteTimeout:        "5s",
		KeyAxonIdleTimeout:         "6s",
		KeyAxonMaxClockSkew:        "7s",
	})
	require.NoError(t, err)
	s := Settings(merged)
	c, err = parseAxonSettings(s)
	require.NoError(t, err)
	assert.Equal(t, axon.Config{
		Compression: "deflate", Workers: 3, QueueSize: 7,
		MaxConnections: 5, MaxStreamsPerConnection: 6, MaxRequestsInFlight: 8, MaxAnswerBytes: 128 << 20,
		MaxConnectionsPerPeer: 4, MaxCallsPerPeer: 9, MaxAnswerBytesPerPeer: 64 << 20,
		ForwardTimeout: 2 * time.Second, HandshakeTimeout: 3 * time.Second, RequestTimeout: 4 * time.Second,
		WriteTimeout: 5 * time.Second, IdleTimeout: 6 * time.Second, MaxClockSkew: 7 * time.Second,
	}, c)

	s[KeyAxonCompression] = noCompression
	c, err = parseAxonSettings(s)
	require.NoError(t, err)
	assert.Empty(t, c.Compression, "2.0.4's NoCompression is no compression")

	for key, value := range map[string]string{
		KeyAxonCompression:      "br",
		KeyAxonMaxConnections:   "0",
		KeyAxonMaxAnswerBytes:   "1024",
		KeyAxonMaxConnsPerPeer:  "1025",
		KeyAxonMaxCallsPerPeer:  "-1",
		KeyAxonMaxAnswerPerPeer: "272629761",
		KeyAxonWriteTimeout:     "-1s",
		KeyAxonMaxClockSkew:     "soon",
	} {
		bad, err := settings.Merge(RuntimeDefaults(), Settings{key: value})
		require.NoError(t, err)
		_, err = parseAxonSettings(Settings(bad))
		assert.ErrorContains(t, err, "setting "+key, "%s=%s", key, value)
	}
}

// TestAxonPerPeerSettingsBounded checks that a per-peer bound above the
// total it shares is refused with the setting, its value and what is
// accepted, the total counted with its default.
func TestAxonPerPeerSettingsBounded(t *testing.T) {
	for key, c := range map[string]struct{ value, want string }{
		KeyAxonMaxConnsPerPeer: {"1025",
			`setting axon.max_connections_per_peer="1025": want an integer from 0 (the default) to 1024, axon.max_connections`},
		KeyAxonMaxCallsPerPeer: {"111",
			`setting axon.max_calls_per_peer="111": want an integer from 0 (the default) to 110, axon.workers + axon.queue`},
		KeyAxonMaxAnswerPerPeer: {"272629761",
			`setting axon.max_answer_bytes_per_peer="272629761": want an integer from 0 (the default) to 272629760, axon.max_answer_bytes`},
	} {
		bad, err := settings.Merge(RuntimeDefaults(), Settings{key: c.value})
		require.NoError(t, err)
		_, err = parseAxonSettings(bad)
		assert.EqualError(t, err, c.want)
	}
	ok, err := settings.Merge(RuntimeDefaults(), Settings{KeyAxonMaxCallsPerPeer: "110", KeyAxonMaxConnsPerPeer: "1024"})
	require.NoError(t, err)
	c, err := parseAxonSettings(ok)
	require.NoError(t, err)
	assert.Equal(t, [2]int{1024, 110}, [2]int{c.MaxConnectionsPerPeer, c.MaxCallsPerPeer})
}
