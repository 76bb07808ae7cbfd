package synapse

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// FuzzParseRequest: any headers parse or fail with a *ParseError, never
// panic; an int that parses reads back the same from its decimal form.
func FuzzParseRequest(f *testing.F) {
	var all []string
	for _, kv := range goldenHeaders {
		all = append(all, kv[0]+": "+kv[1])
	}
	f.Add(strings.Join(all, "\n"))
	f.Add("bt_header_dendrite_nonce: 1_000\ntimeout: inf\nbt_header_input_obj_text: IiI=")
	f.Add("x-bt_header_axon_bt_header_axon_port: 7\nbt_header_input_obj_: e30=")
	f.Fuzz(func(t *testing.T, text string) {
		h := map[string][]string{}
		for line := range strings.SplitSeq(text, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			h[k] = append(h[k], v)
		}
		r, err := ParseRequest(h, echoFields)
		if err != nil {
			var perr *ParseError
			require.ErrorAs(t, err, &perr)
			return
		}
		if r.Dendrite.Nonce.OK {
			back, err := parsePyInt(strconv.FormatInt(r.Dendrite.Nonce.V, 10))
			require.NoError(t, err)
			require.Equal(t, r.Dendrite.Nonce.V, back)
		}
		v := NewVerifier(golden.bob, NewNonces(4))
		_ = v.Verify(&r, golden.nonce)
	})
}

// FuzzBodyHash: any bytes hash or fail with an error, never panic; what
// Go's encoding/json finds valid (in UTF-8, not nested too deep) has a
// repr; a JSON string's str() is the string itself.
func FuzzBodyHash(f *testing.F) {
	f.Add([]byte(golden.body))
	f.Add([]byte(`{"text": [1, 2.5, "it's", {"a": null, "a": true}], "n": 1e400}`))
	f.Add([]byte(`"\ud83d\ude00\ud800"`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = AppendBodyHash(nil, body, []string{"text", "n"})
		str, strErr := AppendPyStr(nil, body)
		_, reprErr := appendPyRepr(nil, body)
		if trimmed := bytes.TrimLeft(body, " \t\n\r"); len(trimmed) > 0 && trimmed[0] == '{' {
			// Finding fields checks the object as converting it does.
			_, err := FieldValues(nil, body, []string{"text"})
			require.Equal(t, reprErr == nil, err == nil, "%q: repr %v, fields %v", body, reprErr, err)
		}
		if json.Valid(body) && utf8.Valid(body) && depth(body) <= maxDepth {
			require.NoError(t, reprErr, "%q", body)
		}
		var v any
		if json.Unmarshal(body, &v) != nil {
			v = nil
		}
		s, isStr := v.(string)
		if strErr == nil && isStr && !strings.ContainsRune(s, utf8.RuneError) {
			require.Equal(t, s, string(str))
		}
	})
}

// FuzzPyFloat: Python's repr of a float reads back as the same float.
func FuzzPyFloat(f *testing.F) {
	for _, x := range []float64{0, 1, 1e16, 1e-5, 0.1, math.MaxFloat64, math.SmallestNonzeroFloat64, -2.5e-300} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		s := string(AppendPyFloat(nil, x))
		back, err := parsePyFloat(s)
		require.NoError(t, err, s)
		if math.IsNaN(x) {
			require.True(t, math.IsNaN(back))
			return
		}
		require.Equal(t, math.Float64bits(x), math.Float64bits(back), s)
	})
}

// depth returns the deepest nesting of brackets outside strings.
func depth(b []byte) int {
	d, most, inStr := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '[' || c == '{'):
			d++
			most = max(most, d)
		case !inStr && (c == ']' || c == '}'):
			d--
		}
	}
	return most
}
