package httpdendrite

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWire reads the request as bytes on the wire: the request line, the
// synapse's header names in lowercase as a Python dendrite writes them,
// no compression asked for, and a body of the announced length.
func TestWire(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	head := make(chan string, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			head <- err.Error()
			return
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		var lines []string
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
			lines = append(lines, strings.TrimRight(line, "\r\n"))
		}
		req, _ := http.ReadRequest(bufio.NewReader(strings.NewReader(strings.Join(lines, "\r\n") + "\r\n\r\n")))
		if req != nil {
			_, _ = io.CopyN(io.Discard, br, req.ContentLength)
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
		head <- strings.Join(lines, "\n")
	}()
	c := newTestClient(t, "http://"+l.Addr().String(), nil)
	r := c.Query(context.Background())
	got := <-head
	lines := strings.Split(got, "\n")
	assert.Equal(t, "POST /Echo HTTP/1.1", lines[0])
	names := map[string]bool{}
	for _, line := range lines[1:] {
		name, _, ok := strings.Cut(line, ": ")
		require.True(t, ok, line)
		names[name] = true
	}
	for name := range goldenHeaders {
		assert.True(t, names[name], "%s, in lowercase", name)
	}
	assert.True(t, names["header_size"] && names["total_size"])
	assert.False(t, names["Accept-Encoding"], "no compression")
	assert.Equal(t, 422, r.Code, "a 200 without the required field text: %s", r.Message)
	assert.Equal(t, "Failed to parse response: 1 validation error for Echo\ntext\n  Field required", r.Message)
}
