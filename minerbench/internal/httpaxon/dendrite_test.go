package httpaxon

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/httpdendrite"
	"github.com/minerbench/minerbench/minerbench/internal/synapse"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// TestHTTPDendrite queries the axon with the repository's HTTP synapse
// client, which records outcomes as a Python dendrite does: Echo and
// Dummy succeed, query after query, and a synapse the axon does not serve
// is recorded 404.
func TestHTTPDendrite(t *testing.T) {
	s := serve(t, Config{})
	for _, tt := range []struct {
		synapse, body string
		hash          []string
		want          int
	}{
		{"Echo", `{"text": "hello"}`, []string{"text"}, 200},
		{"Dummy", `{"dummy_input": 4}`, nil, 200},
		{"Nope", `{}`, nil, 404},
	} {
		c, err := httpdendrite.New(httpdendrite.Config{
			URL: "http://" + s.addr, AxonHotkey: s.key.SS58(), Synapse: tt.synapse,
			Body: []byte(tt.body), HashFields: tt.hash, Key: wallet.Mock("dendrite"),
		})
		require.NoError(t, err)
		for range 3 {
			r := c.Query(t.Context())
			assert.Equal(t, tt.want, r.Code, "%s: %s", tt.synapse, r.Message)
			if tt.want == 200 {
				assert.True(t, r.ProcessTime.OK, "the axon's process time is read")
			}
		}
	}
}

// rewrite is a RoundTripper that lets a test see and change each request
// the dendrite sends before it goes out.
type rewrite func(*http.Request)

func (f rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	f(r)
	return http.DefaultTransport.RoundTrip(r)
}

// TestHTTPDendriteRefusals runs minerbench's dendrite against minerbench's
// axon in each case a real axon refuses, and checks each is answered with
// the real code and message: a replayed request, a stale nonce, a wrong
// axon hotkey, an unsigned request, a tampered body and an unknown synapse.
// Concurrent dendrites, each with its own uuid, are all answered.
func TestHTTPDendriteRefusals(t *testing.T) {
	s := serve(t, Config{})
	dendrite := func(cfg httpdendrite.Config) *httpdendrite.Client { return echoDendrite(t, s, cfg) }

	t.Run("replay", func(t *testing.T) { testReplayRefused(t, s) })
	t.Run("stale nonce", func(t *testing.T) {
		c := dendrite(httpdendrite.Config{Transport: rewrite(func(r *http.Request) {
			old := time.Now().Add(-time.Minute).UnixNano()
			r.Header[synapse.HeaderDendriteNonce] = []string{strconv.FormatInt(old, 10)}
		})})
		r := c.Query(t.Context())
		assert.Equal(t, 401, r.Code)
		assert.Contains(t, r.Message, "Not Verified with error: Nonce is too old: acceptable delta is 16.00 seconds but request was 60.")
	})
	t.Run("wrong axon hotkey", func(t *testing.T) {
		r := dendrite(httpdendrite.Config{AxonHotkey: wallet.Mock("another axon").SS58()}).Query(t.Context())
		assert.Equal(t, 401, r.Code)
		assert.Contains(t, r.Message, "Not Verified with error: Signature mismatch with ")
	})
	t.Run("unsigned", func(t *testing.T) {
		r := dendrite(httpdendrite.Config{Transport: rewrite(func(r *http.Request) {
			delete(r.Header, synapse.HeaderDendriteSig)
		})}).Query(t.Context())
		assert.Equal(t, 401, r.Code)
		assert.Equal(t, "Not Verified with error: Missing Signature: this axon refuses unsigned requests", r.Message)
	})
	t.Run("tampered body", func(t *testing.T) {
		r := dendrite(httpdendrite.Config{Transport: rewrite(func(r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			body = bytes.Replace(body, []byte(`"hello"`), []byte(`"jello"`), 1)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		})}).Query(t.Context())
		assert.Equal(t, 500, r.Code)
		assert.Regexp(t, `^Internal Server Error #[0-9a-f-]{36}$`, r.Message)
	})
	t.Run("unknown synapse", func(t *testing.T) {
		r := dendrite(httpdendrite.Config{Synapse: "Nope", Body: []byte(`{}`)}).Query(t.Context())
		assert.Equal(t, 404, r.Code)
		assert.Equal(t, "Synapse name 'Nope' not found. Available synapses ['Synapse', 'Dummy', 'Echo']", r.Message)
	})
	t.Run("concurrent dendrites", func(t *testing.T) {
		var wg sync.WaitGroup
		codes := make([][]int, 8)
		for i := range codes {
			c := dendrite(httpdendrite.Config{})
			wg.Go(func() {
				for range 20 {
					codes[i] = append(codes[i], c.Query(t.Context()).Code)
				}
			})
		}
		wg.Wait()
		for i := range codes {
			assert.Equal(t, slices.Repeat([]int{200}, 20), codes[i], "dendrite %d", i)
		}
	})
}

// echoDendrite returns a dendrite on s that sends Echo "hello" where cfg
// leaves the synapse, body and axon hotkey unset.
func echoDendrite(t *testing.T, s *server, cfg httpdendrite.Config) *httpdendrite.Client {
	t.Helper()
	cfg.URL, cfg.Key = "http://"+s.addr, wallet.Mock("dendrite")
	cfg.AxonHotkey = cmp.Or(cfg.AxonHotkey, s.key.SS58())
	cfg.Synapse = cmp.Or(cfg.Synapse, "Echo")
	if cfg.Body == nil {
		cfg.Body, cfg.HashFields = []byte(`{"text": "hello"}`), []string{"text"}
	}
	c, err := httpdendrite.New(cfg)
	require.NoError(t, err)
	return c
}

// testReplayRefused sends a request s answered once more, byte for byte, and
// checks s refuses it as a replay.
func testReplayRefused(t *testing.T, s *server) {
	var sent *http.Request
	var body []byte
	c := echoDendrite(t, s, httpdendrite.Config{Transport: rewrite(func(r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		sent = r.Clone(context.Background())
	})})
	require.Equal(t, 200, c.Query(t.Context()).Code)
	sent.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultTransport.RoundTrip(sent)
	require.NoError(t, err)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
	assert.JSONEq(t, `{"message":"Not Verified with error: Nonce is too old, a newer one was last processed"}`, string(msg))
}
