package httpaxon

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
)

// Tokens streams its count of chunks.
type Tokens struct {
	Count int `json:"count" synapse:"required"`
}

// TestStreamingSynapse answers a streaming synapse as Bittensor's
// StreamingSynapse: status 200, text/event-stream, the axon's headers
// before the stream, chunked, each chunk sent as written; a handler failing
// before its first chunk is answered 500.
func TestStreamingSynapse(t *testing.T) {
	sent := make(chan struct{})
	stream := func(ctx context.Context, s *Tokens, w ChunkWriter) error {
		if s.Count < 0 {
			return errors.New("negative count")
		}
		for i := range s.Count {
			if _, err := io.WriteString(w, "data"+string(rune('0'+i))+"\n"); err != nil {
				return err
			}
			if i == 0 {
				<-sent // the first chunk reaches the client before the second is written
			}
		}
		return nil
	}
	s := serve(t, Config{Synapses: []Synapse{must(HandleStream(stream))}})
	c := newClient("alice")
	inputs := map[string]synapse.Kind{"count": synapse.KindInt}
	h, body := c.build(t, s, req{name: "Tokens", fields: map[string]any{"count": 3}, inputs: inputs})
	conn, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write(append(head("/Tokens", len(body), h), body...))
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	var lines []string
	for {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		lines = append(lines, strings.TrimRight(line, "\r\n"))
		if line == "\r\n" {
			break
		}
	}
	assert.Equal(t, "HTTP/1.1 200 OK", lines[0])
	assert.Contains(t, lines, "content-type: text/event-stream")
	assert.Contains(t, lines, "Transfer-Encoding: chunked")
	assert.Contains(t, lines, "bt_header_axon_status_code: 200")
	assert.Contains(t, lines, "name: Tokens")
	first, err := readChunk(br)
	require.NoError(t, err)
	assert.Equal(t, "data0\n", first, "sent before the handler goes on")
	close(sent)
	rest := ""
	for {
		chunk, err := readChunk(br)
		require.NoError(t, err)
		if chunk == "" {
			break
		}
		rest += chunk
	}
	assert.Equal(t, "data1\ndata2\n", rest)

	h, body = c.build(t, s, req{name: "Tokens", fields: map[string]any{"count": -1}, inputs: inputs})
	resp := do(t, s.addr, "/Tokens", h, body)
	assert.Equal(t, 500, resp.status)
	assert.Contains(t, resp.message(t), "Internal Server Error #")
}

// readChunk reads one chunk of a chunked body; "" is the last.
func readChunk(br *bufio.Reader) (string, error) {
	size, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	var n int
	for _, c := range strings.TrimSpace(size) {
		n = n*16 + strings.IndexRune("0123456789abcdef", c)
	}
	data := make([]byte, n+2)
	if _, err := io.ReadFull(br, data); err != nil {
		return "", err
	}
	return string(data[:n]), nil
}
