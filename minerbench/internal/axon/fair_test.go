package axon

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/minerbench/minerbench/minerbench/internal/heaptest"
	"github.com/minerbench/minerbench/minerbench/internal/racetest"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// The attacks below come from 127.0.0.2, another peer than the good
// queries' 127.0.0.1. During each, good queries, each on a new connection,
// must be answered Success within goodBound in at least goodOf of
// goodTries; after it, within afterBound. Under the race detector both
// bounds are widened by racetest.Scale.
const (
	goodTries  = 10
	goodOf     = 9
	goodBound  = 100 * time.Millisecond * racetest.Scale
	afterBound = time.Second * racetest.Scale
)

// attackerIP is the source address of the attacks.
var attackerIP = net.IPv4(127, 0, 0, 2)

// dialAttacker opens a TCP connection to addr from attackerIP.
func dialAttacker(addr string) (net.Conn, error) {
	return dialAttackerContext(context.Background(), addr)
}

// dialAttackerContext is dialAttacker with a context, as gRPC dials.
func dialAttackerContext(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: attackerIP}}
	return d.DialContext(ctx, "tcp", addr)
}

// timedGoodQuery sends a signed one-token query on a new connection and
// returns how long it took to be answered Success, or an error.
func timedGoodQuery(t *testing.T, addr string) (time.Duration, error) {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	req := textRequest(t, tokens(1, 1))
	ctx, cancel := context.WithTimeout(signed(t, newSigner(t, "good")), 30*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := wire.NewBittensorClient(conn).Forward(ctx, req)
	took := time.Since(start)
	if err == nil && resp.ReturnCode != wire.ReturnCode_Success {
		err = &CodeError{Code: resp.ReturnCode, Message: resp.Message}
	}
	return took, err
}

// goodQueriesDuring runs goodTries good queries, each once full reports
// the attack back at its height, and requires at least goodOf answered
// Success within goodBound.
func goodQueriesDuring(t *testing.T, addr string, full func() bool) {
	t.Helper()
	var fast int
	var took []time.Duration
	for range goodTries {
		require.Eventually(t, full, mustHappen, time.Millisecond, "the attack at its height")
		d, err := timedGoodQuery(t, addr)
		if err != nil {
			t.Logf("good query: %v after %v", err, d)
		} else if d <= goodBound {
			fast++
		}
		took = append(took, d)
	}
	t.Logf("good queries during the attack took %v", took)
	assert.GreaterOrEqual(t, fast, goodOf, "good queries answered Success within %v of %d", goodBound, goodTries)
}

// goodQueryAfter requires a good query answered Success within afterBound
// of the attack's end.
func goodQueryAfter(t *testing.T, addr string, end time.Time) {
	t.Helper()
	_, err := timedGoodQuery(t, addr)
	require.NoError(t, err)
	since := time.Since(end)
	t.Logf("good query answered %v after the attack", since)
	assert.LessOrEqual(t, since, afterBound, "a good query answered within %v of the attack's end", afterBound)
}

// idleAttack holds connections from attackerIP that send nothing, opening
// a new one, after a pause of about pause, for each the axon closes.
type idleAttack struct {
	addr      string
	handshake bool          // send HTTP/2's preface and settings, and answer pings
	pause     time.Duration // mean wait before reconnecting
	stop      chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	open      atomic.Int32 // connections whose handshake the axon answered
	opened    atomic.Int64
}

// start opens n connections, keeping them open until end.
func (a *idleAttack) start(n int) {
	a.stop, a.conns = make(chan struct{}), make(map[net.Conn]struct{})
	for range n {
		a.wg.Go(a.hold)
	}
}

// hold keeps one connection open, reconnecting when the axon closes it.
func (a *idleAttack) hold() {
	for {
		select {
		case <-a.stop:
			return
		default:
		}
		if c, err := dialAttacker(a.addr); err == nil && a.track(c) {
			a.opened.Add(1)
			a.idle(c)
			a.untrack(c)
		}
		select {
		case <-a.stop:
			return
		case <-time.After(a.pause/2 + rand.N(a.pause)): // not all at once
		}
	}
}

// idle sends c's handshake, if any, and reads what the axon sends, acking
// its settings and pings, until c closes.
func (a *idleAttack) idle(c net.Conn) {
	if !a.handshake {
		io.Copy(io.Discard, c)
		return
	}
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		return
	}
	fr := http2.NewFramer(c, c)
	if fr.WriteSettings() != nil {
		return
	}
	counted := false
	defer func() {
		if counted {
			a.open.Add(-1)
		}
	}()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
			if !counted {
				counted = true
				a.open.Add(1)
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		}
	}
}

// track records c; it returns false, closing c, once the attack ends.
func (a *idleAttack) track(c net.Conn) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-a.stop:
		c.Close()
		return false
	default:
	}
	a.conns[c] = struct{}{}
	return true
}

func (a *idleAttack) untrack(c net.Conn) {
	a.mu.Lock()
	delete(a.conns, c)
	a.mu.Unlock()
	c.Close()
}

// end closes every connection and waits for the attack to end; it may be
// called again.
func (a *idleAttack) end() {
	a.stopOnce.Do(func() {
		a.mu.Lock()
		close(a.stop)
		for c := range a.conns {
			c.Close()
		}
		a.mu.Unlock()
	})
	a.wg.Wait()
}

// TestIdleConnectionsDoNotLockOut fills the axon's MaxConnections (the
// default, 1024) with connections from one peer that finish the HTTP/2
// handshake, answer pings and send nothing more, reconnecting whenever one
// is closed after 50 ms; then opens 2,000 connections that never send the
// preface, reconnecting after 1 s, which keeps the axon closing silent
// connections to accept others.
// Good queries from another peer, each on a new connection, are answered
// at once: each closes one of the idle connections of the peer that holds
// the most. The live heap grows by the connections' buffers only, and
// comes back after.
func TestIdleConnectionsDoNotLockOut(t *testing.T) {
	for _, tt := range []struct {
		name      string
		handshake bool
		conns     int
		pause     time.Duration
	}{
		{"handshaken", true, DefaultMaxConnections, 50 * time.Millisecond},
		{"silent", false, 2000, time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, Config{}, zeros)
			_, err := timedGoodQuery(t, s.addr)
			require.NoError(t, err)
			base := heaptest.Live()

			a := &idleAttack{addr: s.addr, handshake: tt.handshake, pause: tt.pause}
			a.start(tt.conns)
			defer a.end()
			full := func() bool {
				_, held := s.axon.conns.Conns(attackerIP.String())
				if tt.handshake {
					return held == DefaultMaxConnections && a.open.Load() == DefaultMaxConnections
				}
				return held == DefaultMaxConnections && a.opened.Load() >= int64(tt.conns)
			}
			require.Eventually(t, full, mustHappen, 10*time.Millisecond, "the attacker holds every connection")
			during := heaptest.Live() - base
			t.Logf("live heap with %d idle connections: %+d bytes", DefaultMaxConnections, during)
			assert.Less(t, during, int64(DefaultMaxConnections*perConnHeap), "the heap grows by the connections' buffers only")

			goodQueriesDuring(t, s.addr, full)
			t.Logf("idle connections closed to make room: %d", s.axon.conns.Evicted())
			a.end()
			goodQueryAfter(t, s.addr, time.Now())
			heaptest.Returns(t, base)
		})
	}
}

// perConnHeap bounds the live heap the axon holds per idle connection:
// gRPC's buffers and framer, about 40 KiB.
const perConnHeap = 64 << 10

// TestUnreadAnswersDoNotStarve has one connection from one peer ask for a
// large answer every 200 ms and never read (SETTINGS_INITIAL_WINDOW_SIZE
// 0), as [1, 16000] answers asked every 2 s would, scaled down to 4 MiB
// answers and a 20 MiB budget. The peer holds at most its share of the
// budget, three answers, and its next large call waits; good queries of
// one token from another peer are answered at once beside it, rather than
// waiting behind that call.
func TestUnreadAnswersDoNotStarve(t *testing.T) {
	const (
		batch, seq = 4, 256
		answer     = batch*seq*wire.NetworkDim*4 + answerOverhead
		perPeer    = 3 * answer
	)
	s := serve(t, Config{MaxMessageSize: 5 << 20}, shareZeros(batch, seq))
	require.Equal(t, int64(20<<20), s.axon.cfg.MaxAnswerBytes)
	_, err := timedGoodQuery(t, s.addr)
	require.NoError(t, err)
	base := heaptest.Live()

	attacker := dialH2From(t, attackerIP, s.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	kv, err := newSigner(t, "attacker").Pairs(time.Now().UnixMilli(), wire.RequestType_FORWARD)
	require.NoError(t, err)
	req := request(t, batch, seq)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			attacker.send(attacker.call(kv...), req, 0)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	held := func() int64 { return s.axon.budget.Held(attackerIP.String()) }
	full := func() bool { return held() == perPeer && s.axon.waiting.Load() >= 1 }
	require.Eventually(t, full, mustHappen, poll, "the attacker holds its share, and its next large call waits")
	during := heaptest.Live() - base
	t.Logf("live heap with %d unread answers of %d bytes: %+d bytes", perPeer/answer, answer, during)
	assert.Less(t, during, int64(perPeer+8<<20), "the axon holds the peer's share of answers, not every answer asked for")

	goodQueriesDuring(t, s.addr, full)
	assert.Equal(t, int64(perPeer), held(), "the attacker never held more than its share")
	close(stop)
	<-done
	attacker.conn.Close()
	goodQueryAfter(t, s.addr, time.Now())
	require.Eventually(t, func() bool { return s.axon.budget.Used() == 0 }, mustHappen, poll, "the attacker's answers are released")
	heaptest.Returns(t, base)
}

// TestCallsSharedAmongPeers serves one slot and a queue of five, whose
// handler is held: beside one call of another peer, a peer may have its
// share admitted, Workers + QueueSize/2 rounded up = 4, and its next call
// answers NucleusFull at once, while the other peer still gets its next
// call admitted. (A peer alone may have every call admitted:
// TestNucleusFull and TestQueueBoundedUnderLoad.)
func TestCallsSharedAmongPeers(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		<-release
		return zeros(ctx, in)
	}
	s := serve(t, Config{Workers: 1, QueueSize: 5}, fwd)
	// Registered after serve, so it runs first: a failed test does not
	// leave the handlers, and the axon's stop, waiting.
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	require.Equal(t, 4, s.axon.cfg.MaxCallsPerPeer)
	conn, err := grpc.NewClient("passthrough:///"+s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(dialAttackerContext))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	good, hog := client(t, s.addr), wire.NewBittensorClient(conn)
	signer := newSigner(t, "client")
	results := make(chan wire.ReturnCode, 6)
	call := func(c wire.BittensorClient) {
		ctx, req := signed(t, signer), textRequest(t, tokens(1, 1))
		go func() {
			resp, err := c.Forward(ctx, req)
			if err != nil {
				results <- wire.ReturnCode_NoReturn
				return
			}
			results <- resp.ReturnCode
		}()
	}
	admitted := func(peer string, n int64) func() bool {
		return func() bool { return s.axon.calls.Held(peer) == n }
	}

	call(good)
	require.Eventually(t, admitted("127.0.0.1", 1), mustHappen, poll)
	// One call after another: the calls share a signer, whose nonces must
	// arrive in order.
	for i := range int64(4) {
		call(hog)
		require.Eventually(t, admitted(attackerIP.String(), i+1), mustHappen, poll)
	}
	resp, err := hog.Forward(signed(t, signer), textRequest(t, tokens(1, 1)))
	require.NoError(t, err)
	assert.Equal(t, wire.ReturnCode_NucleusFull, resp.ReturnCode)
	assert.Equal(t, "4 calls of 127.0.0.2 admitted, its share beside other callers (MaxCallsPerPeer)", resp.Message)
	call(good)
	require.Eventually(t, admitted("127.0.0.1", 2), mustHappen, poll, "the other peer's call is admitted")

	once.Do(func() { close(release) })
	for range 6 {
		assert.Equal(t, wire.ReturnCode_Success, <-results)
	}
}

// TestSilentConnectionClosedWhenIdle opens a connection that finishes the
// HTTP/2 handshake and never makes a call: it is closed once IdleTimeout
// passes, as a connection whose calls have ended is.
func TestSilentConnectionClosedWhenIdle(t *testing.T) {
	s := serve(t, Config{IdleTimeout: 300 * time.Millisecond}, zeros)
	c := dialH2(t, s.addr)
	c.waitClosed()
	require.Eventually(t, func() bool { all, _ := s.axon.conns.Conns(""); return all == 0 }, mustHappen, poll,
		"the axon no longer counts it")
}
