package httpaxon

import (
	"context"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/heaptest"
	"github.com/minerbench/minerbench/minerbench/internal/synapse"
)

// Big asks for an answer of Size bytes.
type Big struct {
	Size int    `json:"size" synapse:"required"`
	Data string `json:"data"`
}

// bigData is the answers' shared text, so that the only answer bytes
// allocated per call are the axon's.
var bigData = strings.Repeat("x", 8<<20)

func big(_ context.Context, s *Big) error {
	s.Data = bigData[:min(max(s.Size, 0), len(bigData))]
	return nil
}

// dialUnread connects from the attacker's address with a receive buffer of
// 4 KiB, so that an answer it does not read stays with the axon.
func dialUnread(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: attacker, Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestUnreadAnswersDoNotStarve has one peer ask, on eight connections, for
// answers of 8 MiB that it never reads. The peer holds at most its share:
// its part of the answer budget (one answer here) and half the workers
// waiting for more, its further answers being refused; so the axon holds
// three of its answers (one being written, two waiting) and not eight, and
// a small query from another peer is answered at once. WriteTimeout then
// cuts the unread answers off and frees the budget.
func TestUnreadAnswersDoNotStarve(t *testing.T) {
	const (
		conns  = 8
		answer = 8 << 20
	)
	s := serve(t, Config{
		Workers: 4, QueueSize: 64, MaxAnswerBytes: answer + 4<<10, AnswerBudget: 2*answer + 8<<10,
		WriteTimeout: time.Second,
		Synapses:     []Synapse{must(Handle(dummy)), must(Handle(big))},
	})
	base := heaptest.Live()
	c := newClient("hoarder")
	var attackers []net.Conn
	for range conns {
		conn := dialUnread(t, s.addr)
		h, body := c.build(t, s, req{name: "Big", fields: map[string]any{"size": answer}, inputs: map[string]synapse.Kind{"size": synapse.KindInt}})
		_, err := conn.Write(append(head("/Big", len(body), h), body...))
		require.NoError(t, err)
		attackers = append(attackers, conn)
	}
	ad := s.axon.admission
	require.Eventually(t, func() bool {
		return ad.answerWaits.Used() == 2 && ad.calls.Held(attacker.IP.String()) == 3
	}, mustHappen, poll, "an answer is being written, two wait for the budget, holding the peer's two workers, and the peer's other calls were refused")
	during := heaptest.Live() - base
	t.Logf("live heap with %d unread answers of %d bytes asked for: %+d bytes", conns, answer, during)
	// Three answers, and slack; without the shares, all eight.
	assert.Less(t, during, int64(9*answer/2), "the axon holds the peer's share of answers, not every answer asked for")

	fastAnswers(t, s)
	require.Eventually(t, func() bool { return ad.answerWaits.Used() == 0 && ad.answers.Used() == 0 }, mustHappen, poll,
		"WriteTimeout cuts off the answers nobody reads, one after another, and the budget is free again")
	for _, conn := range attackers {
		conn.Close()
	}
	heaptest.Returns(t, base)
}
