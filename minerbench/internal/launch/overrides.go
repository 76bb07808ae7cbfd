package launch

import (
	"maps"

	"github.com/minerbench/minerbench/minerbench/miner"
)

// The wallet and network the host gives every miner.
//
// As in Bittensor 2.0.4's QueryBenchmark, that is a mock wallet of a
// miner's default name on the mock network (subtensor.network=mock).
const (
	MockWallet  = "default"
	MockNetwork = "mock"
)

// Overrides are the settings a run gives one miner beyond HostSettings.
type Overrides struct {
	// Own are this miner's alone: a miner refuses a key it does not have.
	Own miner.Settings
	// Global apply to every miner, each only where the miner has its key.
	Global miner.Settings
}

// NewOverrides returns the overrides of one miner.
//
// own are the bench file's settings for it. set are the -mb.set
// NAME:key=value overrides, which win over own. global are the -mb.set
// key=value ones.
func NewOverrides(bench, set, global miner.Settings) Overrides {
	own := miner.Settings{}
	maps.Copy(own, bench)
	maps.Copy(own, set)
	return Overrides{Own: own, Global: global}
}

// HostSettings returns what the host sets for miner name before any
// override.
//
// That is a mock wallet of the miner's default name, MockWallet, with name
// as its hotkey, on MockNetwork.
func HostSettings(name string) miner.Settings {
	return miner.Settings{
		miner.KeyWalletName:   MockWallet,
		miner.KeyWalletHotkey: name,
		miner.KeyNetwork:      MockNetwork,
	}
}

// Names returns the network and wallet name miner name is given.
//
// They name its results directory. Every miner has these settings, so
// every override of them applies.
func (o Overrides) Names(name string) (network, wallet string) {
	s := HostSettings(name)
	maps.Copy(s, o.Global)
	maps.Copy(s, o.Own)
	return s[miner.KeyNetwork], s[miner.KeyWalletName]
}

// settingsFor returns the settings the host sends miner name.
//
// defaults are the miner's settings and their defaults. The host sends
// its own settings and the chain's endpoint. Then come the global
// overrides the miner has a key for, and the miner's own.
func (o Overrides) settingsFor(name, chainEndpoint string, defaults miner.Settings) miner.Settings {
	s := HostSettings(name)
	s[miner.KeyChainEndpoint] = chainEndpoint
	for k, v := range o.Global {
		if _, known := defaults[k]; known {
			s[k] = v
		}
	}
	maps.Copy(s, o.Own)
	return s
}
