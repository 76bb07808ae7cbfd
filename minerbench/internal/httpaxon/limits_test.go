package httpaxon

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Block answers once its test lets it.
type Block struct {
	N int `json:"n"`
}

// TestLateHandler answers 408 a handler that returns after its forward
// timeout, even with success, as the gRPC axon answers Timeout.
func TestLateHandler(t *testing.T) {
	late := func(ctx context.Context, _ *Block) error {
		<-ctx.Done()
		return nil
	}
	s := serve(t, Config{ForwardTimeout: 10 * time.Millisecond, Synapses: []Synapse{must(Handle(late))}})
	h, body := newClient("alice").build(t, s, req{name: "Block"})
	resp := do(t, s.addr, "/Block", h, body)
	assert.Equal(t, 408, resp.status)
	assert.Equal(t, "Response timeout after: 12.0s", resp.message(t))
}

// TestCallsSharedAmongPeers fills an axon of one worker and a queue of two
// (three calls). A peer alone, as a benchmark on loopback, may take all
// three; a fourth call is refused 503. Beside another peer's call, a peer
// gets its share (Workers + QueueSize/2 = 2) and its next call is refused
// 503 at once. Every admitted call is answered once the worker is free.
func TestCallsSharedAmongPeers(t *testing.T) {
	for _, tt := range []struct {
		name     string
		other    bool // another peer's call comes first
		admitted int  // calls of the crowd admitted before one is refused
	}{
		{"alone", false, 3},
		{"beside another peer", true, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			var once sync.Once
			started := make(chan struct{}, 4)
			block := func(context.Context, *Block) error {
				started <- struct{}{}
				<-release
				return nil
			}
			s := serve(t, Config{Workers: 1, QueueSize: 2, ForwardTimeout: time.Hour, Synapses: []Synapse{must(Handle(block))}})
			t.Cleanup(func() { once.Do(func() { close(release) }) })
			c := newClient("crowd")
			statuses := make(chan int, 4)
			send := func(conn net.Conn) {
				h, body := c.build(t, s, req{name: "Block"})
				go func() { statuses <- doOn(t, conn, "/Block", h, body).status }()
			}
			dial := func() net.Conn {
				conn, err := net.Dial("tcp", s.addr)
				require.NoError(t, err)
				t.Cleanup(func() { conn.Close() })
				return conn
			}
			// Each call is sent once the one before is in: a peer's nonces
			// must arrive in order.
			ad := s.axon.admission
			conns := make([]net.Conn, 0, 4)
			if tt.other {
				conns = append(conns, dialAttacker(t, s.addr))
			}
			for range tt.admitted + 1 {
				conns = append(conns, dial())
			}
			send(conns[0])
			<-started // the worker is taken
			for i := 1; i < 3; i++ {
				send(conns[i])
				require.Eventually(t, func() bool { return ad.waitingWorkers.Load() == int64(i) }, mustHappen, poll, "call %d waits in the queue", i)
			}
			send(conns[3])
			assert.Equal(t, 503, <-statuses, "the crowd's next call is over its share")
			once.Do(func() { close(release) })
			for range 3 {
				assert.Equal(t, 200, <-statuses)
			}
		})
	}
}

// TestSizeAndInFlightLimits refuses a body announced beyond MaxBodyBytes
// with 413 before reading it, headers beyond MaxHeaderBytes with 431, and
// a request beyond MaxRequestsInFlight with 503 while another's body is
// still coming.
func TestSizeAndInFlightLimits(t *testing.T) {
	s := serve(t, Config{MaxBodyBytes: 1 << 10, MaxHeaderBytes: 4 << 10, MaxRequestsInFlight: 1})
	c := newClient("alice")

	h, _ := c.build(t, s, echoReq())
	conn := dialAttacker(t, s.addr)
	_, err := conn.Write(head("/Echo", 1<<20, h))
	require.NoError(t, err)
	resp := readResponse(t, bufio.NewReader(conn))
	assert.Equal(t, 413, resp.status)
	assert.Equal(t, "Request body of 1048576 bytes is larger than the axon's limit of 1024 bytes", resp.message(t))

	h, body := c.build(t, s, echoReq())
	h["x-padding"] = []string{strings.Repeat("x", 16<<10)}
	big := dialAttacker(t, s.addr)
	_, err = big.Write(append(head("/Echo", len(body), h), body...))
	require.NoError(t, err)
	status, err := bufio.NewReader(big).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1 431 Request Header Fields Too Large\r\n", status, "net/http's own answer, before the axon")

	h, _ = c.build(t, s, echoReq())
	slow := dialAttacker(t, s.addr)
	_, err = slow.Write(append(head("/Echo", 100, h), '{'))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.axon.admission.requests.Load() == 1 }, mustHappen, poll, "the slow body is being received")
	h, body = c.build(t, s, echoReq())
	resp = do(t, s.addr, "/Echo", h, body)
	assert.Equal(t, 503, resp.status)
	assert.Equal(t, "Service unavailable: 1 requests being received, the most the axon takes", resp.message(t))
}
