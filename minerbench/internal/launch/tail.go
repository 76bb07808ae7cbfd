package launch

import (
	"bytes"
	"strings"
	"sync"
)

// lineTail is an io.Writer that keeps the last n complete lines written to it.
type lineTail struct {
	mu      sync.Mutex
	n       int
	lines   []string
	partial []byte
}

func newLineTail(n int) *lineTail { return &lineTail{n: n} }

// Write implements io.Writer.
func (t *lineTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, string(t.partial[:i]))
		t.partial = t.partial[i+1:]
		if len(t.lines) > t.n {
			t.lines = t.lines[len(t.lines)-t.n:]
		}
	}
	t.partial = bytes.Clone(t.partial)
	return len(p), nil
}

// String returns the kept lines, each indented, and any unfinished last line.
func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if len(t.partial) > 0 {
		lines = append(lines[:len(lines):len(lines)], string(t.partial))
	}
	if len(lines) == 0 {
		return ""
	}
	return "    " + strings.Join(lines, "\n    ")
}
