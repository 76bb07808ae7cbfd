package httpaxon

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/heaptest"
	"github.com/minerbench/minerbench/minerbench/internal/racetest"
	"github.com/minerbench/minerbench/minerbench/internal/synapse"
)

// The attacks below run in-process, bounded in count and time, as the gRPC
// axon's (minerbench/internal/axon). Each takes the live heap before the attack,
// asserts a ceiling on its growth while the attack holds what it can, has a
// good query answered during the attack and after it, and asserts that the
// live heap comes back to within heaptest.Slack of where it was.
const (
	mustHappen = time.Minute
	poll       = time.Millisecond
)

// attacker is the address attacks come from: on loopback, peers are told
// apart by their IP.
var attacker = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}

// dialAttacker connects to addr from the attacker's address.
func dialAttacker(t testing.TB, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: attacker}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// goodQuery sends a signed Dummy from 127.0.0.1 on a new connection and
// returns how long it took to be answered, and its status.
func goodQuery(t testing.TB, s *server, c *client) (time.Duration, int) {
	t.Helper()
	h, body := c.build(t, s, req{name: "Dummy", fields: map[string]any{"dummy_input": 1}, inputs: map[string]synapse.Kind{"dummy_input": synapse.KindInt}})
	start := time.Now()
	resp := do(t, s.addr, "/Dummy", h, body)
	return time.Since(start), resp.status
}

// goodBound is how soon a good query must be answered during an attack:
// 100 ms, widened by racetest.Scale under the race detector.
const goodBound = 100 * time.Millisecond * racetest.Scale

// fastAnswers sends ten good queries one after another and requires at
// least nine answered 200 within goodBound.
func fastAnswers(t *testing.T, s *server) {
	t.Helper()
	c := newClient("good")
	var fast int
	var took []string
	for range 10 {
		d, status := goodQuery(t, s, c)
		if status == 200 && d <= goodBound {
			fast++
		}
		took = append(took, fmt.Sprintf("%d in %v", status, d.Round(time.Millisecond)))
	}
	t.Logf("good queries during the attack: %s", strings.Join(took, ", "))
	assert.GreaterOrEqual(t, fast, 9, "good queries answered 200 within %v: %s", goodBound, strings.Join(took, ", "))
}

// TestIdleConnectionsDoNotLockOut holds, from the attacker's address, four
// times MaxConnections connections that send nothing, dialing again each one
// the axon closes. The axon keeps serving: it closes the idlest connection
// for each new one, so a good query on a new connection is answered at
// once, and the connections cost it little memory.
func TestIdleConnectionsDoNotLockOut(t *testing.T) {
	const maxConns = 16
	s := serve(t, Config{MaxConnections: maxConns})
	base := heaptest.Live()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	d := net.Dialer{LocalAddr: attacker}
	for range 4 * maxConns {
		wg.Go(func() {
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", s.addr)
				if err != nil {
					continue
				}
				stop := context.AfterFunc(ctx, func() { c.Close() })
				_, _ = c.Read(make([]byte, 1)) // returns when the axon closes it
				stop()
				c.Close()
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // the attack is under way
	during := heaptest.Live() - base
	t.Logf("live heap with %d idle connections dialing again: %+d bytes", 4*maxConns, during)
	assert.Less(t, during, int64(8<<20))
	fastAnswers(t, s)
	cancel()
	wg.Wait()
	heaptest.Returns(t, base)
	_, status := goodQuery(t, s, newClient("after"))
	assert.Equal(t, 200, status)
}

// TestSlowHeadersBounded opens connections that send a request's headers
// a few bytes at a time and never finish: each is closed when
// HeaderTimeout passes (or evicted for a newer one), a good query is
// answered meanwhile, and memory stays bounded.
func TestSlowHeadersBounded(t *testing.T) {
	const conns = 64
	s := serve(t, Config{MaxConnections: 32, HeaderTimeout: time.Second})
	base := heaptest.Live()
	closed := make(chan struct{}, conns)
	for range conns {
		c := dialAttacker(t, s.addr)
		go func() {
			defer func() { closed <- struct{}{} }()
			if _, err := io.WriteString(c, "POST /Dummy HTTP/1.1\r\nHost: x\r\nbt_header_dendrite_nonce: 1"); err != nil {
				return
			}
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for range tick.C {
				if _, err := io.WriteString(c, "1"); err != nil {
					return
				}
			}
		}()
	}
	during := heaptest.Live() - base
	t.Logf("live heap with %d slow headers: %+d bytes", conns, during)
	assert.Less(t, during, int64(8<<20))
	fastAnswers(t, s)
	for range conns {
		select {
		case <-closed:
		case <-time.After(mustHappen):
			t.Fatal("a slow-header connection was not closed")
		}
	}
	heaptest.Returns(t, base)
}

// TestSlowBodiesBounded sends signed requests announcing a body of
// MaxBodyBytes and sending a few bytes of it: each holds what it sent, not
// what it announced, until RequestTimeout ends its connection.
func TestSlowBodiesBounded(t *testing.T) {
	const conns = 32
	s := serve(t, Config{MaxBodyBytes: 1 << 20, RequestTimeout: time.Second})
	base := heaptest.Live()
	c := newClient("slow")
	var wg sync.WaitGroup
	for range conns {
		conn := dialAttacker(t, s.addr)
		h, _ := c.build(t, s, echoReq())
		wg.Go(func() {
			if _, err := conn.Write(append(head("/Echo", 1<<20, h), `{"text": "`...)); err != nil {
				return
			}
			_, _ = io.ReadAll(conn) // until the axon gives up on the body
		})
	}
	time.Sleep(200 * time.Millisecond)
	during := heaptest.Live() - base
	t.Logf("live heap with %d slow bodies of 1 MiB announced: %+d bytes", conns, during)
	assert.Less(t, during, int64(conns<<20/4), "the axon holds what came, not what was announced")
	fastAnswers(t, s)
	wg.Wait()
	heaptest.Returns(t, base)
}

// TestHugeUnsignedBodyNotRead announces 1 GiB bodies without a signature
// and sends 1 MiB of each: they are refused 401 on their headers, and the
// axon allocates a small part of what was sent.
func TestHugeUnsignedBodyNotRead(t *testing.T) {
	const conns = 8
	s := serve(t, Config{})
	c := newClient("unsigned")
	r := echoReq()
	r.unsigned = true
	sent := make([]byte, 1<<20)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocated := ms.TotalAlloc
	var wg sync.WaitGroup
	statuses := make(chan string, conns)
	for range conns {
		conn := dialAttacker(t, s.addr)
		h, _ := c.build(t, s, r)
		wg.Go(func() {
			go func() {
				_, _ = conn.Write(head("/Echo", 1<<30, h))
				_, _ = conn.Write(sent)
			}()
			line := make([]byte, 12)
			_, _ = io.ReadFull(conn, line)
			statuses <- string(line)
		})
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		assert.Equal(t, "HTTP/1.1 401", st)
	}
	runtime.ReadMemStats(&ms)
	assert.Less(t, ms.TotalAlloc-allocated, uint64(conns<<20/2), "bytes allocated by the process while %d unsigned 1 GiB bodies were refused", conns)
}
