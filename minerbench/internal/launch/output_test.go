package launch

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestOutputLines writes pieces of lines to two streams, interleaved, and
// checks that the log receives whole lines, the tail keeps the last ones,
// an unfinished line is taken by flush, and nothing reaches the log once
// detached.
func TestOutputLines(t *testing.T) {
	var log bytes.Buffer
	out := newOutput(3, &log, 0)
	a, b := &stream{out: out}, &stream{out: out}
	for _, w := range []struct {
		s    *stream
		text string
	}{
		{a, "a1 st"}, {b, "b1 "}, {a, "art\na2"}, {b, "whole\n"}, {b, "\n"}, {a, " end\na3 partial"},
	} {
		n, err := w.s.Write([]byte(w.text))
		assert.NoError(t, err)
		assert.Equal(t, len(w.text), n)
	}
	assert.Equal(t, "a1 start\nb1 whole\n\na2 end\n", log.String())
	assert.Equal(t, "    b1 whole\n    \n    a2 end", out.String(), "the last 3 lines")

	a.flush()
	b.flush()
	assert.Equal(t, "a1 start\nb1 whole\n\na2 end\na3 partial\n", log.String(), "flush takes the unfinished line")
	out.detach()
	_, _ = a.Write([]byte("late\n"))
	assert.NotContains(t, log.String(), "late", "written after detach")
	assert.Equal(t, "    a2 end\n    a3 partial\n    late", out.String(), "the tail still keeps lines")
}

// TestOutputLimit writes more than the limit: the log keeps the lines that
// fit, a marker where the first was dropped, and, once detached, how many
// were dropped and the last of them.
func TestOutputLimit(t *testing.T) {
	var log bytes.Buffer
	out := newOutput(2, &log, 14)
	s := &stream{out: out}
	_, _ = s.Write([]byte("line 1\nline 2\nline 3\nlonger line 4\n"))
	_, _ = s.Write([]byte("5\n")) // would fit, but comes after a dropped line
	out.detach()
	assert.Equal(t, "line 1\nline 2\n"+
		"=== minerbench: the miner's log reached its limit of 14 bytes (-mb.log-limit): its further lines are dropped\n"+
		"=== minerbench: dropped 3 lines (23 bytes) of the miner's log past its limit; the last 2 of them:\n"+
		"longer line 4\n5\n", log.String())
}
