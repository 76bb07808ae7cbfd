package synapse

import (
	"encoding/base64"
	"math"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPyInt holds parsePyInt to what Python's int() accepts.
func TestPyInt(t *testing.T) {
	for s, want := range map[string]int64{"12": 12, " 12 ": 12, "+12": 12, "-12": -12, "1_000": 1000, "007": 7,
		"\t5\n": 5, "\xa05\x85": 5, "\v\f9\r": 9, "-9223372036854775808": math.MinInt64} {
		got, err := parsePyInt(s)
		require.NoError(t, err, "%q", s)
		assert.Equal(t, want, got, "%q", s)
	}
	for _, s := range []string{"12.5", "", " ", "1e3", "0x10", "1__0", "_1", "1_", "--1", "+-1", "1 2", "١", "12.0", "None", "\x1c9\x1f"} {
		_, err := parsePyInt(s)
		assert.ErrorIs(t, err, errPyInt, "%q", s)
	}
	_, err := parsePyInt("9223372036854775808")
	assert.ErrorIs(t, err, errRange)
}

// TestPyFloat holds parsePyFloat to what Python's float() accepts.
func TestPyFloat(t *testing.T) {
	for s, want := range map[string]float64{"12.0": 12, "12": 12, ".5": 0.5, "5.": 5, "1e5": 1e5, "1_0.5": 10.5,
		"1E-2": 0.01, " 1.5 ": 1.5, "-2.5e+3": -2500, "1e400": math.Inf(1), "inf": math.Inf(1), "-Infinity": math.Inf(-1),
		"+INF": math.Inf(1), "1e1_0": 1e10} {
		got, err := parsePyFloat(s)
		require.NoError(t, err, "%q", s)
		assert.Equal(t, want, got, "%q", s)
	}
	got, err := parsePyFloat(" NaN ")
	require.NoError(t, err)
	assert.True(t, math.IsNaN(got))
	for _, s := range []string{"", ".", "e5", "1e", "abc", "1.5.5", "0x1p3", "infinit", "1__0", "1_.5", "1._5", "None", "1e+", "++1"} {
		_, err := parsePyFloat(s)
		assert.ErrorIs(t, err, errPyFloat, "%q", s)
	}
}

// TestInputObj: the values are base64 of Python's json.dumps of an empty
// value of each type.
func TestInputObj(t *testing.T) {
	for k, dumped := range map[Kind]string{KindStr: `""`, KindInt: `0`, KindFloat: `0.0`, KindBool: `false`, KindList: `[]`, KindDict: `{}`} {
		assert.Equal(t, base64.StdEncoding.EncodeToString([]byte(dumped)), k.InputObj(), k.String())
		got, err := KindOf([]byte(dumped))
		require.NoError(t, err)
		assert.Equal(t, k, got, dumped)
	}
	for v, want := range map[string]Kind{`"x"`: KindStr, `-3`: KindInt, `1e5`: KindFloat, `NaN`: KindFloat, `-Infinity`: KindFloat, `true`: KindBool} {
		got, err := KindOf([]byte(v))
		require.NoError(t, err)
		assert.Equal(t, want, got, v)
	}
	_, err := KindOf([]byte("null"))
	assert.Error(t, err)
}

func withHeader(name, value string) http.Header {
	h := serverHeader(goldenHeaders)
	h.Set(name, value)
	return h
}

// TestParseRequestRefuses: what a Python axon answers with 500.
func TestParseRequestRefuses(t *testing.T) {
	for _, c := range []struct{ name, value, header string }{
		{"timeout", "abc", "timeout"},
		{"bt_header_axon_port", "8091.0", "bt_header_axon_port"},
		{"bt_header_dendrite_nonce", "1e18", "bt_header_dendrite_nonce"},
		{"bt_header_dendrite_version", "", "bt_header_dendrite_version"},
		{"header_size", "12.5", "header_size"},
		{"total_size", "x", "total_size"},
		{"bt_header_axon_process_time", "soon", "bt_header_axon_process_time"},
		{"x-bt_header_axon_port", "abc", "x-bt_header_axon_port"}, // Python finds the prefix anywhere in the name
		{"bt_header_input_obj_text", "MA==", "bt_header_input_obj_text"},
	} {
		_, err := ParseRequest(withHeader(c.name, c.value), echoFields)
		var perr *ParseError
		require.ErrorAs(t, err, &perr, "%s: %s", c.name, c.value)
		assert.Equal(t, c.header, perr.Header)
		assert.Equal(t, c.value, perr.Value)
	}

	// A missing or undecodable input object of a required field.
	for _, h := range []http.Header{withHeader("bt_header_input_obj_text", "not base64!"), withHeader("bt_header_input_obj_text", "e30")} {
		_, err := ParseRequest(h, echoFields)
		assert.EqualError(t, err, `synapse: header bt_header_input_obj_text: "" is missing; want the base64 JSON of a str for the required field text`)
	}
	h := serverHeader(goldenHeaders)
	h.Del("bt_header_input_obj_text")
	_, err := ParseRequest(h, echoFields)
	assert.Error(t, err)

	// A capitalized field never matches a lowercased header name.
	_, err = ParseRequest(serverHeader(goldenHeaders), []Field{{Name: "Text", Kind: KindStr, Required: true}})
	assert.Error(t, err)
}

// TestParseRequestAccepts: what a Python axon lets through.
func TestParseRequestAccepts(t *testing.T) {
	fields := append([]Field{{Name: "n", Kind: KindInt}, {Name: "f", Kind: KindFloat, Required: true}}, echoFields...)
	h := serverHeader(goldenHeaders)
	h.Set("bt_header_input_obj_n", "bm90IGpzb24=") // optional, "not json": ignored
	h.Set("bt_header_input_obj_f", "MA==")         // an int for a float
	h.Set("bt_header_input_obj_unknown", "MA==")
	h.Set("bt_header_dendrite_whatever", "x")
	h.Set("bt_header_axon_port", " +8_091 ")
	h.Del("timeout")
	r, err := ParseRequest(h, fields)
	require.NoError(t, err)
	assert.False(t, r.Timeout.OK)

	ints := []Field{{Name: "i", Kind: KindInt, Required: true}}
	for obj, ok := range map[string]bool{"1.0": true, "0": true, "1.5": false, "1e400": false, "NaN": false, `"1"`: false, "[]": false} {
		h := http.Header{"Bt_header_input_obj_i": {base64.StdEncoding.EncodeToString([]byte(obj))}}
		_, err := ParseRequest(h, ints)
		assert.Equal(t, ok, err == nil, "%s: %v", obj, err)
	}
	assert.Equal(t, Some[int64](8091), r.Axon.Port)
}
