package synapse

import (
	"net/http"
	"net/textproto"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/wallet"
)

// golden is a real exchange with a bittensor 10.2.0 axon: //Alice queries
// //Bob's axon at 198.51.100.9:8091 with Echo(text="hello"), whose one
// hash field is text. The axon accepted the signature with its clock at
// nonce + 0.25 s, answered 200, and refused the same bytes again with 401.
var golden = struct {
	nonce                               int64
	alice, bob, uuid, bodyHash, message string
	signature, body                     string
}{
	nonce:    1767225600000000000,
	alice:    "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
	bob:      "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
	uuid:     "6b1f7a2e-1c2d-11f1-9a4b-0242ac120002",
	bodyHash: "cd1ba9b9d9fae7c1e56ddf6aa2947ad2e0b83b96bd91dd4b67fc560e83589bad",
	message: "1767225600000000000.5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY." +
		"5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty.6b1f7a2e-1c2d-11f1-9a4b-0242ac120002." +
		"cd1ba9b9d9fae7c1e56ddf6aa2947ad2e0b83b96bd91dd4b67fc560e83589bad",
	signature: "0x88b510a1f0e0a0326c538d958740ab9a51470f9f61703f09c8a942655ae0f32b8c67e73746e04c1facf75462d29073301e37c15db946fb0ae18373a6833be386",
	body:      `{"name": "Echo", "timeout": 12.0, "total_size": 2973, "header_size": 0, "dendrite": {"status_code": null, "status_message": null, "process_time": null, "ip": "203.0.113.7", "port": null, "version": 10002000, "nonce": 1767225600000000000, "uuid": "6b1f7a2e-1c2d-11f1-9a4b-0242ac120002", "hotkey": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", "signature": "0x88b510a1f0e0a0326c538d958740ab9a51470f9f61703f09c8a942655ae0f32b8c67e73746e04c1facf75462d29073301e37c15db946fb0ae18373a6833be386"}, "axon": {"status_code": null, "status_message": null, "process_time": null, "ip": "198.51.100.9", "port": 8091, "version": null, "nonce": null, "uuid": null, "hotkey": "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty", "signature": null}, "computed_body_hash": "", "text": "hello"}`,
}

// goldenHeaders are the request's synapse headers in the order sent.
var goldenHeaders = [][2]string{
	{"name", "Echo"},
	{"timeout", "12.0"},
	{"bt_header_axon_ip", "198.51.100.9"},
	{"bt_header_axon_port", "8091"},
	{"bt_header_axon_hotkey", golden.bob},
	{"bt_header_dendrite_ip", "203.0.113.7"},
	{"bt_header_dendrite_version", "10002000"},
	{"bt_header_dendrite_nonce", "1767225600000000000"},
	{"bt_header_dendrite_uuid", golden.uuid},
	{"bt_header_dendrite_hotkey", golden.alice},
	{"bt_header_dendrite_signature", golden.signature},
	{"bt_header_input_obj_text", "IiI="},
	{"header_size", "464"},
	{"total_size", "2973"},
	{"computed_body_hash", golden.bodyHash},
}

var echoFields = []Field{{Name: "text", Kind: KindStr, Required: true}}

// serverHeader returns the headers as a Go server receives them: names
// canonicalized.
func serverHeader(pairs [][2]string) http.Header {
	h := http.Header{}
	for _, kv := range pairs {
		h[textproto.CanonicalMIMEHeaderKey(kv[0])] = append(h[textproto.CanonicalMIMEHeaderKey(kv[0])], kv[1])
	}
	return h
}

func TestGoldenSignedString(t *testing.T) {
	got := AppendSignedString(nil, golden.nonce, golden.alice, golden.bob, golden.uuid, golden.bodyHash)
	assert.Equal(t, golden.message, string(got))
}

func TestGoldenBodyHash(t *testing.T) {
	got, err := AppendBodyHash(nil, []byte(golden.body), []string{"text"})
	require.NoError(t, err)
	assert.Equal(t, golden.bodyHash, string(got))
	got, err = AppendBodyHash(nil, []byte(golden.body), nil)
	require.NoError(t, err)
	assert.Equal(t, EmptyBodyHash, string(got))
}

func TestFieldValues(t *testing.T) {
	got, err := FieldValues(nil, []byte(golden.body), []string{"text", "timeout", "missing", "axon"})
	require.NoError(t, err)
	require.Len(t, got, 4)
	assert.Equal(t, `"hello"`, string(got[0]))
	assert.Equal(t, `12.0`, string(got[1]))
	assert.Nil(t, got[2])
	assert.Contains(t, string(got[3]), `"port": 8091`)
	got, err = FieldValues(nil, []byte(`{"a": 1, "a": [2]}`), []string{"a"})
	require.NoError(t, err)
	assert.Equal(t, `[2]`, string(got[0]))
	for _, bad := range []string{`[1]`, `{"a": 1`, `{"a": 1} 2`, "{\"a\": \"\xff\"}"} {
		_, err = FieldValues(nil, []byte(bad), []string{"a"})
		assert.Error(t, err, bad)
	}
}

func TestGoldenSignature(t *testing.T) {
	pub, err := wallet.ParsePublicKey(golden.alice)
	require.NoError(t, err)
	ok, err := VerifySignature(pub, []byte(golden.message), golden.signature)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = VerifySignature(pub, []byte(golden.message+"0"), golden.signature)
	require.NoError(t, err)
	assert.False(t, ok)

	alice, err := wallet.FromHexSeed("0xe5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a")
	require.NoError(t, err)
	require.Equal(t, golden.alice, alice.SS58())
	sig, err := AppendSignature(nil, alice, []byte(golden.message))
	require.NoError(t, err)
	assert.Len(t, sig, SignatureLen)
	ok, err = VerifySignature(pub, []byte(golden.message), string(sig))
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestGoldenParseRequest(t *testing.T) {
	r, err := ParseRequest(serverHeader(goldenHeaders), echoFields)
	require.NoError(t, err)
	assert.Equal(t, Some(12.0), r.Timeout)
	assert.Equal(t, Some[int64](464), r.HeaderSize)
	assert.Equal(t, Some[int64](2973), r.TotalSize)
	assert.Equal(t, Some(golden.bodyHash), r.BodyHash)
	assert.Equal(t, Terminal{IP: Some("198.51.100.9"), Port: Some[int64](8091), Hotkey: Some(golden.bob)}, r.Axon)
	assert.Equal(t, Terminal{IP: Some("203.0.113.7"), Version: Some[int64](Version), Nonce: Some(golden.nonce),
		UUID: Some(golden.uuid), Hotkey: Some(golden.alice), Signature: Some(golden.signature)}, r.Dendrite)
}

// TestGoldenVerify replays the exchange: accepted at nonce + 0.25 s, the
// same request refused with the real axon's 401 message.
func TestGoldenVerify(t *testing.T) {
	r, err := ParseRequest(serverHeader(goldenHeaders), echoFields)
	require.NoError(t, err)
	v := NewVerifier(golden.bob, NewNonces(0))
	now := golden.nonce + 250_000_000
	require.NoError(t, v.Verify(&r, now))
	err = v.Verify(&r, now+1_000_000)
	require.Error(t, err)
	assert.Equal(t, "Not Verified with error: Nonce is too old, a newer one was last processed", NotVerifiedMessage(err.Error()))

	// Another axon's hotkey makes another signed string.
	other := NewVerifier(golden.alice, NewNonces(0))
	err = other.Verify(&r, now)
	require.Error(t, err)
	assert.Equal(t, "Signature mismatch with 1767225600000000000."+golden.alice+"."+golden.alice+"."+golden.uuid+"."+golden.bodyHash+" and "+golden.signature, err.Error())
}

func TestGoldenResponses(t *testing.T) {
	ok := serverHeader([][2]string{
		{"name", "Echo"}, {"timeout", "12.0"},
		{"bt_header_axon_status_code", "200"}, {"bt_header_axon_status_message", "Success"},
		{"bt_header_axon_process_time", "0.00012803077697753906"},
		{"computed_body_hash", "73ea8a86bca0458330af72beb4b1b2a4c3dad9f67ce57d748d6c33ab4657e279"},
	})
	r, err := ParseResponse(ok)
	require.NoError(t, err)
	assert.Equal(t, Response{StatusCode: Some[int64](200), StatusMessage: Some(SuccessMessage),
		ProcessTime: Some(0.00012803077697753906), Timeout: Some(12.0)}, r)

	replay := serverHeader([][2]string{
		{"name", "Echo"}, {"timeout", "None"},
		{"bt_header_axon_status_code", "401"},
		{"bt_header_axon_status_message", "Not Verified with error: Nonce is too old, a newer one was last processed"},
		{"bt_header_axon_process_time", "0.0009388923645019531"},
		{"bt_header_axon_version", "10002000"},
	})
	r, err = ParseResponse(replay)
	require.NoError(t, err)
	assert.Equal(t, Response{StatusCode: Some[int64](401), ProcessTime: Some(0.0009388923645019531),
		StatusMessage: Some("Not Verified with error: Nonce is too old, a newer one was last processed")}, r)

	_, err = ParseResponse(serverHeader([][2]string{{"bt_header_axon_process_time", "fast"}}))
	var perr *ParseError
	assert.ErrorAs(t, err, &perr)
}
