package auth

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc/metadata"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const nonce0 = int64(1_700_000_000_000)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func newSigner(t testing.TB, name string) *Signer {
	t.Helper()
	s, err := NewSigner(wallet.Mock(name))
	require.NoError(t, err)
	return s
}

func TestNewSignerRefusesNilKey(t *testing.T) {
	_, err := NewSigner(nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nil")
}

func TestSignerPairs(t *testing.T) {
	key := wallet.Mock("alice")
	s, err := NewSigner(key)
	require.NoError(t, err)
	assert.Regexp(t, uuidV4, s.ReceptorUID())
	assert.NotEqual(t, s.ReceptorUID(), newSigner(t, "alice").ReceptorUID(), "each signer draws its own uid")

	for _, rt := range []wire.RequestType{wire.RequestType_FORWARD, wire.RequestType_BACKWARD} {
		kv, err := s.Pairs(nonce0, rt)
		require.NoError(t, err)
		require.Len(t, kv, 8)
		assert.Equal(t, []string{KeyAuthHeader, KeySignature, KeyVersion, KeyRequestType}, []string{kv[0], kv[2], kv[4], kv[6]}, "keys in the table's order")
		assert.Equal(t, "Bittensor", kv[1])
		assert.Equal(t, "204", kv[5])
		assert.Equal(t, strconv.Itoa(int(rt)), kv[7])

		fields := strings.Split(kv[3], "bitxx")
		require.Len(t, fields, 4)
		assert.Equal(t, "1700000000000", fields[0])
		assert.Equal(t, key.SS58(), fields[1])
		assert.Regexp(t, `^0x[0-9a-f]{128}$`, fields[2])
		assert.Equal(t, s.ReceptorUID(), fields[3])

		sig, err := ParseSignature(kv[3])
		require.NoError(t, err)
		msg := []byte(fields[0] + fields[1] + fields[3])
		assert.True(t, wallet.Verify(key.PublicKey(), msg, sig.Sig[:]), "signature over NONCE+SS58+UID")
	}
}

func TestAppendToOutgoingContextKeepsOrder(t *testing.T) {
	s := newSigner(t, "alice")
	ctx, err := s.AppendToOutgoingContext(context.Background(), wire.RequestType_FORWARD)
	require.NoError(t, err)
	md, ok := metadata.FromOutgoingContext(ctx)
	require.True(t, ok)
	assert.Equal(t, []string{"Bittensor"}, md.Get(KeyAuthHeader))
	assert.Equal(t, []string{"1"}, md.Get(KeyRequestType))
	v, err := NewVerifier(VerifierConfig{})
	require.NoError(t, err)
	_, err = v.VerifyMetadata(md)
	require.NoError(t, err)
}

func TestParseSignature(t *testing.T) {
	s := newSigner(t, "alice")
	good, err := s.Sign(nonce0)
	require.NoError(t, err)
	hx := strings.Split(good.String(), Separator)[2]
	ss58 := s.SS58()
	join := func(f ...string) string { return strings.Join(f, Separator) }

	tests := []struct {
		name  string
		value string
		want  error
	}{
		{"valid", good.String(), nil},
		{"upper-case 0X", join("1700000000000", ss58, strings.ToUpper(hx[:2])+strings.ToUpper(hx[2:]), "uid"), ErrSignatureHex},
		{"upper-case hex digits", join("1700000000000", ss58, "0x"+strings.ToUpper(hx[2:]), "uid"), nil},
		{"too long", join("1", ss58, hx, strings.Repeat("u", MaxSignatureLen)), ErrTooLong},
		{"empty", "", ErrFieldCount},
		{"three fields", join("1", ss58, hx), ErrFieldCount},
		{"five fields", join("1", ss58, hx, "uid", "more"), ErrFieldCount},
		{"spaces around separator", "1 bitxx " + ss58 + " bitxx " + hx + " bitxx uid", ErrNonce},
		{"empty nonce", join("", ss58, hx, "uid"), ErrNonce},
		{"letters in nonce", join("17e3", ss58, hx, "uid"), ErrNonce},
		{"negative nonce", join("-1", ss58, hx, "uid"), ErrNonce},
		{"plus sign nonce", join("+1", ss58, hx, "uid"), ErrNonce},
		{"nonce of 19 digits", join("1234567890123456789", ss58, hx, "uid"), ErrNonce},
		{"empty ss58", join("1", "", hx, "uid"), ErrSS58},
		{"no 0x", join("1", ss58, hx[2:], "uid"), ErrSignatureHex},
		{"bad hex digit", join("1", ss58, hx[:len(hx)-1]+"g", "uid"), ErrSignatureHex},
		{"short signature", join("1", ss58, hx[:len(hx)-2], "uid"), ErrSignatureLength},
		{"odd length", join("1", ss58, hx[:len(hx)-1], "uid"), ErrSignatureLength},
		{"long signature", join("1", ss58, hx+"00", "uid"), ErrSignatureLength},
		{"empty uid", join("1", ss58, hx, ""), ErrReceptorUID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := ParseSignature(tt.value)
			if tt.want == nil {
				require.NoError(t, err)
				assert.Equal(t, ss58, sig.SS58)
				return
			}
			require.ErrorIs(t, err, tt.want)
			var ae *Error
			require.True(t, errors.As(err, &ae))
			assert.NotEmpty(t, ae.Field)
			assert.NotEmpty(t, ae.Want)
			assert.LessOrEqual(t, len(err.Error()), 400, "long values are cut short in messages")
		})
	}
}

func TestSignatureRoundTrip(t *testing.T) {
	s := newSigner(t, "bob")
	sig, err := s.Sign(nonce0)
	require.NoError(t, err)
	back, err := ParseSignature(sig.String())
	require.NoError(t, err)
	assert.Equal(t, sig, back)
	assert.Equal(t, "1700000000000"+s.SS58()+s.ReceptorUID(), string(sig.AppendMessage(nil)))
}

// incoming returns kv as the metadata of an incoming call.
func incoming(kv ...string) metadata.MD {
	return metadata.Pairs(kv...)
}

// newVerifier returns a verifier of cfg whose clock reads nonce0.
func newVerifier(t testing.TB, cfg VerifierConfig) *Verifier {
	t.Helper()
	v, err := NewVerifier(cfg)
	require.NoError(t, err)
	v.now = func() int64 { return nonce0 }
	return v
}

// signedBy returns the KeySignature value of nonce signed by key for uid,
// with key's address written with the given SS58 prefix.
func signedBy(t *testing.T, key *wallet.Keypair, prefix uint16, nonce int64, uid string) string {
	t.Helper()
	sig := Signature{Nonce: nonce, SS58: wallet.EncodeSS58(key.PublicKey(), prefix), ReceptorUID: uid}
	raw, err := key.Sign(sig.AppendMessage(nil))
	require.NoError(t, err)
	copy(sig.Sig[:], raw)
	return sig.String()
}

func TestVerifyMetadataRefusals(t *testing.T) {
	alice := newSigner(t, "alice")
	mallory := wallet.Mock("mallory")
	good, err := alice.Sign(nonce0)
	require.NoError(t, err)

	forged := good
	raw, err := mallory.Sign(forged.AppendMessage(nil))
	require.NoError(t, err)
	copy(forged.Sig[:], raw) // signed by mallory, claims alice

	flipped := good
	flipped.Sig[10] ^= 1

	reserved := signedBy(t, wallet.Mock("alice"), 46, nonce0, alice.ReceptorUID())
	ahead, err := alice.Sign(nonce0 + DefaultMaxClockSkew.Milliseconds() + 1)
	require.NoError(t, err)
	behind, err := alice.Sign(nonce0 - DefaultMaxClockSkew.Milliseconds() - 1)
	require.NoError(t, err)
	one, err := alice.Sign(1)
	require.NoError(t, err)

	badChecksum := good
	badChecksum.SS58 = good.SS58[:len(good.SS58)-1] + map[bool]string{true: "2", false: "3"}[good.SS58[len(good.SS58)-1] != '2']

	tests := []struct {
		name string
		md   metadata.MD
		want error
	}{
		{"no metadata", nil, ErrMissing},
		{"no auth header", incoming(KeySignature, good.String()), ErrMissing},
		{"wrong auth header", incoming(KeyAuthHeader, "bittensor", KeySignature, good.String()), ErrAuthHeader},
		{"two auth headers", incoming(KeyAuthHeader, AuthHeader, KeyAuthHeader, AuthHeader, KeySignature, good.String()), ErrMissing},
		{"no signature", incoming(KeyAuthHeader, AuthHeader), ErrMissing},
		{"malformed signature", incoming(KeyAuthHeader, AuthHeader, KeySignature, "garbage"), ErrFieldCount},
		{"bad ss58 checksum", incoming(KeyAuthHeader, AuthHeader, KeySignature, badChecksum.String()), ErrSS58},
		{"reserved ss58 prefix 46", incoming(KeyAuthHeader, AuthHeader, KeySignature, reserved), ErrSS58},
		{"nonce a minute and 1 ms ahead", incoming(KeyAuthHeader, AuthHeader, KeySignature, ahead.String()), ErrClock},
		{"nonce a minute and 1 ms behind", incoming(KeyAuthHeader, AuthHeader, KeySignature, behind.String()), ErrClock},
		{"nonce 1", incoming(KeyAuthHeader, AuthHeader, KeySignature, one.String()), ErrClock},
		{"flipped signature bit", incoming(KeyAuthHeader, AuthHeader, KeySignature, flipped.String()), ErrBadSignature},
		{"signed by another key", incoming(KeyAuthHeader, AuthHeader, KeySignature, forged.String()), ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newVerifier(t, VerifierConfig{}).VerifyMetadata(tt.md)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

// TestVerifyAnyNetworkPrefix checks that an address of any network prefix
// but the reserved ones is accepted, as Bittensor 2.0.4 accepted it: the
// signature covers the address as sent.
func TestVerifyAnyNetworkPrefix(t *testing.T) {
	key := wallet.Mock("alice")
	for _, prefix := range []uint16{0, 2, 42, 45, 48, 63, 64, 137, 255, 4242, wallet.MaxPrefix} {
		v := newVerifier(t, VerifierConfig{})
		got, err := v.VerifyMetadata(incoming(KeyAuthHeader, AuthHeader, KeySignature, signedBy(t, key, prefix, nonce0, "uid")))
		require.NoError(t, err, "prefix %d", prefix)
		assert.Equal(t, wallet.EncodeSS58(key.PublicKey(), prefix), got.SS58)
	}
}

// TestVerifyClockWindow checks the bounds of the window around the
// verifier's clock, and that MaxClockSkew sets it.
func TestVerifyClockWindow(t *testing.T) {
	alice := newSigner(t, "alice")
	tests := []struct {
		skew  time.Duration
		delta int64 // nonce minus the verifier's clock, in ms
		want  error
	}{
		{0, DefaultMaxClockSkew.Milliseconds(), nil},
		{0, -DefaultMaxClockSkew.Milliseconds(), nil},
		{0, DefaultMaxClockSkew.Milliseconds() + 1, ErrClock},
		{0, -DefaultMaxClockSkew.Milliseconds() - 1, ErrClock},
		{time.Second, 1000, nil},
		{time.Second, 1001, ErrClock},
		{time.Second, -1001, ErrClock},
	}
	for _, tt := range tests {
		sig, err := alice.Sign(nonce0 + tt.delta)
		require.NoError(t, err)
		_, err = newVerifier(t, VerifierConfig{MaxClockSkew: tt.skew}).Verify(sig.String())
		if tt.want == nil {
			assert.NoError(t, err, "skew %v, nonce %+d ms", tt.skew, tt.delta)
		} else {
			assert.ErrorIs(t, err, tt.want, "skew %v, nonce %+d ms", tt.skew, tt.delta)
		}
	}
}

// TestVerifyReplay follows Bittensor 2.0.4's rule step by step: a call is
// accepted only if nonce - last > -10 ms, where last is the nonce of the
// last call accepted from the same sender and receptor uid.
func TestVerifyReplay(t *testing.T) {
	alice := newSigner(t, "alice")
	bob := newSigner(t, "bob")
	v := newVerifier(t, VerifierConfig{})
	steps := []struct {
		name   string
		signer *Signer
		nonce  int64
		want   error
	}{
		{"first call", alice, nonce0, nil},
		{"same nonce again", alice, nonce0, nil},
		{"9 ms older", alice, nonce0 - 9, nil},                                // last is now nonce0-9
		{"10 ms older than the last accepted", alice, nonce0 - 19, ErrReplay}, // refused: not stored
		{"9 ms older than the last accepted", alice, nonce0 - 18, nil},        // last is the latest, not the highest
		{"newer", alice, nonce0 + 100, nil},
		{"older than the last accepted", alice, nonce0 + 50, ErrReplay},
		{"far older", alice, nonce0, ErrReplay},
		{"other sender is independent", bob, nonce0 - 1000, nil},
	}
	for _, st := range steps {
		sig, err := st.signer.Sign(st.nonce)
		require.NoError(t, err)
		got, err := v.Verify(sig.String())
		if st.want == nil {
			require.NoError(t, err, st.name)
			assert.Equal(t, st.nonce, got.Nonce, st.name)
		} else {
			require.ErrorIs(t, err, st.want, st.name)
		}
	}
}

// TestVerifyStoresLatestNotHighest checks that the nonce kept is the latest
// accepted: after nonce0+5 then nonce0, a call at nonce0-9 is accepted (it
// would be refused were the highest, nonce0+5, kept).
func TestVerifyStoresLatestNotHighest(t *testing.T) {
	alice := newSigner(t, "alice")
	v := newVerifier(t, VerifierConfig{})
	for _, n := range []int64{nonce0 + 5, nonce0, nonce0 - 9} {
		sig, err := alice.Sign(n)
		require.NoError(t, err)
		_, err = v.Verify(sig.String())
		require.NoError(t, err, "nonce0%+d", n-nonce0)
	}
}

func TestVerifierConfig(t *testing.T) {
	_, err := NewVerifier(VerifierConfig{MaxKeys: -1})
	require.ErrorContains(t, err, "MaxKeys: -1")
	_, err = NewVerifier(VerifierConfig{MaxPeers: -2})
	require.ErrorContains(t, err, "MaxPeers: -2")
	_, err = NewVerifier(VerifierConfig{MaxClockSkew: -time.Second})
	require.ErrorContains(t, err, "MaxClockSkew: -1s")
}

func TestVerifierMemoryIsBounded(t *testing.T) {
	v := newVerifier(t, VerifierConfig{MaxKeys: 4, MaxPeers: 4})
	v.now = func() int64 { return nonce0 + 10_000 }

	first := newSigner(t, "peer-0")
	sig, err := first.Sign(nonce0)
	require.NoError(t, err)
	_, err = v.Verify(sig.String())
	require.NoError(t, err)
	for i := 1; i < 12; i++ {
		s := newSigner(t, "peer-"+strconv.Itoa(i))
		sig, err := s.Sign(nonce0 + 100*int64(i))
		require.NoError(t, err)
		_, err = v.Verify(sig.String())
		require.NoError(t, err)
		assert.LessOrEqual(t, v.keys.len(), 4)
		assert.LessOrEqual(t, v.nonces.len(), 4)
	}
	_, known := v.nonces.get(peer{first.SS58(), first.ReceptorUID()})
	require.False(t, known, "the first peer's entry was dropped")

	// Its old signature must still not be accepted again.
	_, err = v.Verify(sig.String())
	require.ErrorIs(t, err, ErrReplay)

	// A fresh call of the dropped peer is accepted.
	fresh, err := first.Sign(nonce0 + 2000)
	require.NoError(t, err)
	_, err = v.Verify(fresh.String())
	require.NoError(t, err)
}

func TestVerifierFloorIgnoresFutureClocks(t *testing.T) {
	v := newVerifier(t, VerifierConfig{MaxPeers: 2, MaxClockSkew: 2 * time.Hour})
	for i := range 4 {
		s := newSigner(t, "future-"+strconv.Itoa(i))
		sig, err := s.Sign(nonce0 + 3_600_000) // an hour ahead
		require.NoError(t, err)
		_, err = v.Verify(sig.String())
		require.NoError(t, err)
	}
	sig, err := newSigner(t, "honest").Sign(nonce0)
	require.NoError(t, err)
	_, err = v.Verify(sig.String())
	require.NoError(t, err, "the floor never passes the verifier's clock")
}

func BenchmarkVerify(b *testing.B) {
	s := newSigner(b, "alice")
	v := newVerifier(b, VerifierConfig{})
	sig, err := s.Sign(nonce0)
	require.NoError(b, err)
	value := sig.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	s := newSigner(b, "alice")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.AppendToOutgoingContext(ctx, wire.RequestType_FORWARD); err != nil {
			b.Fatal(err)
		}
	}
}
