package httpdendrite

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// The inputs of a real exchange with a bittensor 10.2.0 axon: //Alice
// queries //Bob's axon at 198.51.100.9:8091 with Echo(text="hello").
const (
	aliceSeed   = "0xe5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a"
	bobSS58     = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
	goldenNonce = 1767225600000000000
	goldenUUID  = "6b1f7a2e-1c2d-11f1-9a4b-0242ac120002"
	goldenSig   = "0x88b510a1f0e0a0326c538d958740ab9a51470f9f61703f09c8a942655ae0f32b8c67e73746e04c1facf75462d29073301e37c15db946fb0ae18373a6833be386"
	goldenHash  = "cd1ba9b9d9fae7c1e56ddf6aa2947ad2e0b83b96bd91dd4b67fc560e83589bad"
	// goldenBody is the body the Python dendrite sent; its total_size,
	// CPython's object size, is the one value this client sets otherwise.
	goldenBody = `{"name": "Echo", "timeout": 12.0, "total_size": 2973, "header_size": 0, "dendrite": {"status_code": null, "status_message": null, "process_time": null, "ip": "203.0.113.7", "port": null, "version": 10002000, "nonce": 1767225600000000000, "uuid": "6b1f7a2e-1c2d-11f1-9a4b-0242ac120002", "hotkey": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", "signature": "0x88b510a1f0e0a0326c538d958740ab9a51470f9f61703f09c8a942655ae0f32b8c67e73746e04c1facf75462d29073301e37c15db946fb0ae18373a6833be386"}, "axon": {"status_code": null, "status_message": null, "process_time": null, "ip": "198.51.100.9", "port": 8091, "version": null, "nonce": null, "uuid": null, "hotkey": "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty", "signature": null}, "computed_body_hash": "", "text": "hello"}`
)

// goldenHeaders are the Python dendrite's synapse headers but
// header_size and total_size.
var goldenHeaders = map[string]string{
	"name":                         "Echo",
	"timeout":                      "12.0",
	"bt_header_axon_ip":            "198.51.100.9",
	"bt_header_axon_port":          "8091",
	"bt_header_axon_hotkey":        bobSS58,
	"bt_header_dendrite_ip":        "203.0.113.7",
	"bt_header_dendrite_version":   "10002000",
	"bt_header_dendrite_nonce":     "1767225600000000000",
	"bt_header_dendrite_uuid":      goldenUUID,
	"bt_header_dendrite_hotkey":    "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
	"bt_header_dendrite_signature": goldenSig,
	"bt_header_input_obj_text":     "IiI=",
	"computed_body_hash":           goldenHash,
}

// raw returns the values of a header as sent: the synapse's names are
// lowercase, not in the canonical form of net/http.
func raw(h http.Header, name string) []string { return h[name] }

// roundTripFunc is a Transport made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func alice(t testing.TB) *wallet.Keypair {
	kp, err := wallet.FromHexSeed(aliceSeed)
	require.NoError(t, err)
	return kp
}

// goldenClient is a Client of the exchange's inputs, its nonce and
// signature fixed to the exchange's.
func goldenClient(t testing.TB, rt http.RoundTripper) *Client {
	c, err := newClient(Config{URL: "http://198.51.100.9:8091", AxonHotkey: bobSS58, Synapse: "Echo",
		Body: []byte(`{"text": "hello"}`), HashFields: []string{"text"}, Key: alice(t),
		DendriteIP: "203.0.113.7", Transport: rt}, goldenUUID)
	require.NoError(t, err)
	c.clock = func() int64 { return goldenNonce }
	c.sign = func(dst, msg []byte) ([]byte, error) {
		want := "1767225600000000000.5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY." + bobSS58 + "." + goldenUUID + "." + goldenHash
		require.Equal(t, want, string(msg), "the signed string")
		return append(dst, goldenSig...), nil
	}
	return c
}

// TestGoldenRequest: the request is the Python dendrite's, byte for byte
// in the body and value for value in the headers.
func TestGoldenRequest(t *testing.T) {
	var got *http.Request
	var body []byte
	c := goldenClient(t, roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		var err error
		body, err = io.ReadAll(r.Body)
		require.NoError(t, err)
		require.NoError(t, r.Body.Close())
		return nil, io.EOF
	}))
	c.Query(context.Background())
	require.NotNil(t, got)
	assert.Equal(t, http.MethodPost, got.Method)
	assert.Equal(t, "http://198.51.100.9:8091/Echo", got.URL.String())
	assert.Equal(t, int64(len(body)), got.ContentLength)
	assert.Equal(t, "application/json", got.Header["Content-Type"][0])

	totalSize := strconv.Itoa(len(body))
	assert.Equal(t, strings.Replace(goldenBody, `"total_size": 2973`, `"total_size": `+totalSize, 1), string(body))
	for k, v := range goldenHeaders {
		assert.Equal(t, []string{v}, got.Header[k], k)
	}
	assert.Equal(t, []string{totalSize}, raw(got.Header, synapse.HeaderTotalSize), "total_size is the body's length")
	size, err := strconv.Atoi(raw(got.Header, synapse.HeaderHeaderSize)[0])
	require.NoError(t, err)
	lines := 0
	for k, v := range got.Header {
		if k != synapse.HeaderHeaderSize && k != "Content-Type" && k != "Accept" && k != "User-Agent" {
			lines += len(k) + len(v[0]) + 4
		}
	}
	assert.Equal(t, lines, size, "header_size counts the synapse's header lines")
	assert.Len(t, got.Header, len(goldenHeaders)+2+3, "the synapse's headers, the two sizes, Content-Type, Accept, User-Agent")
}

// TestGoldenSignature: the client's own signature of the exchange's
// signed string verifies with Alice's key, and is what it sends.
func TestGoldenSignature(t *testing.T) {
	var sig, nonce string
	c, err := newClient(Config{URL: "http://198.51.100.9:8091", AxonHotkey: bobSS58, Synapse: "Echo",
		Body: []byte(`{"text": "hello"}`), HashFields: []string{"text"}, Key: alice(t), DendriteIP: "203.0.113.7",
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sig, nonce = raw(r.Header, synapse.HeaderDendriteSig)[0], raw(r.Header, synapse.HeaderDendriteNonce)[0]
			return nil, io.EOF
		})}, goldenUUID)
	require.NoError(t, err)
	c.clock = func() int64 { return goldenNonce }
	c.Query(context.Background())
	require.Len(t, sig, synapse.SignatureLen)
	raw, err := hex.DecodeString(sig[2:])
	require.NoError(t, err)
	assert.Equal(t, strings.ToLower(sig), sig)
	msg := synapse.AppendSignedString(nil, goldenNonce, alice(t).SS58(), bobSS58, goldenUUID, goldenHash)
	assert.True(t, alice(t).Public().Verify(msg, raw))
	assert.Equal(t, "1767225600000000000", nonce)
}

// TestNonceIncreases: nonces strictly increase even when the clock
// stands still or goes back.
func TestNonceIncreases(t *testing.T) {
	var nonces []string
	c := goldenClient(t, roundTripFunc(func(r *http.Request) (*http.Response, error) {
		nonces = append(nonces, raw(r.Header, synapse.HeaderDendriteNonce)[0])
		return nil, io.EOF
	}))
	c.sign = func(dst, _ []byte) ([]byte, error) { return append(dst, goldenSig...), nil }
	clock := []int64{goldenNonce, goldenNonce, goldenNonce - 5, goldenNonce + 10}
	c.clock = func() int64 { n := clock[0]; clock = clock[1:]; return n }
	for range 4 {
		c.Query(context.Background())
	}
	assert.Equal(t, []string{"1767225600000000000", "1767225600000000001", "1767225600000000002", "1767225600000000010"}, nonces)
}

func TestUUID1(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u := newUUID1(now)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, u)
	assert.NotEqual(t, u, newUUID1(now), "random clock sequence and node")
	// time_low, then time_mid, from 100 ns intervals since 1582-10-15.
	ts := uint64(now.UnixNano()/100) + gregorianOffset
	assert.Equal(t, strconv.FormatUint(ts&0xffffffff|1<<32, 16)[1:], u[:8])
	assert.Equal(t, strconv.FormatUint(ts>>32&0xffff|1<<16, 16)[1:], u[9:13])
}
