package synapse

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/wallet"
)

// TestVerifySignatureFormats: the texts of bittensor's Keypair.verify.
func TestVerifySignatureFormats(t *testing.T) {
	pub, err := wallet.ParsePublicKey(golden.alice)
	require.NoError(t, err)
	msg := []byte(golden.message)
	for sig, want := range map[string]string{
		golden.signature[2:]:               "Invalid signature format. Expected hex string.",
		"0x123":                            "Invalid hex string: OddLength",
		"0xzz":                             "Invalid hex string: InvalidHexCharacter { c: 'z', index: 0 }",
		"0x0\x01":                          `Invalid hex string: InvalidHexCharacter { c: '\u{1}', index: 1 }`,
		"0x\xe9":                           "Invalid hex string: InvalidHexCharacter { c: '\u00c3', index: 0 }",
		"0x00":                             "Invalid signature",
		"0x" + golden.signature[2:] + "00": "Invalid signature",
	} {
		ok, err := VerifySignature(pub, msg, sig)
		assert.False(t, ok)
		assert.EqualError(t, err, want, "%q", sig)
	}
	ok, err := VerifySignature(pub, msg, "0x0x"+golden.signature[2:])
	require.NoError(t, err)
	assert.True(t, ok, "every leading 0x is trimmed")
	ok, err = VerifySignature(pub, msg, "0X"+golden.signature[2:])
	assert.False(t, ok)
	assert.Error(t, err, "0X is not 0x")
	ok, err = VerifySignature(nil, msg, golden.signature)
	assert.NoError(t, err)
	assert.False(t, ok)
}

// TestVerifySignatureWrapped: a signature over <Bytes>msg</Bytes>, as
// polkadot.js makes, verifies too.
func TestVerifySignatureWrapped(t *testing.T) {
	kp := wallet.Mock("wrapped")
	sig, err := AppendSignature(nil, kp, []byte("<Bytes>hello</Bytes>"))
	require.NoError(t, err)
	ok, err := VerifySignature(kp.Public(), []byte("hello"), string(sig))
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = VerifySignature(kp.Public(), []byte("hullo"), string(sig))
	require.NoError(t, err)
	assert.False(t, ok)
}

// TestVerifier: default_verify's checks in order.
func TestVerifier(t *testing.T) {
	now := golden.nonce + 250_000_000
	verify := func(edit func(r *Request)) error {
		r, err := ParseRequest(serverHeader(goldenHeaders), echoFields)
		require.NoError(t, err)
		edit(&r)
		return NewVerifier(golden.bob, NewNonces(0)).Verify(&r, now)
	}
	assert.EqualError(t, verify(func(r *Request) { r.Dendrite.Hotkey = Opt[string]{} }), "No SS58 formatted address or public key provided.")
	assert.EqualError(t, verify(func(r *Request) { r.Dendrite.Hotkey = Some("5Grw") }), "Invalid SS58 address: Length is bad")
	assert.EqualError(t, verify(func(r *Request) { r.Dendrite.Hotkey = Some("0OIl") }), "Invalid SS58 address: Base 58 requirement is violated")
	assert.EqualError(t, verify(func(r *Request) { r.Dendrite.Hotkey = Some(golden.alice[:47] + "R") }), "Invalid SS58 address: Invalid checksum")
	assert.EqualError(t, verify(func(r *Request) { r.Dendrite.Nonce = Opt[int64]{} }), "Missing Nonce")
	assert.ErrorContains(t, verify(func(r *Request) { r.Dendrite.Nonce = Some(golden.nonce - 17*sec) }), "Nonce is too old: acceptable delta is 16.00 seconds")
	assert.NoError(t, verify(func(r *Request) { r.Dendrite.Signature = Some("") }), "an empty signature is not checked")
	assert.NoError(t, verify(func(r *Request) { r.Dendrite.Signature = Opt[string]{} }), "nor an absent one")
	assert.EqualError(t, verify(func(r *Request) { r.Dendrite.UUID = Opt[string]{} }),
		"Signature mismatch with "+strings.Replace(golden.message, golden.uuid, "None", 1)+" and "+golden.signature)
	assert.ErrorContains(t, verify(func(r *Request) { r.BodyHash = Opt[string]{} }), ".None and 0x")
	assert.EqualError(t, verify(func(r *Request) { r.Dendrite.Signature = Some("88") }), "Invalid signature format. Expected hex string.")
}

func TestStatusMessages(t *testing.T) {
	assert.Equal(t, "Synapse name 'Nope' not found. Available synapses ['Synapse', 'Echo']", NotFoundMessage("Nope", []string{"Synapse", "Echo"}))
	assert.Equal(t, "Not Verified with error: Missing Nonce", NotVerifiedMessage(ErrMissingNonce.Error()))
	assert.Equal(t, "Forbidden. Key is blacklisted: Unrecognized hotkey.", BlacklistedMessage("Unrecognized hotkey"))
	assert.Equal(t, "Response timeout after: 12.0s", PriorityTimeoutMessage(Some(12.0)))
	assert.Equal(t, "Response timeout after: Nones", PriorityTimeoutMessage(Opt[float64]{}))
	assert.Equal(t, "Request timeout after 12.0 seconds", TimeoutMessage(12))
	assert.Equal(t, "Request timeout after 0.5 seconds", TimeoutMessage(0.5))
	assert.Equal(t, "Service unavailable at 127.0.0.1:8091/Echo", UnavailableMessage("127.0.0.1", 8091, "Echo"))
	assert.Equal(t, "Service disconnected: Server disconnected", DisconnectedMessage("Server disconnected"))
	assert.Equal(t, "Failed to parse response: boom", ParseFailureMessage("boom"))
	id := NewErrorID()
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`), id)
	assert.NotEqual(t, id, NewErrorID())
	assert.Equal(t, "Internal Server Error #"+id, InternalErrorMessage(id))
	assert.Equal(t, "00010203-0405-0607-0809-0a0b0c0d0e0f", FormatUUID([16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}))
}
