package load

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// The codes of the fake protocol.
const (
	codeOK       = 200
	codeRefused  = 503
	codeTimeout  = 408
	codeCanceled = 499
)

// fakeClient answers each query as answer says, given the query's number
// among all the client's calls (from 1) and its seq; it measures the
// latency itself. One fakeClient may serve every worker.
type fakeClient struct {
	calls  atomic.Int64
	answer func(ctx context.Context, n int64, seq int) Outcome
}

func (c *fakeClient) Query(ctx context.Context, seq int) Outcome {
	start := time.Now()
	o := c.answer(ctx, c.calls.Add(1), seq)
	o.Latency = time.Since(start)
	return o
}

func (c *fakeClient) TimeoutCode() int32 { return codeTimeout }

// clients returns conc workers' clients, all c.
func (c *fakeClient) clients(conc int) []Client {
	out := make([]Client, conc)
	for i := range out {
		out[i] = c
	}
	return out
}

// ok is a successful answer.
func ok() Outcome { return Outcome{Code: codeOK, OK: true} }

// okAfter answers successfully after d.
func okAfter(d time.Duration) Outcome {
	time.Sleep(d)
	return ok()
}

// hang answers only when ctx ends: Timeout when its timeout cut it.
func hang(ctx context.Context) Outcome {
	<-ctx.Done()
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return Outcome{Code: codeTimeout}
	}
	return Outcome{Code: codeCanceled}
}

// counter hands out n queries; gone, when set, says which outcomes show
// the server gone.
type counter struct {
	n    atomic.Int64
	gone func(Outcome) bool
}

func newCounter(n int64) *counter {
	c := &counter{}
	c.n.Store(n)
	return c
}

func (c *counter) Next() bool { return c.n.Add(-1) >= 0 }

func (c *counter) Gone(o Outcome) bool { return c.gone != nil && c.gone(o) }

// memSink keeps the records it is given, and the size of each write; fail,
// when set, makes every write fail; wrote, when set, is told of each
// write.
type memSink struct {
	mu     sync.Mutex
	recs   []Record
	writes []int
	fail   error
	wrote  chan<- int
}

func (s *memSink) Write(recs []Record) error {
	if s.fail != nil {
		return s.fail
	}
	s.mu.Lock()
	s.recs = append(s.recs, recs...)
	s.writes = append(s.writes, len(recs))
	s.mu.Unlock()
	if s.wrote != nil {
		s.wrote <- len(recs)
	}
	return nil
}

// records returns a copy of the records written so far.
func (s *memSink) records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.recs...)
}
