package miner

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/httpaxon"
)

// Values of axon.announce.
const (
	// AnnounceGRPC announces the gRPC axon of Bittensor 2.0.x.
	AnnounceGRPC = "grpc"
	// AnnounceSynapse announces the HTTP synapse axon of a miner that
	// serves synapses.
	AnnounceSynapse = "synapse"
)

// Settings is a miner's configuration, keyed by dotted names.
//
// The keys have the dotted form of Bittensor 2.0.4's config, such as
// "nucleus.nhid" → "600". Values are text. The typed getters parse them.
// When they cannot, their error names the key, the value and what is
// accepted.
type Settings map[string]string

// Settings the runtime owns, shared by every miner.
const (
	KeyWalletName              = "wallet.name"
	KeyWalletHotkey            = "wallet.hotkey"
	KeyWalletSeed              = "wallet.seed"
	KeyAxonIP                  = "axon.ip"
	KeyAxonPort                = "axon.port"
	KeyAxonExternalIP          = "axon.external_ip"
	KeyAxonTimeout             = "axon.forward_timeout"
	KeyAxonWorkers             = "axon.workers"
	KeyAxonQueue               = "axon.queue"
	KeyAxonCompression         = "axon.compression"
	KeyAxonMaxConnections      = "axon.max_connections"
	KeyAxonMaxStreams          = "axon.max_streams_per_connection"
	KeyAxonMaxRequestsInFlight = "axon.max_requests_in_flight"
	KeyAxonMaxAnswerBytes      = "axon.max_answer_bytes"
	KeyAxonMaxConnsPerPeer     = "axon.max_connections_per_peer"
	KeyAxonMaxCallsPerPeer     = "axon.max_calls_per_peer"
	KeyAxonMaxAnswerPerPeer    = "axon.max_answer_bytes_per_peer"
	KeyAxonHandshakeTimeout    = "axon.handshake_timeout"
	KeyAxonRequestTimeout      = "axon.request_timeout"
	KeyAxonWriteTimeout        = "axon.write_timeout"
	KeyAxonIdleTimeout         = "axon.idle_timeout"
	KeyAxonMaxClockSkew        = "axon.max_clock_skew"
	KeyAxonSynapsePort         = "axon.synapse_port"
	KeyAxonAnnounce            = "axon.announce"
	KeyAxonAcceptUnsigned      = "axon.accept_unsigned"
	KeyAxonMaxBodyBytes        = "axon.max_body_bytes"
	KeyAxonHeaderTimeout       = "axon.header_timeout"
	KeyNetwork                 = "subtensor.network"
	KeyChainEndpoint           = "subtensor.chain_endpoint"
)

// RuntimeDefaults returns the settings every miner has, with their defaults.
//
// The defaults are a mock wallet, an axon on a free loopback port, and no
// chain. With an empty wallet.seed, the hotkey derives from wallet.name
// and wallet.hotkey. An empty subtensor.chain_endpoint registers nowhere.
func RuntimeDefaults() Settings {
	return Settings{
		KeyWalletName:              "default",
		KeyWalletHotkey:            "default",
		KeyWalletSeed:              "",
		KeyAxonIP:                  "127.0.0.1",
		KeyAxonPort:                "0",
		KeyAxonExternalIP:          "",
		KeyAxonTimeout:             axon.DefaultForwardTimeout.String(),
		KeyAxonWorkers:             "0",
		KeyAxonQueue:               "0",
		KeyAxonCompression:         "",
		KeyAxonMaxConnections:      strconv.Itoa(axon.DefaultMaxConnections),
		KeyAxonMaxStreams:          strconv.Itoa(axon.DefaultMaxStreamsPerConnection),
		KeyAxonMaxRequestsInFlight: strconv.Itoa(axon.DefaultMaxRequestsInFlight),
		KeyAxonMaxAnswerBytes:      strconv.Itoa(4 * axon.DefaultMaxMessageSize),
		KeyAxonMaxConnsPerPeer:     "0",
		KeyAxonMaxCallsPerPeer:     "0",
		KeyAxonMaxAnswerPerPeer:    "0",
		KeyAxonHandshakeTimeout:    axon.DefaultHandshakeTimeout.String(),
		KeyAxonRequestTimeout:      axon.DefaultRequestTimeout.String(),
		KeyAxonWriteTimeout:        axon.DefaultWriteTimeout.String(),
		KeyAxonIdleTimeout:         axon.DefaultIdleTimeout.String(),
		KeyAxonMaxClockSkew:        axon.DefaultMaxClockSkew.String(),
		KeyAxonSynapsePort:         "0",
		KeyAxonAnnounce:            AnnounceGRPC,
		KeyAxonAcceptUnsigned:      "false",
		KeyAxonMaxBodyBytes:        strconv.Itoa(httpaxon.DefaultMaxBodyBytes),
		KeyAxonHeaderTimeout:       httpaxon.DefaultHeaderTimeout.String(),
		KeyNetwork:                 "mock",
		KeyChainEndpoint:           "",
	}
}

// runtimeNotes say what the runtime's settings mean where the value does
// not. A miner binary's -h prints them beside the defaults.
var runtimeNotes = map[string]string{
	KeyWalletName:              "mock wallet the hotkey derives from",
	KeyWalletHotkey:            "hotkey name in that wallet",
	KeyWalletSeed:              "hotkey secret seed, 0x-prefixed hex (empty: a mock key from wallet.name and wallet.hotkey)",
	KeyAxonIP:                  "IP the axon listens on",
	KeyAxonPort:                "port the axon listens on (0 picks a free one)",
	KeyAxonExternalIP:          "IP announced on the chain (empty: axon.ip)",
	KeyAxonTimeout:             "time a call may take, queue wait included; later it is answered Timeout",
	KeyAxonWorkers:             fmt.Sprintf("calls the forward function runs at once (0: %d, Bittensor's axon.max_workers)", axon.DefaultWorkers),
	KeyAxonQueue:               fmt.Sprintf("calls that may wait for a worker; more are answered NucleusFull (0: %d)", axon.DefaultQueueSize),
	KeyAxonCompression:         "compression of the axon's answers: gzip, deflate, or empty (or NoCompression, 2.0.4's word) for none; compressed requests are read either way",
	KeyAxonMaxConnections:      "connections served at once; a new one beyond closes the idlest connection without calls, of the address holding the most, or waits to be accepted",
	KeyAxonMaxConnsPerPeer:     "connections one client address holds at once; a new one beyond closes that address's idlest (0: axon.max_connections, so one address may hold them all)",
	KeyAxonMaxCallsPerPeer:     "calls of one client address admitted at once while other addresses have calls admitted; more are answered NucleusFull (0: axon.workers + half of axon.queue; an address alone may use all)",
	KeyAxonMaxAnswerPerPeer:    "answer bytes one client address holds, its unread answers included (0: three quarters of axon.max_answer_bytes)",
	KeyAxonMaxStreams:          "calls in progress on one connection",
	KeyAxonMaxRequestsInFlight: "calls whose request is still being received; more are refused on their headers",
	KeyAxonMaxAnswerBytes:      "answer bytes in flight across the axon; a call that finds no room for its answer waits as for a worker, not behind larger answers",
	KeyAxonHandshakeTimeout:    "time a new connection has to finish its HTTP/2 handshake",
	KeyAxonRequestTimeout:      "time from a call's headers to the end of its request",
	KeyAxonWriteTimeout:        "time a client has to read an answer before its connection is closed",
	KeyAxonIdleTimeout:         "time a connection without calls, or that never made one, is kept",
	KeyAxonMaxClockSkew:        "how far from the axon's clock a call's nonce may be",
	KeyAxonSynapsePort:         "port of the HTTP synapse axon of a miner that serves synapses (0 picks a free one)",
	KeyAxonAnnounce:            "axon announced on the chain: grpc (Bittensor 2.0.x) or synapse (the HTTP synapse axon)",
	KeyAxonAcceptUnsigned:      "true answers synapse requests without a signature, as Bittensor's axon does; anyone can then call as any hotkey",
	KeyAxonMaxBodyBytes:        "largest synapse request body; larger ones are answered 413",
	KeyAxonHeaderTimeout:       "time a synapse connection has to send a request's headers",
	KeyNetwork:                 "name of the chain's network",
	KeyChainEndpoint:           "host:port of the chain to register on (empty: none)",
}

// defaults returns m's settings with their defaults, the runtime's and its
// own.
func defaults(m Miner) Settings {
	s := RuntimeDefaults()
	maps.Copy(s, m.Defaults())
	return s
}

// Keys returns the keys of s in sorted order.
func (s Settings) Keys() []string { return slices.Sorted(maps.Keys(s)) }

// String returns the settings as sorted "key=value" pairs.
func (s Settings) String() string {
	parts := make([]string, 0, len(s))
	for _, k := range s.Keys() {
		parts = append(parts, k+"="+s[k])
	}
	return strings.Join(parts, " ")
}

// Int returns the integer value of key, which must lie in [lo, hi].
func (s Settings) Int(key string, lo, hi int) (int, error) {
	v, err := strconv.Atoi(strings.TrimSpace(s[key]))
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("setting %s=%q: want an integer from %d to %d", key, s[key], lo, hi)
	}
	return v, nil
}

// Duration returns the value of key as a time.Duration, such as "10s".
// It must not be negative.
func (s Settings) Duration(key string) (time.Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s[key]))
	if err != nil || v < 0 {
		return 0, fmt.Errorf("setting %s=%q: want a non-negative duration such as 10s or 250ms", key, s[key])
	}
	return v, nil
}
