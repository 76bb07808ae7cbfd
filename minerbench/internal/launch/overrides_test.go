package launch

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/minerbench/minerbench/minerbench/miner"
)

// TestOverrides checks what the host sends a miner: its own settings win
// over the global ones, which win over the host's, and a global one applies
// only where the miner has its key; the names of the results directory
// follow every override.
func TestOverrides(t *testing.T) {
	o := NewOverrides(
		miner.Settings{"nucleus.nhid": "100", miner.KeyNetwork: "bench"},
		miner.Settings{"nucleus.nhid": "600"},
		miner.Settings{miner.KeyWalletName: "alice", "nucleus.nlayers": "3", "other.key": "1"},
	)
	network, wallet := o.Names("template")
	assert.Equal(t, "bench", network)
	assert.Equal(t, "alice", wallet)

	defaults := miner.RuntimeDefaults()
	defaults["nucleus.nhid"], defaults["nucleus.nlayers"] = "200", "2"
	assert.Equal(t, miner.Settings{
		miner.KeyWalletName:    "alice",
		miner.KeyWalletHotkey:  "template",
		miner.KeyNetwork:       "bench",
		miner.KeyChainEndpoint: "127.0.0.1:9944",
		"nucleus.nhid":         "600",
		"nucleus.nlayers":      "3",
	}, o.settingsFor("template", "127.0.0.1:9944", defaults), "other.key is not the miner's")
}
