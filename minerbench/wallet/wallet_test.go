package wallet

import (
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/ChainSafe/go-schnorrkel"
	"github.com/mr-tron/base58"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Public key vectors.
//
// //Alice and //Bob: the secret seeds, public keys and SS58 addresses (prefix
// 42) printed by `subkey inspect //Alice` and `subkey inspect //Bob`, as
// published in the Substrate documentation; the Polkadot (prefix 0) and
// Kusama (prefix 2) forms of //Alice are those printed by `subkey inspect
// --network polkadot|kusama //Alice`, and the Vara (prefix 137) forms of //Alice
// and //Bob those printed by `subkey inspect --network vara`, as published in
// the Gear/Vara documentation.
//
// The two raw seeds come from Substrate's own tests of sp-core's sr25519
// module (sr_test_vector_should_work and seeded_pair_should_work in
// substrate/primitives/core/src/sr25519.rs).
const (
	aliceSeed   = "0xe5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a"
	alicePublic = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
	aliceSS58   = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
	bobSeed     = "0x398f0c28f98885e046333d4a41c19cee4c37368a9832c6502f6cfd182e2aef89"
	bobPublic   = "8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48"
	bobSS58     = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
)

func mustRaw(t testing.TB, hexKey string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(hexKey)
	require.NoError(t, err)
	require.Len(t, b, 32)
	return [32]byte(b)
}

func TestFromHexSeedKnownVectors(t *testing.T) {
	tests := []struct {
		name   string
		seed   string
		public string
		ss58   string
	}{
		{"alice", aliceSeed, alicePublic, aliceSS58},
		{"bob", bobSeed, bobPublic, bobSS58},
		{"sp-core sr_test_vector", "0x9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
			"44a996beb1eef7bdcab976ab6d2ca26104834164ecf28fb375600576fcc6eb0f", ""},
		{"sp-core seeded_pair", "0x" + hex.EncodeToString([]byte("12345678901234567890123456789012")),
			"741c08a06f41c596608f6774259bd9043304adfa5d3eea62760bd9be97634d63", ""},
		{"upper-case hex digits", strings.ToUpper(aliceSeed[2:]), alicePublic, aliceSS58},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed := tt.seed
			if !strings.HasPrefix(seed, "0x") {
				seed = "0x" + seed
			}
			kp, err := FromHexSeed(seed)
			require.NoError(t, err)
			pub := kp.PublicKey()
			assert.Equal(t, tt.public, hex.EncodeToString(pub[:]))
			assert.Equal(t, kp.PublicKey(), kp.Public().Bytes())
			if tt.ss58 != "" {
				assert.Equal(t, tt.ss58, kp.SS58())
				assert.Equal(t, tt.ss58, kp.Public().SS58())
			}
		})
	}
}

func TestFromSeedMatchesFromHexSeed(t *testing.T) {
	kp, err := FromSeed(mustRaw(t, aliceSeed[2:]))
	require.NoError(t, err)
	assert.Equal(t, aliceSS58, kp.SS58())
}

func TestFromHexSeedErrors(t *testing.T) {
	digits := aliceSeed[2:]
	tests := []struct {
		name    string
		in      string
		wantMsg string
	}{
		{"empty", "", `does not start with "0x"`},
		{"no 0x", digits, `does not start with "0x"`},
		{"upper-case 0X", "0X" + digits, `does not start with "0x"`},
		{"too short", "0x" + digits[:62], "has 62 hex digits"},
		{"too long", "0x" + digits + "00", "has 66 hex digits"},
		{"only 0x", "0x", "has 0 hex digits"},
		{"not hex", "0x" + digits[:10] + "zz" + digits[12:], `holds 'z', which is not a hex digit`},
		{"space", "0x" + digits[:63] + " ", `holds ' '`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := FromHexSeed(tt.in)
			require.Error(t, err)
			assert.Nil(t, kp)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.Contains(t, err.Error(), `want "0x" followed by 64 hex digits`)
			// The seed is a secret: errors must not repeat it.
			assert.NotContains(t, err.Error(), digits[:16])
		})
	}
}

func TestMock(t *testing.T) {
	names := []string{"", "miner", "miner2", "validator", "Miner", "miner "}
	seen := map[string]string{}
	for _, name := range names {
		a, b := Mock(name), Mock(name)
		assert.Equal(t, a.PublicKey(), b.PublicKey(), "Mock(%q) is not deterministic", name)
		assert.Equal(t, a.SS58(), b.SS58())
		if other, dup := seen[a.SS58()]; dup {
			t.Errorf("Mock(%q) and Mock(%q) share address %s", name, other, a.SS58())
		}
		seen[a.SS58()] = name
		kp, err := FromSeed(MockSeed(name))
		require.NoError(t, err)
		assert.Equal(t, a.PublicKey(), kp.PublicKey())
	}
	// Pin the derivation: mock addresses end up in result paths and golden
	// files, so changing the domain string or hash must be deliberate.
	assert.Equal(t, "5EsQJ3LgEDAH7VqHsGcJWALzZxo9bPNzMPznMt6ZyqEvg8R2", Mock("miner").SS58())
}

func TestSignVerifyRoundTrip(t *testing.T) {
	alice, err := FromHexSeed(aliceSeed)
	require.NoError(t, err)
	msgs := [][]byte{
		nil,
		[]byte("1690000000000" + aliceSS58 + "c1f3e0d2-2a9b-11ee-be56-0242ac120002"),
		make([]byte, 4096),
	}
	for _, msg := range msgs {
		sig, err := alice.Sign(msg)
		require.NoError(t, err)
		require.Len(t, sig, SignatureSize)
		assert.NotZero(t, sig[63]&0x80, "signature lacks the schnorrkel marker bit")
		assert.True(t, Verify(alice.PublicKey(), msg, sig))
		assert.True(t, alice.Public().Verify(msg, sig))
		parsed, err := ParsePublicKey(alice.SS58())
		require.NoError(t, err)
		assert.True(t, parsed.Verify(msg, sig))

		again, err := alice.Sign(msg)
		require.NoError(t, err)
		assert.NotEqual(t, sig, again, "signatures are randomized")
		assert.True(t, alice.Public().Verify(msg, again))
	}
}

func TestVerifyRejects(t *testing.T) {
	alice, err := FromHexSeed(aliceSeed)
	require.NoError(t, err)
	bob, err := FromHexSeed(bobSeed)
	require.NoError(t, err)
	msg := []byte("1690000000000" + aliceSS58 + "receptor")
	sig, err := alice.Sign(msg)
	require.NoError(t, err)

	otherContextSig, err := alice.sign([]byte("polkadot"), msg)
	require.NoError(t, err)

	flip := func(i int, mask byte) []byte {
		s := append([]byte(nil), sig...)
		s[i] ^= mask
		return s
	}
	nonCanonicalS := append([]byte(nil), sig...)
	for i := 32; i < 63; i++ {
		nonCanonicalS[i] = 0xff
	}

	tests := []struct {
		name string
		pub  [32]byte
		msg  []byte
		sig  []byte
	}{
		{"wrong key", bob.PublicKey(), msg, sig},
		{"tampered message", alice.PublicKey(), append([]byte("2"), msg[1:]...), sig},
		{"truncated message", alice.PublicKey(), msg[:len(msg)-1], sig},
		{"wrong context", alice.PublicKey(), msg, otherContextSig[:]},
		{"tampered R", alice.PublicKey(), msg, flip(0, 0x01)},
		{"tampered s", alice.PublicKey(), msg, flip(40, 0x01)},
		{"marker bit cleared", alice.PublicKey(), msg, flip(63, 0x80)},
		{"non-canonical s", alice.PublicKey(), msg, nonCanonicalS},
		{"empty signature", alice.PublicKey(), msg, nil},
		{"63-byte signature", alice.PublicKey(), msg, sig[:63]},
		{"65-byte signature", alice.PublicKey(), msg, append(append([]byte(nil), sig...), 0)},
		{"128-byte signature", alice.PublicKey(), msg, append(append([]byte(nil), sig...), sig...)},
		{"identity public key", [32]byte{}, msg, sig},
		{"non-canonical public key", [32]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, msg, sig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.False(t, Verify(tt.pub, tt.msg, tt.sig))
			if key, err := NewPublicKey(tt.pub); err == nil {
				assert.False(t, key.Verify(tt.msg, tt.sig))
			}
		})
	}
	// The unmodified signature still verifies, so each case above fails for
	// its own reason.
	assert.True(t, Verify(alice.PublicKey(), msg, sig))
}

// TestVerifyPublishedSignatures checks signatures made by other
// implementations.
func TestVerifyPublishedSignatures(t *testing.T) {
	tests := []struct {
		name   string
		pub    string
		msg    string
		sig    string
		verify bool
	}{{
		// polkadot-js wasm-crypto's test "verifies a known signature"
		// (sr25519VerifyExisting): //Alice's signature, made by the Rust
		// schnorrkel crate, in the "substrate" context.
		name:   "polkadot-js known signature",
		pub:    alicePublic,
		msg:    "I hereby verify that I control 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
		sig:    "b83881d3bd7302981ee1c504fe5b7b394682927131fc0846fd616bb40fa14d02640fd2aca785b4cb57904765c2e4e75f59a7dd30154c209964369912091f6981",
		verify: true,
	}, {
		// sp-core's verify_known_old_message_should_work: a signature made
		// by schnorrkel 0.1.1, before the marker bit, which Substrate's
		// Pair::verify refuses.
		name:   "sp-core pre-marker signature",
		pub:    "b4bfa1f7a5166695eb75299fd1c4c03ea212871c342f2c5dfea0902b2c246918",
		msg:    "Verifying that I am the owner of 5G9hQLdsKQswNPgB499DeA5PkFBbgkLPJWkkS6FAM6xGQ8xD. Hash: 221455a3\n",
		sig:    "5a9755f069939f45d96aaf125cf5ce7ba1db998686f87f2fb3cbdea922078741a73891ba265f70c31436e18a9acd14d189d73c12317ab6c313285cd938453202",
		verify: false,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := hex.DecodeString(tt.sig)
			require.NoError(t, err)
			assert.Equal(t, tt.verify, Verify(mustRaw(t, tt.pub), []byte(tt.msg), sig))
			if tt.verify {
				assert.False(t, Verify(mustRaw(t, tt.pub), []byte(tt.msg+"."), sig))
			}
		})
	}
}

// TestPublicKeyConcurrentVerify shares one freshly parsed key between
// goroutines; under -race it fails if Verify writes to the key.
func TestPublicKeyConcurrentVerify(t *testing.T) {
	alice := Mock("concurrent")
	msg := []byte("shared key")
	sig, err := alice.Sign(msg)
	require.NoError(t, err)
	key, err := ParsePublicKey(alice.SS58())
	require.NoError(t, err)
	var wg sync.WaitGroup
	results := make([]bool, 8)
	for i := range results {
		wg.Go(func() { results[i] = key.Verify(msg, sig) })
	}
	wg.Wait()
	for i, ok := range results {
		assert.True(t, ok, "goroutine %d", i)
	}
}

func TestParsePublicKey(t *testing.T) {
	key, err := ParsePublicKey(aliceSS58)
	require.NoError(t, err)
	assert.Equal(t, mustRaw(t, alicePublic), key.Bytes())
	assert.Equal(t, aliceSS58, key.SS58())

	_, err = ParsePublicKey("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ")
	require.ErrorIs(t, err, ErrChecksum)

	// A well-formed address of the identity point: SS58 is fine, the key is not.
	_, err = ParsePublicKey(EncodeSS58([32]byte{}, NetworkPrefix))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "identity point")

	// Bytes that are no Ristretto point's canonical encoding.
	var bad [32]byte
	for i := range bad {
		bad[i] = 0xff
	}
	_, err = ParsePublicKey(EncodeSS58(bad, NetworkPrefix))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "canonical encoding of a Ristretto point")

	key, err = ParsePublicKey(EncodeSS58(mustRaw(t, alicePublic), 0))
	require.NoError(t, err, "any valid prefix is accepted")
	assert.Equal(t, aliceSS58, key.SS58(), "SS58 writes NetworkPrefix")
}

func TestSS58KnownAddresses(t *testing.T) {
	tests := []struct {
		name   string
		pub    string
		prefix uint16
		addr   string
	}{
		{"alice generic", alicePublic, 42, aliceSS58},
		{"bob generic", bobPublic, 42, bobSS58},
		{"alice polkadot", alicePublic, 0, "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5"},
		{"alice kusama", alicePublic, 2, "HNZata7iMYWmk5RvZRTiAsSDhV8366zq2YGb3tLH5Upf74F"},
		{"alice vara, two-byte prefix", alicePublic, 137, "kGkLEU3e3XXkJp2WK4eNpVmSab5xUNL9QtmLPh8QfCL2EgotW"},
		{"bob vara, two-byte prefix", bobPublic, 137, "kGim5ByTuPokQf21odiQskRXcVEwaunk5PwC4dmGz8M6zuwkq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := mustRaw(t, tt.pub)
			assert.Equal(t, tt.addr, EncodeSS58(pub, tt.prefix))
			gotPub, gotPrefix, err := DecodeSS58(tt.addr)
			require.NoError(t, err)
			assert.Equal(t, pub, gotPub)
			assert.Equal(t, tt.prefix, gotPrefix)
		})
	}
}

func TestSS58RoundTrip(t *testing.T) {
	keys := [][32]byte{{}, mustRaw(t, alicePublic), mustRaw(t, bobPublic)}
	for i := range keys[0] {
		keys[0][i] = byte(i)
	}
	prefixes := []uint16{0, 1, 2, 42, 63, 64, 65, 127, 128, 137, 255, 256, 1000, 2032, 8191, 16382, MaxPrefix}
	for _, pub := range keys {
		for _, prefix := range prefixes {
			addr := EncodeSS58(pub, prefix)
			gotPub, gotPrefix, err := DecodeSS58(addr)
			require.NoError(t, err, "prefix %d", prefix)
			assert.Equal(t, pub, gotPub, "prefix %d", prefix)
			assert.Equal(t, prefix, gotPrefix)
			raw, err := base58.Decode(addr)
			require.NoError(t, err)
			wantLen := 35
			if prefix >= 64 {
				wantLen = 36
			}
			assert.Len(t, raw, wantLen, "prefix %d", prefix)
		}
	}
	assert.Empty(t, EncodeSS58(keys[1], MaxPrefix+1))
	assert.Empty(t, EncodeSS58(keys[1], 0xffff))
}

func TestDecodeSS58Errors(t *testing.T) {
	pub := mustRaw(t, alicePublic)
	good, err := base58.Decode(aliceSS58)
	require.NoError(t, err)
	withBytes := func(mod func([]byte) []byte) string {
		return base58.Encode(mod(append([]byte(nil), good...)))
	}
	// withChecksum appends the correct checksum to body, so only the
	// property under test is wrong.
	withChecksum := func(body []byte) string {
		sum := ss58Checksum(body)
		return base58.Encode(append(append([]byte(nil), body...), sum[:2]...))
	}

	tests := []struct {
		name string
		addr string
		kind error
		msg  string
	}{
		{"empty", "", ErrBase58, "want a non-empty string of base58"},
		{"zero digit", strings.Replace(aliceSS58, "5", "0", 1), ErrBase58, "base58"},
		{"capital O", aliceSS58[:10] + "O" + aliceSS58[11:], ErrBase58, "base58"},
		{"lower-case l", aliceSS58[:10] + "l" + aliceSS58[11:], ErrBase58, "base58"},
		{"non-ASCII", aliceSS58[:10] + "é" + aliceSS58[12:], ErrBase58, "base58"},
		{"checksum byte", withBytes(func(b []byte) []byte { b[34] ^= 1; return b }), ErrChecksum, "want"},
		{"key byte", withBytes(func(b []byte) []byte { b[5] ^= 1; return b }), ErrChecksum, "checksum"},
		{"prefix changed", withBytes(func(b []byte) []byte { b[0] = 0; return b }), ErrChecksum, "checksum"},
		{"last character", aliceSS58[:len(aliceSS58)-1] + "Z", ErrChecksum, "checksum"},
		{"too short", withBytes(func(b []byte) []byte { return b[:34] }), ErrLength, "34 bytes; want 35"},
		{"too long", withBytes(func(b []byte) []byte { return append(b, 0) }), ErrLength, "36 bytes; want 35"},
		{"one byte", "1", ErrLength, "1 bytes; want 35"},
		{"two-byte prefix, one byte", base58.Encode([]byte{0x40}), ErrLength, "want 36"},
		{"two-byte prefix, 35 bytes", withChecksum(append([]byte{0x62, 0x01}, pub[:31]...)), ErrLength, "35 bytes; want 36"},
		{"account index", withChecksum([]byte{42, 1, 2, 3, 4}), ErrLength, "7 bytes; want 35"},
		{"very long", strings.Repeat("z", 10000), ErrLength, "10000 characters; want at most 64"},
		{"reserved prefix", withChecksum(append([]byte{0x80}, pub[:]...)), ErrPrefix, "first byte 128 is reserved"},
		{"two-byte form of a small prefix", withChecksum(append([]byte{0x4a, 0x80}, pub[:]...)), ErrPrefix, "two-byte prefix 42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotPub, gotPrefix, err := DecodeSS58(tt.addr)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.kind)
			var se *SS58Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.addr, se.Address)
			assert.Contains(t, err.Error(), tt.msg)
			assert.Contains(t, err.Error(), tt.kind.Error())
			assert.Zero(t, gotPub)
			assert.Zero(t, gotPrefix)

			_, err = ParsePublicKey(tt.addr)
			assert.ErrorIs(t, err, tt.kind)
		})
	}
}

// TestSignVerifiesWithSchnorrkel checks Sign's own transcript against the
// library's verification, in the substrate context and another.
func TestSignVerifiesWithSchnorrkel(t *testing.T) {
	alice, err := FromHexSeed(aliceSeed)
	require.NoError(t, err)
	pub, err := schnorrkel.NewPublicKey(alice.PublicKey())
	require.NoError(t, err)
	msg := []byte("1690000000000" + aliceSS58 + "receptor")
	for _, context := range []string{"substrate", "polkadot"} {
		raw, err := alice.sign([]byte(context), msg)
		require.NoError(t, err)
		require.Len(t, raw, SignatureSize)
		var sig schnorrkel.Signature
		require.NoError(t, sig.Decode([SignatureSize]byte(raw)))
		ok, err := pub.Verify(&sig, schnorrkel.NewSigningContext([]byte(context), msg))
		require.NoError(t, err)
		assert.True(t, ok, "context %s", context)
		ok, err = pub.Verify(&sig, schnorrkel.NewSigningContext([]byte(context), append(msg, '!')))
		require.NoError(t, err)
		assert.False(t, ok, "context %s, another message", context)
	}
}
