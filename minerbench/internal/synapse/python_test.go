package synapse

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/pythontest"
)

// pyCheckScript reads lines of "kind hex" and prints Python's answer
// for each: int() and float() of a header value read as Latin-1, repr()
// of a float given by its bits, str() of json.loads of a JSON text.
const pyCheckScript = `
import json, struct, sys
def call(f, s):
    try:
        return f(s)
    except ValueError:
        return "ERR"
for line in sys.stdin:
    kind, h = line.split()
    b = bytes.fromhex(h)
    if kind == "num":
        s = b.decode("latin-1")
        i = call(int, s)
        f = call(float, s)
        print(i if i == "ERR" else str(i), f if f == "ERR" else repr(f))
    elif kind == "float":
        print(repr(struct.unpack(">d", b)[0]))
    else:
        print(str(json.loads(b.decode("utf-8"))).encode("utf-8").hex())
`

// TestAgainstPython holds the Python emulations to Python itself, where
// one is installed: int() and float() of random header values, repr() of
// random floats, str() of JSON values (in hex).
func TestAgainstPython(t *testing.T) {
	python := pythontest.Find(t, "json", "python3")
	r := rand.New(rand.NewPCG(3, 4))
	var in bytes.Buffer
	var want []string // the Go side of each line
	alphabet := []byte(" \t\v\f+-_0123456789.eEinfatyINF\xa0\x85\x1c")
	for range 3000 {
		b := make([]byte, 1+r.IntN(8))
		for j := range b {
			b[j] = alphabet[r.IntN(len(alphabet))]
		}
		in.WriteString("num " + hex.EncodeToString(b) + "\n")
		i, ierr := parsePyInt(string(b))
		f, ferr := parsePyFloat(string(b))
		is, fs := "ERR", "ERR"
		if ierr == nil {
			is = strconv.FormatInt(i, 10)
		}
		if ferr == nil {
			fs = string(AppendPyFloat(nil, f))
		}
		want = append(want, is+" "+fs)
	}
	for k := range 3000 {
		x := math.Float64frombits(r.Uint64())
		if k%2 == 0 {
			x = r.NormFloat64() * math.Pow(10, float64(r.IntN(44)-22))
		}
		in.WriteString(fmt.Sprintf("float %016x\n", math.Float64bits(x)))
		want = append(want, string(AppendPyFloat(nil, x)))
	}
	for _, src := range []string{`"a'b\"c\\d\te\u0001\u00e9\u2028\ud83d\ude00"`, `["x'", "y\"", "z'\""]`, `{"k": [1, 2.5e-7, -0.0, 1e22, NaN], "k2": {"\u00ff": false}}`,
		`[1e400, -Infinity, 123456789012345678901234567890, -0]`, `{"a": 1, "b": 2, "a": {"c": null}}`} {
		in.WriteString("json " + hex.EncodeToString([]byte(src)) + "\n")
		got, err := AppendPyStr(nil, []byte(src))
		require.NoError(t, err, src)
		want = append(want, hex.EncodeToString(got))
	}
	cmd := exec.Command(python, "-c", pyCheckScript)
	cmd.Stdin = &in
	out, err := cmd.Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Len(t, lines, len(want))
	for k, line := range lines {
		assert.Equal(t, line, want[k], "line %d", k)
	}
}
