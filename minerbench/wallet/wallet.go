// Package wallet holds sr25519 hotkeys and their SS58 addresses.
//
// Keys follow Substrate. A 32-byte mini secret key, the "secret seed" that
// `subkey inspect` prints, is expanded in Ed25519 mode. Signatures are
// Schnorrkel signatures in the "substrate" signing context. So a signature
// made here verifies in Substrate, polkadot.js and Bittensor, and the
// other way round.
//
// It is a supported API, for miner authors.
package wallet

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ChainSafe/go-schnorrkel"
	r255 "github.com/gtank/ristretto255"
	"golang.org/x/crypto/blake2b"
)

// NetworkPrefix is the SS58 address prefix Bittensor used.
// It is that of generic Substrate networks.
const NetworkPrefix = 42

// SeedSize is the length in bytes of a mini secret key.
const SeedSize = 32

// PublicKeySize is the length in bytes of an sr25519 public key.
const PublicKeySize = 32

// SignatureSize is the length in bytes of an sr25519 signature.
const SignatureSize = 64

// signingContext is the Schnorrkel signing context Substrate signs in.
var signingContext = []byte("substrate")

// mockDomain separates mock seeds from any other use of blake2b over a name.
const mockDomain = "minerbench/wallet mock hotkey v1:"

// Keypair is an sr25519 key pair. It is safe for concurrent use.
type Keypair struct {
	secret *r255.Scalar // the secret key's scalar
	public *PublicKey
}

// FromSeed returns the key pair of a 32-byte mini secret key.
// It expands the key as Substrate does, in Schnorrkel's Ed25519 mode.
func FromSeed(seed [32]byte) (*Keypair, error) {
	mini, err := schnorrkel.NewMiniSecretKeyFromRaw(seed)
	if err != nil {
		return nil, fmt.Errorf("wallet: seed: %w", err)
	}
	secret := mini.ExpandEd25519()
	pub, err := secret.Public()
	if err != nil {
		return nil, fmt.Errorf("wallet: seed: expanded secret key: %w", err)
	}
	public, err := newPublicKey(pub, "")
	if err != nil {
		return nil, fmt.Errorf("wallet: seed: %w", err)
	}
	x, err := schnorrkel.ScalarFromBytes(secret.Encode())
	if err != nil {
		return nil, fmt.Errorf("wallet: seed: expanded secret key: %w", err)
	}
	return &Keypair{secret: x, public: public}, nil
}

// FromHexSeed is FromSeed for a seed written in hex.
//
// The seed is "0x" and 64 hex digits of either case. Its errors describe
// what is wrong without repeating the seed, which is a secret.
func FromHexSeed(hexSeed string) (*Keypair, error) {
	const want = `want "0x" followed by 64 hex digits (a 32-byte mini secret key)`
	digits, ok := strings.CutPrefix(hexSeed, "0x")
	if !ok {
		return nil, fmt.Errorf("wallet: hex seed of %d characters does not start with \"0x\"; %s", len(hexSeed), want)
	}
	if len(digits) != 2*SeedSize {
		return nil, fmt.Errorf("wallet: hex seed has %d hex digits after \"0x\"; %s", len(digits), want)
	}
	var seed [SeedSize]byte
	if _, err := hex.Decode(seed[:], []byte(digits)); err != nil {
		if bad, isInvalid := err.(hex.InvalidByteError); isInvalid {
			return nil, fmt.Errorf("wallet: hex seed holds %q, which is not a hex digit; %s", rune(bad), want)
		}
		return nil, fmt.Errorf("wallet: hex seed: %v; %s", err, want)
	}
	return FromSeed(seed)
}

// MockSeed returns the mini secret key Mock uses for name.
// It is blake2b-256 of a fixed domain string followed by name.
func MockSeed(name string) [32]byte {
	return blake2b.Sum256([]byte(mockDomain + name))
}

// Mock returns a key pair derived from name, for mock wallets.
//
// Equal names give equal keys, and different names different keys. Mock
// keys are public knowledge, so never hold anything of value with one.
func Mock(name string) *Keypair {
	kp, err := FromSeed(MockSeed(name))
	if err != nil {
		// Ed25519-mode expansion clamps the key to [2^254, 2^255) and divides
		// it by the cofactor 8, which always leaves a canonical scalar, so
		// FromSeed cannot fail for any seed.
		panic("wallet: Ed25519-mode expansion gave an invalid key: " + err.Error())
	}
	return kp
}

// PublicKey returns the 32-byte sr25519 public key.
func (k *Keypair) PublicKey() [32]byte { return k.public.raw }

// Public returns the parsed public key, ready to verify with.
func (k *Keypair) Public() *PublicKey { return k.public }

// SS58 returns the key's SS58 address with NetworkPrefix.
func (k *Keypair) SS58() string { return k.public.ss58 }

// Sign returns the 64-byte signature of msg in the "substrate" context.
//
// Signatures are randomized. Signing the same message twice gives
// different signatures, and each verifies. Sign fails only when the
// system's random source does.
func (k *Keypair) Sign(msg []byte) ([]byte, error) {
	return k.sign(signingContext, msg)
}

// sign signs msg in the given signing context, as Schnorrkel's
// SecretKey.Sign does.
//
// That method computes the public key again for every signature. The
// scalar multiplication costs as much as the signature's own. sign uses
// the public key computed with the key pair instead.
func (k *Keypair) sign(context, msg []byte) ([]byte, error) {
	t := schnorrkel.NewSigningContext(context, msg)
	t.AppendMessage([]byte("proto-name"), []byte("Schnorr-sig"))
	t.AppendMessage([]byte("sign:pk"), k.public.raw[:])
	r, err := schnorrkel.NewRandomScalar()
	if err != nil {
		return nil, fmt.Errorf("wallet: sign: %w", err)
	}
	sig := r255.NewElement().ScalarBaseMult(r).Encode(make([]byte, 0, SignatureSize))
	t.AppendMessage([]byte("sign:R"), sig)
	s := r255.NewScalar().FromUniformBytes(t.ExtractBytes([]byte("sign:c"), 64))
	s.Multiply(s, k.secret).Add(s, r) // s = c·x + r
	sig = s.Encode(sig)
	sig[SignatureSize-1] |= 0x80 // marks a Schnorrkel signature, as Signature.Encode does
	return sig, nil
}

// Verify reports whether sig is pub's signature of msg.
//
// The signing context is "substrate". Verify decodes pub on every call. To
// verify many signatures of one key, parse it once with NewPublicKey or
// ParsePublicKey and use PublicKey.Verify.
func Verify(pub [32]byte, msg, sig []byte) bool {
	key, err := NewPublicKey(pub)
	if err != nil {
		return false
	}
	return key.Verify(msg, sig)
}

// PublicKey is a decoded sr25519 public key, ready to verify signatures.
//
// It does not decode the point again. It is immutable and safe for
// concurrent use, so one value can be cached per address and shared.
type PublicKey struct {
	raw  [32]byte
	ss58 string
	key  *schnorrkel.PublicKey
}

// NewPublicKey decodes a 32-byte sr25519 public key.
// It refuses bytes that are not the canonical encoding of a Ristretto
// point. It also refuses the identity point, which no secret key has.
func NewPublicKey(raw [32]byte) (*PublicKey, error) {
	return decodePublicKey(raw, "")
}

// decodePublicKey is NewPublicKey for a key whose address may be known.
// ss58 is the address with NetworkPrefix, or "" if not known.
func decodePublicKey(raw [32]byte, ss58 string) (*PublicKey, error) {
	key, err := schnorrkel.NewPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("wallet: public key 0x%x: %w; want the canonical encoding of a Ristretto point", raw, err)
	}
	return newPublicKey(key, ss58)
}

// newPublicKey wraps a decoded schnorrkel key.
//
// It computes the key's address unless ss58 already holds it. Encode
// caches the compressed point inside key on its first call. Calling it
// here, before the key is shared, keeps later Verify calls read-only. So
// they are free of data races.
func newPublicKey(key *schnorrkel.PublicKey, ss58 string) (*PublicKey, error) {
	raw := key.Encode()
	if raw == [32]byte{} {
		return nil, fmt.Errorf("wallet: public key 0x%x is the identity point; want the public key of a secret key", raw)
	}
	if ss58 == "" {
		ss58 = EncodeSS58(raw, NetworkPrefix)
	}
	return &PublicKey{raw: raw, ss58: ss58, key: key}, nil
}

// ParsePublicKey decodes an SS58 address into a public key.
// It accepts any valid prefix (see DecodeSS58). The key's SS58 method
// writes the address with NetworkPrefix.
func ParsePublicKey(ss58 string) (*PublicKey, error) {
	raw, prefix, err := DecodeSS58(ss58)
	if err != nil {
		return nil, err
	}
	if prefix != NetworkPrefix {
		// Base58 is a bijection, so an address with NetworkPrefix is the
		// only one of its key and can be kept as is; others are rewritten.
		ss58 = ""
	}
	return decodePublicKey(raw, ss58)
}

// Bytes returns the 32-byte public key.
func (p *PublicKey) Bytes() [32]byte { return p.raw }

// SS58 returns the key's SS58 address with NetworkPrefix.
func (p *PublicKey) SS58() string { return p.ss58 }

// Verify reports whether sig is this key's signature of msg.
//
// The signing context is "substrate". A signature of the wrong length is
// not valid. Nor is one without Schnorrkel's marker bit, as schnorrkel
// made them before 0.8, or one whose parts are not canonical.
func (p *PublicKey) Verify(msg, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	var s schnorrkel.Signature
	if err := s.Decode([SignatureSize]byte(sig)); err != nil {
		return false
	}
	ok, err := p.key.Verify(&s, schnorrkel.NewSigningContext(signingContext, msg))
	return err == nil && ok
}
