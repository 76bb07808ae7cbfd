package httpaxon

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"

	"github.com/minerbench/minerbench/minerbench/wallet"
)

// echoReq is the request of the body hash example in minerbench/internal/synapse/README.md: Echo, text "hello".
func echoReq() req {
	return req{name: "Echo", fields: map[string]any{"text": "hello"}, hashes: []string{"hello"}, inputs: map[string]synapse.Kind{"text": synapse.KindStr}}
}

// TestEchoAnswered sends a signed Echo and reads the raw answer: 200, the
// whole synapse as compact JSON with the axon's status, and lowercase
// header names on the wire, the body hash being that of the answer.
func TestEchoAnswered(t *testing.T) {
	s := serve(t, Config{})
	c := newClient("alice")
	h, body := c.build(t, s, echoReq())
	resp := do(t, s.addr, "/Echo", h, body)
	require.Equal(t, 200, resp.status, "%s", resp.body)

	var got map[string]any
	require.NoError(t, json.Unmarshal(resp.body, &got))
	assert.Equal(t, "HELLO", got["text"])
	assert.Equal(t, "Echo", got["name"])
	axon := got["axon"].(map[string]any)
	assert.Equal(t, 200.0, axon["status_code"])
	assert.Equal(t, "Success", axon["status_message"])
	assert.Equal(t, s.key.SS58(), axon["hotkey"])
	assert.Equal(t, c.key.SS58(), got["dendrite"].(map[string]any)["hotkey"])
	assert.NotContains(t, string(resp.body), ": ", "compact JSON")
	assert.True(t, strings.HasPrefix(string(resp.body), `{"name":"Echo","timeout":12.0,`), "%s", resp.body)

	for _, name := range []string{"name", "timeout", "bt_header_axon_status_code", "bt_header_axon_status_message",
		"bt_header_axon_process_time", "bt_header_axon_hotkey", "bt_header_dendrite_nonce", "bt_header_dendrite_uuid",
		"bt_header_dendrite_hotkey", "bt_header_dendrite_signature", "bt_header_input_obj_text", "header_size",
		"total_size", "computed_body_hash", "content-type"} {
		assert.Contains(t, resp.names, name, "header names are sent lowercase")
	}
	for _, name := range resp.names {
		if strings.Contains(strings.ToLower(name), "bt_header") {
			assert.Equal(t, strings.ToLower(name), name)
		}
	}
	assert.NotContains(t, resp.names, "Content-Type", "one content-type, lowercase")
	assert.Equal(t, "200", resp.header["bt_header_axon_status_code"])
	assert.Equal(t, "Success", resp.header["bt_header_axon_status_message"])
	assert.Equal(t, "application/json", resp.header["content-type"])
	assert.Equal(t, "IiI=", resp.header["bt_header_input_obj_text"])
	assert.Equal(t, sha3hex(sha3hex("HELLO")), resp.header["computed_body_hash"], "hash of the answer")
	assert.Equal(t, first(h, "bt_header_dendrite_signature"), resp.header["bt_header_dendrite_signature"])
	_, err := strconv.ParseFloat(resp.header["bt_header_axon_process_time"], 64)
	assert.NoError(t, err)
}

// TestDummyAndPing answers the template's Dummy (2 × input) and Synapse.
func TestDummyAndPing(t *testing.T) {
	s := serve(t, Config{})
	c := newClient("alice")
	h, body := c.build(t, s, req{name: "Dummy", fields: map[string]any{"dummy_input": 21}, inputs: map[string]synapse.Kind{"dummy_input": synapse.KindInt}})
	resp := do(t, s.addr, "/Dummy", h, body)
	require.Equal(t, 200, resp.status, "%s", resp.body)
	var d Dummy
	require.NoError(t, json.Unmarshal(resp.body, &d))
	require.NotNil(t, d.DummyOutput)
	assert.Equal(t, 42, *d.DummyOutput)
	assert.Equal(t, sha3hex(""), resp.header["computed_body_hash"])

	h, body = c.build(t, s, req{name: "Synapse"})
	resp = do(t, s.addr, "/Synapse", h, body)
	require.Equal(t, 200, resp.status, "%s", resp.body)
	assert.Equal(t, "Synapse", resp.header["name"])
}

// refusing serves an axon that blacklists mallory, and a client.
func refusing(t *testing.T) (*server, *client) {
	s := serve(t, Config{Blacklist: func(h *Header) (bool, string) {
		return h.Dendrite.Hotkey.V == wallet.Mock("mallory").SS58(), "mallory is not welcome"
	}})
	return s, newClient("alice")
}

// TestRefusedBeforeVerify sends requests refused before their signature is
// checked, and checks Bittensor's code and message.
func TestRefusedBeforeVerify(t *testing.T) {
	s, c := refusing(t)

	t.Run("unknown synapse", func(t *testing.T) {
		h, body := c.build(t, s, req{name: "Nope"})
		resp := do(t, s.addr, "/Nope", h, body)
		assert.Equal(t, 404, resp.status)
		assert.Equal(t, "Synapse name 'Nope' not found. Available synapses ['Synapse', 'Dummy', 'Echo']", resp.message(t))
		assert.Equal(t, "Synapse", resp.header["name"], "a blank synapse's headers")
		assert.Equal(t, "404", resp.header["bt_header_axon_status_code"])
	})
	t.Run("bad headers", func(t *testing.T) {
		h, body := c.build(t, s, echoReq())
		h[synapse.HeaderTimeout] = []string{"soon"}
		resp := do(t, s.addr, "/Echo", h, body)
		assert.Equal(t, 500, resp.status)
		assert.Regexp(t, `^Internal Server Error #[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, resp.message(t))
	})
	t.Run("missing input", func(t *testing.T) {
		h, body := c.build(t, s, echoReq())
		delete(h, synapse.PrefixInputObj+"text")
		resp := do(t, s.addr, "/Echo", h, body)
		assert.Equal(t, 500, resp.status)
		assert.Contains(t, resp.message(t), "Internal Server Error #")
	})
	t.Run("blacklisted", func(t *testing.T) {
		h, body := newClient("mallory").build(t, s, echoReq())
		resp := do(t, s.addr, "/Echo", h, body)
		assert.Equal(t, 403, resp.status)
		assert.Equal(t, "Forbidden. Key is blacklisted: mallory is not welcome.", resp.message(t))
		assert.Equal(t, "403", resp.header["bt_header_axon_status_code"])
		assert.Equal(t, "Echo", resp.header["name"])
		assert.NotEmpty(t, resp.header["bt_header_axon_signature"])
		assert.Equal(t, sha3hex(sha3hex("")), resp.header["computed_body_hash"], "hash of the header synapse, text empty")
	})
}

// TestNotVerified sends requests whose signature or nonce is refused, and
// checks Bittensor's code and message.
func TestNotVerified(t *testing.T) {
	s, c := refusing(t)
	t.Run("replayed nonce", func(t *testing.T) {
		h, body := c.build(t, s, echoReq())
		require.Equal(t, 200, do(t, s.addr, "/Echo", h, body).status)
		resp := do(t, s.addr, "/Echo", h, body)
		assert.Equal(t, 401, resp.status)
		assert.Equal(t, "Not Verified with error: Nonce is too old, a newer one was last processed", resp.message(t))
		host, _, _ := net.SplitHostPort(s.addr)
		assert.Equal(t, host, resp.header["bt_header_dendrite_ip"], "the TCP peer")
	})
	t.Run("stale nonce", func(t *testing.T) {
		r := echoReq()
		r.nonce = time.Now().Add(-time.Minute).UnixNano()
		h, body := newClient("bob").build(t, s, r)
		resp := do(t, s.addr, "/Echo", h, body)
		assert.Equal(t, 401, resp.status)
		assert.Regexp(t, `^Not Verified with error: Nonce is too old: acceptable delta is 16\.00 seconds but request was 6\d\.\d\d seconds old$`, resp.message(t))
	})
	t.Run("wrong axon hotkey", func(t *testing.T) {
		r := echoReq()
		r.axonKey = wallet.Mock("other axon").SS58()
		h, body := c.build(t, s, r)
		resp := do(t, s.addr, "/Echo", h, body)
		assert.Equal(t, 401, resp.status)
		msg := resp.message(t)
		assert.True(t, strings.HasPrefix(msg, "Not Verified with error: Signature mismatch with "+first(h, "bt_header_dendrite_nonce")+"."+c.key.SS58()+"."+s.key.SS58()+"."), msg)
		assert.True(t, strings.HasSuffix(msg, " and "+first(h, "bt_header_dendrite_signature")), msg)
	})
	t.Run("unsigned", func(t *testing.T) {
		r := echoReq()
		r.unsigned = true
		h, body := c.build(t, s, r)
		resp := do(t, s.addr, "/Echo", h, body)
		assert.Equal(t, 401, resp.status)
		assert.Equal(t, "Not Verified with error: Missing Signature: this axon refuses unsigned requests", resp.message(t))
	})
}

// TestBadBody sends signed requests whose body is refused, and checks
// Bittensor's code and message.
func TestBadBody(t *testing.T) {
	s, c := refusing(t)
	t.Run("tampered body", func(t *testing.T) {
		h, body := c.build(t, s, echoReq())
		body = []byte(strings.Replace(string(body), "hello", "HELLO", 1))
		resp := do(t, s.addr, "/Echo", h, body)
		assert.Equal(t, 500, resp.status)
		assert.Contains(t, resp.message(t), "Internal Server Error #")
	})
	t.Run("body not JSON", func(t *testing.T) {
		h, _ := c.build(t, s, echoReq())
		resp := do(t, s.addr, "/Echo", h, []byte("{"))
		assert.Equal(t, 500, resp.status)
		h, body := c.build(t, s, req{name: "Dummy", fields: map[string]any{"dummy_output": 3}, inputs: map[string]synapse.Kind{"dummy_input": synapse.KindInt}})
		resp = do(t, s.addr, "/Dummy", h, body)
		assert.Equal(t, 500, resp.status, "a required field missing from the body, as pydantic refuses it")
		h, _ = c.build(t, s, req{name: "Synapse"})
		resp = do(t, s.addr, "/Synapse", h, nil)
		assert.Equal(t, 500, resp.status, "a ping's body must be a JSON object too")
	})
}

// TestUnsignedAccepted answers an unsigned request when AcceptUnsigned is
// set, as Bittensor's axon does.
func TestUnsignedAccepted(t *testing.T) {
	s := serve(t, Config{AcceptUnsigned: true})
	r := echoReq()
	r.unsigned = true
	h, body := newClient("alice").build(t, s, r)
	resp := do(t, s.addr, "/Echo", h, body)
	assert.Equal(t, 200, resp.status, "%s", resp.body)
}

// status is a synapse answering with its own status.
type Teapot struct {
	Note string `json:"note"`
}

func (Teapot) AxonStatus() Status { return Status{Code: 418, Message: "short and stout"} }

// TestHandlerStatus answers a handler's own status, with the whole synapse,
// and a *StatusError's with its message.
func TestHandlerStatus(t *testing.T) {
	refuse := func(context.Context, *Echo) error { return &StatusError{Code: 429, Message: "slow down"} }
	s := serve(t, Config{Synapses: []Synapse{
		must(Handle(func(_ context.Context, s *Teapot) error { s.Note = "tip me over"; return nil })),
		must(Handle(refuse)),
	}})
	c := newClient("alice")
	h, body := c.build(t, s, req{name: "Teapot"})
	resp := do(t, s.addr, "/Teapot", h, body)
	assert.Equal(t, 418, resp.status)
	assert.Equal(t, "short and stout", resp.header["bt_header_axon_status_message"])
	assert.Contains(t, string(resp.body), `"note":"tip me over"`)

	h, body = c.build(t, s, echoReq())
	resp = do(t, s.addr, "/Echo", h, body)
	assert.Equal(t, 429, resp.status)
	assert.Equal(t, "slow down", resp.message(t))
}
