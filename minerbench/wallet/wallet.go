// Package wallet holds sr25519 hotkeys and their SS58 addresses.
package wallet

// NetworkPrefix is the SS58 address prefix of generic Substrate networks,
// which Bittensor used.
const NetworkPrefix = 42

// Keypair is an sr25519 key pair.
type Keypair struct{}

// FromSeed returns the key pair of a 32-byte mini secret key, expanded the way
// Substrate expands it.
func FromSeed(seed [32]byte) (*Keypair, error) { panic("unimplemented") }

// FromHexSeed is FromSeed for a seed written as 0x-prefixed hex.
func FromHexSeed(hexSeed string) (*Keypair, error) { panic("unimplemented") }

// Mock returns a deterministic key pair derived from name, for mock wallets.
func Mock(name string) *Keypair { panic("unimplemented") }

// PublicKey returns the 32-byte sr25519 public key.
func (k *Keypair) PublicKey() [32]byte { panic("unimplemented") }

// SS58 returns the key's SS58 address with NetworkPrefix.
func (k *Keypair) SS58() string { panic("unimplemented") }

// Sign signs msg in the "substrate" signing context and returns the 64-byte signature.
func (k *Keypair) Sign(msg []byte) ([]byte, error) { panic("unimplemented") }

// Verify reports whether sig is pub's signature of msg in the "substrate" context.
func Verify(pub [32]byte, msg, sig []byte) bool { panic("unimplemented") }

// EncodeSS58 writes pub as an SS58 address with the given prefix.
func EncodeSS58(pub [32]byte, prefix uint16) string { panic("unimplemented") }

// DecodeSS58 reads an SS58 address, checking its checksum.
func DecodeSS58(addr string) (pub [32]byte, prefix uint16, err error) { panic("unimplemented") }
