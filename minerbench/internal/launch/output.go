package launch

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// output collects everything a miner writes, as whole lines.
//
// Lines come from each of the miner's streams. output keeps the last n for
// error messages. It copies each line to log until detached, up to limit
// bytes when limit is positive.
type output struct {
	mu    sync.Mutex
	n     int
	lines []string
	log   io.Writer

	limit   int64
	written int64 // bytes of lines written to log
	dropped int   // lines dropped past limit
	lost    int64 // their bytes
}

func newOutput(n int, log io.Writer, limit int64) *output {
	return &output{n: n, log: log, limit: limit}
}

// line takes one whole line, without its newline.
func (o *output) line(l []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lines = append(o.lines, string(l))
	if len(o.lines) > o.n {
		o.lines = o.lines[len(o.lines)-o.n:]
	}
	if o.log == nil {
		return
	}
	size := int64(len(l)) + 1
	if o.limit > 0 && (o.dropped > 0 || o.written+size > o.limit) {
		if o.dropped == 0 {
			fmt.Fprintf(o.log, "=== minerbench: the miner's log reached its limit of %d bytes (-mb.log-limit): its further lines are dropped\n", o.limit)
		}
		o.dropped++
		o.lost += size
		return
	}
	o.written += size
	_, _ = o.log.Write(append(l[:len(l):len(l)], '\n'))
}

// detach stops the copies to log.
//
// When lines were dropped, it first writes how many and the last of them.
// Nothing is written to log once detach returns.
func (o *output) detach() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.log != nil && o.dropped > 0 {
		last := o.lines[len(o.lines)-min(o.dropped, len(o.lines)):]
		fmt.Fprintf(o.log, "=== minerbench: dropped %d lines (%d bytes) of the miner's log past its limit; the last %d of them:\n", o.dropped, o.lost, len(last))
		for _, l := range last {
			fmt.Fprintln(o.log, l)
		}
	}
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

// stream is an io.Writer of one of a miner's streams.
// It hands each whole line to its output, so that lines of different
// streams do not interleave.
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
