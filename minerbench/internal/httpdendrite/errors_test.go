package httpdendrite

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
)

// answer is a handler that writes a fixed answer.
func answer(status int, header map[string]string, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header()[k] = []string{v}
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// TestOutcomes: each answer is recorded as a Python dendrite records it.
func TestOutcomes(t *testing.T) {
	jsonType := map[string]string{"Content-Type": "application/json"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{"Content-Type": "application/json"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	replay := "Not Verified with error: Nonce is too old, a newer one was last processed"
	for _, c := range []struct {
		name    string
		handler http.Handler
		code    int
		message string
	}{
		{"401 with status headers", answer(401, with(map[string]string{synapse.HeaderAxonStatusCode: "401", synapse.HeaderAxonStatusMessage: replay}),
			`{"message":"`+replay+`"}`), 401, replay},
		{"401 from the body alone", answer(401, jsonType, `{"message":"`+replay+`"}`), 401, replay},
		{"error without a message", answer(500, jsonType, `{}`), 500, ""},
		{"status header wins", answer(200, with(map[string]string{synapse.HeaderAxonStatusCode: "503", synapse.HeaderAxonStatusMessage: "busy"}),
			`{"text":"x"}`), 503, "busy"},
		{"200 status from the body", answer(200, jsonType, `{"text":"x","axon":{"status_code":201,"status_message":"made"}}`), 201, "made"},
		{"200 with no status at all", answer(200, jsonType, `{"text":"x","axon":{"status_code":null}}`), 0, ""},
		{"JSON subtype", answer(200, with(map[string]string{"Content-Type": "application/vnd.api+json; charset=utf-8", synapse.HeaderAxonStatusCode: "200"}), `{"text":"x"}`), 200, ""},
		{"not JSON", answer(200, map[string]string{"Content-Type": "text/plain"}, "hi"), 422,
			"Failed to parse response: Attempt to decode JSON with unexpected mimetype: text/plain"},
		{"error page not JSON", answer(404, map[string]string{"Content-Type": "text/html"}, "<p>no</p>"), 422,
			"Failed to parse response: Attempt to decode JSON with unexpected mimetype: text/html"},
		{"broken JSON", answer(200, jsonType, `{"text":`), 422, ""},
		{"JSON not an object", answer(401, jsonType, `["x"]`), 422, ""},
		{"empty body", answer(200, jsonType, ``), 422, ""},
		{"missing required field", answer(200, jsonType, `{"name":"Echo"}`), 422,
			"Failed to parse response: 1 validation error for Echo\ntext\n  Field required"},
		{"bad process time", answer(200, with(map[string]string{synapse.HeaderAxonProcessTime: "soon"}), `{"text":"x"}`), 422, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := serve(t, c.handler)
			r := newTestClient(t, srv.URL, nil).Query(context.Background())
			assert.Equal(t, c.code, r.Code, r.Message)
			if c.message != "" || c.code != 422 {
				assert.Equal(t, c.message, r.Message)
			} else {
				assert.Contains(t, r.Message, "Failed to parse response: ")
			}
			assert.Equal(t, c.code == 200, r.Success())
		})
	}
}

// TestProcessTime: the axon's process time, and the timeout: None an
// axon answers to a request without a timeout.
func TestProcessTime(t *testing.T) {
	srv := serve(t, answer(200, map[string]string{"Content-Type": "application/json", synapse.HeaderTimeout: "None",
		synapse.HeaderAxonStatusCode: "200", synapse.HeaderAxonProcessTime: "0.25"}, `{"text":"x"}`))
	r := newTestClient(t, srv.URL, nil).Query(context.Background())
	require.True(t, r.Success(), r.Message)
	assert.Equal(t, synapse.Some(250*time.Millisecond), r.ProcessTime)
	assert.Equal(t, int64(len(`{"text":"x"}`)), r.Bytes)

	for _, v := range []string{"nan", "inf", "-1.5"} {
		srv := serve(t, answer(200, map[string]string{"Content-Type": "application/json", synapse.HeaderAxonProcessTime: v}, `{"text":"x"}`))
		r := newTestClient(t, srv.URL, nil).Query(context.Background())
		assert.False(t, r.ProcessTime.OK, v)
		assert.Equal(t, 0, r.Code, "no status header and no axon status in the body: %s", r.Message)
	}
}

// TestRefused: nothing listens, 503 as a connector error.
func TestRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	r := newTestClient(t, "http://127.0.0.1:"+strconv.Itoa(port), nil).Query(context.Background())
	assert.Equal(t, synapse.StatusUnavailable, r.Code)
	assert.Equal(t, "Service unavailable at 127.0.0.1:"+strconv.Itoa(port)+"/Echo", r.Message)
}

// waitForClient reads the request and waits until the client goes away,
// which net/http tells a handler only once it has read the body.
func waitForClient(_ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

// TestTimeout: an axon that answers only when the client is gone; the client's timeout gives
// 408, whether it expires before the headers or inside the body.
func TestTimeout(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"before headers": waitForClient,
		"inside body": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header()["Content-Type"] = []string{"application/json"}
			_, _ = w.Write([]byte(`{"text":`))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := serve(t, h)
			r := newTestClient(t, srv.URL, func(c *Config) { c.Timeout = 50 * time.Millisecond }).Query(context.Background())
			assert.Equal(t, synapse.StatusTimeout, r.Code)
			assert.Equal(t, "Request timeout after 0.05 seconds", r.Message)
			assert.GreaterOrEqual(t, r.Latency, 50*time.Millisecond)
		})
	}
}

// TestTimedByCaller: with TimedByCaller the client arms no timer of its
// own. An answer that comes after Timeout is read, and only the caller's
// ctx ends a query; Timeout still fills the timeout header.
func TestTimedByCaller(t *testing.T) {
	release := make(chan struct{})
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "0.001", r.Header.Get(synapse.HeaderTimeout))
		_, _ = io.Copy(io.Discard, r.Body)
		<-release // past the client's Timeout, however fast the machine
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()[synapse.HeaderAxonStatusCode] = []string{"200"}
		_, _ = w.Write([]byte(`{"text":"HELLO"}`))
	}))
	c := newTestClient(t, srv.URL, func(c *Config) { c.Timeout, c.TimedByCaller = time.Millisecond, true })
	go func() { time.Sleep(20 * time.Millisecond); close(release) }()
	r := c.Query(context.Background())
	assert.Equal(t, 200, r.Code, r.Message)
	assert.GreaterOrEqual(t, r.Latency, 20*time.Millisecond, "the answer came after Timeout and was read")
}

// TestDisconnect: the axon closes the connection without answering.
func TestDisconnect(t *testing.T) {
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	r := newTestClient(t, srv.URL, nil).Query(context.Background())
	assert.Equal(t, synapse.StatusUnavailable, r.Code)
	assert.Equal(t, "Service disconnected: Server disconnected", r.Message)
}

// TestCanceled: the caller's cancellation records no status.
func TestCanceled(t *testing.T) {
	srv := serve(t, http.HandlerFunc(waitForClient))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := newTestClient(t, srv.URL, nil).Query(ctx)
	assert.Equal(t, 0, r.Code)
	assert.Contains(t, r.Message, "canceled: ")
	assert.False(t, r.Success())
}

func TestConfigRefused(t *testing.T) {
	ok := Config{URL: "http://127.0.0.1:8091", AxonHotkey: miner.SS58(), Synapse: "Echo", Body: []byte(`{"text": "hi"}`),
		HashFields: []string{"text"}, Key: validator}
	_, err := New(ok)
	require.NoError(t, err)
	for name, c := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"no key":          {func(c *Config) { c.Key = nil }, "Key is nil"},
		"no synapse":      {func(c *Config) { c.Synapse = "" }, "Synapse is empty"},
		"bad hotkey":      {func(c *Config) { c.AxonHotkey = "5Grw" }, "AxonHotkey"},
		"https":           {func(c *Config) { c.URL = "https://127.0.0.1:8091" }, `URL "https://127.0.0.1:8091": want http://host:port`},
		"path":            {func(c *Config) { c.URL = "http://127.0.0.1:8091/x" }, "no path prefix"},
		"no port":         {func(c *Config) { c.URL = "http://127.0.0.1" }, "has no valid port"},
		"body array":      {func(c *Config) { c.Body = []byte(`[1]`) }, "want a JSON object"},
		"body trailing":   {func(c *Config) { c.Body = []byte(`{"a": 1} 2`) }, "extra data"},
		"hash field":      {func(c *Config) { c.HashFields = []string{"nope"} }, `no field "nope"`},
		"null required":   {func(c *Config) { c.Required = []string{"n"}; c.Body = []byte(`{"text": "x", "n": null}`) }, `required field "n"`},
		"required absent": {func(c *Config) { c.Required = []string{"text", "gone"} }, `Required field "gone" is not in Body`},
		"negative":        {func(c *Config) { c.Timeout = -time.Second }, "Timeout -1s is negative"},
	} {
		cfg := ok
		c.mod(&cfg)
		_, err := New(cfg)
		assert.ErrorContains(t, err, c.want, name)
	}
}
