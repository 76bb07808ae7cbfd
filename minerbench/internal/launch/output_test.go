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
	out := newOutput(3, &log)
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
