package launch

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// output collects everything a miner writes, from each of its streams, as
// whole lines: it keeps the last n for error messages and copies each to
// log until detached.
type output struct {
	mu    sync.Mutex
	n     int
	lines []string
	log   io.Writer
}

func newOutput(n int, log io.Writer) *output { return &output{n: n, log: log} }

// line takes one whole line, without its newline.
func (o *output) line(l []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lines = append(o.lines, string(l))
	if len(o.lines) > o.n {
		o.lines = o.lines[len(o.lines)-o.n:]
	}
	if o.log != nil {
		_, _ = o.log.Write(append(l[:len(l):len(l)], '\n'))
	}
}

// detach stops the copies to log; nothing is written to it once it returns.
func (o *output) detach() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.log = nil
}

// String returns the kept lines, each indented.
func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.lines) == 0 {
		return ""
	}
	return "    " + strings.Join(o.lines, "\n    ")
}

// stream is an io.Writer of one of a miner's streams: it hands each whole
// line written to it to its output, so that lines of different streams do
// not interleave.
type stream struct {
	out     *output
	mu      sync.Mutex
	partial []byte
}

// Write implements io.Writer.
func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	rest := s.partial
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		s.out.line(rest[:i])
		rest = rest[i+1:]
	}
	s.partial = append(s.partial[:0], rest...)
	return len(p), nil
}

// flush hands an unfinished last line to the output.
func (s *stream) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.out.line(s.partial)
		s.partial = s.partial[:0]
	}
}
