package httpdendrite

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
)

// signalBody tells read each time a read returns data.
type signalBody struct {
	io.ReadCloser
	read chan<- struct{}
}

func (b signalBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.read <- struct{}{}
	}
	return n, err
}

// TestStreaming: a streamed answer is read as it arrives. The axon sends
// each chunk only once the client has read the one before, so the chunks
// are three however fast the machine.
func TestStreaming(t *testing.T) {
	read := make(chan struct{}, 1)
	chunks := []string{"data0\n", "data1\n", "data2\n"}
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h["Content-Type"] = []string{"text/event-stream"}
		h[synapse.HeaderAxonStatusCode] = []string{"200"}
		h[synapse.HeaderAxonProcessTime] = []string{"0.001"}
		for i, c := range chunks {
			if i > 0 {
				select {
				case <-read:
				case <-r.Context().Done():
					return
				}
			}
			_, _ = io.WriteString(w, c)
			w.(http.Flusher).Flush()
		}
	}))
	transport := NewTransport()
	c := newTestClient(t, srv.URL, func(cfg *Config) {
		cfg.Streaming = true
		cfg.Transport = transport
	})
	c.rt = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := transport.RoundTrip(r)
		if err == nil {
			resp.Body = signalBody{resp.Body, read}
		}
		return resp, err
	})
	r := c.Query(context.Background())
	require.True(t, r.Success(), r.Message)
	assert.Equal(t, 3, r.Chunks)
	assert.Equal(t, int64(len("data0\ndata1\ndata2\n")), r.Bytes)
	assert.Positive(t, r.FirstByte)
	assert.LessOrEqual(t, r.FirstByte, r.LastChunk)
	assert.LessOrEqual(t, r.LastChunk, r.Latency)
	assert.Equal(t, synapse.Some(time.Millisecond), r.ProcessTime)
}

// TestStreamingRefused: a streaming query refused by the axon gets the
// usual JSON error.
func TestStreamingRefused(t *testing.T) {
	srv := serve(t, answer(403, map[string]string{"Content-Type": "application/json"}, `{"message":"Forbidden. Key is blacklisted: no."}`))
	r := newTestClient(t, srv.URL, func(cfg *Config) { cfg.Streaming = true }).Query(context.Background())
	assert.Equal(t, 403, r.Code)
	assert.Equal(t, "Forbidden. Key is blacklisted: no.", r.Message)
	assert.Zero(t, r.Chunks)
}
