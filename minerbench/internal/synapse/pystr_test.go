package synapse

import (
	"crypto/sha3"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPyStr holds AppendPyStr to Python's str(json.loads(src)), the
// expected values printed by CPython 3.
func TestPyStr(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"\"hello\"", "hello"},
		{"\"\"", ""},
		{"\"it's\"", "it's"},
		{"42", "42"},
		{"-0", "0"},
		{"123456789012345678901234567890", "123456789012345678901234567890"},
		{"1.0", "1.0"},
		{"1", "1"},
		{"0.00001", "1e-05"},
		{"0.0001", "0.0001"},
		{"1e16", "1e+16"},
		{"1E15", "1000000000000000.0"},
		{"1e-05", "1e-05"},
		{"0.0", "0.0"},
		{"-0.0", "-0.0"},
		{"1.5e300", "1.5e+300"},
		{"1e400", "inf"},
		{"-1e400", "-inf"},
		{"NaN", "nan"},
		{"Infinity", "inf"},
		{"-Infinity", "-inf"},
		{"true", "True"},
		{"false", "False"},
		{"null", "None"},
		{"[1, \"a\", null, true, 1.0]", "[1, 'a', None, True, 1.0]"},
		{"{\"k\": \"v\", \"n\": 1}", "{'k': 'v', 'n': 1}"},
		{"[]", "[]"},
		{"{}", "{}"},
		{"[\"it's\"]", "[\"it's\"]"},
		{"[\"say \\\"hi\\\"\"]", "['say \"hi\"']"},
		{"[\"it's \\\"x\\\"\"]", "['it\\'s \"x\"']"},
		{"[\"tab\\there\"]", "['tab\\there']"},
		{"[\"\\u00e9\\u0000\\u007f\\u0085\\u00a0\\u00ad\"]", "['\xc3\xa9\\x00\\x7f\\x85\\xa0\\xad']"},
		{"[\"\\ud83d\\ude00\", \"\\ud800\"]", "['\xf0\x9f\x98\x80', '\\ud800']"},
		{"{\"a\": 1, \"b\": 2, \"a\": 3}", "{'a': 3, 'b': 2}"},
		{"{\"nested\": {\"x\": [1.5, {\"y\": null}]}}", "{'nested': {'x': [1.5, {'y': None}]}}"},
		{"0.1", "0.1"},
		{"123456.789", "123456.789"},
		{"1e22", "1e+22"},
		{"5e-324", "5e-324"},
		{"2.5e-5", "2.5e-05"},
		{"  7  ", "7"},
		{"\"\\\\back\"", "\\back"},
		{"[\"\\\\\"]", "['\\\\']"},
		{"\"\\u00e9t\\u00e9\"", "\xc3\xa9t\xc3\xa9"},
		{"[1,2 , 3]", "[1, 2, 3]"},
		{"{\"big\": 1000000000000000000000.0}", "{'big': 1e+21}"},
		{"12345678901234567.0", "1.2345678901234568e+16"},
		{"0.000123", "0.000123"},
	} {
		got, err := AppendPyStr(nil, []byte(c.src))
		require.NoError(t, err, c.src)
		assert.Equal(t, c.want, string(got), c.src)
	}
}

// TestPyStrRefuses holds AppendPyStr to refuse what json.loads refuses,
// and a raw string Python cannot encode to UTF-8.
func TestPyStrRefuses(t *testing.T) {
	for _, src := range []string{"", "[1,]", "{\"a\" 1}", "01", "1.", ".5", "+1", "\"a\tb\"", "\"\\x\"", "[1] 2",
		"\"\\ud800\"", "\"\xff\"", "tru", "{1: 2}", "-", "\"abc", "[", "nan", "\"\\u12\""} {
		_, err := AppendPyStr(nil, []byte(src))
		var jerr *JSONError
		assert.ErrorAs(t, err, &jerr, "%q", src)
	}
}

func TestPyStrDepth(t *testing.T) {
	deep := make([]byte, 0, 2*maxDepth+2)
	for range maxDepth {
		deep = append(deep, '[')
	}
	for range maxDepth {
		deep = append(deep, ']')
	}
	_, err := AppendPyStr(nil, deep)
	require.NoError(t, err)
	_, err = AppendPyStr(nil, append(append([]byte{'['}, deep...), ']'))
	assert.ErrorContains(t, err, "nesting deeper than 1000")
}

// TestPyStrManyDuplicateKeys covers the map path of duplicate keys.
func TestPyStrManyDuplicateKeys(t *testing.T) {
	var src, want strings.Builder
	src.WriteString("{")
	want.WriteString("{")
	for i := range 40 {
		if i > 0 {
			src.WriteString(",")
			want.WriteString(", ")
		}
		fmt.Fprintf(&src, `"k%d":1`, i)
		fmt.Fprintf(&want, `'k%d': 2`, i)
	}
	for i := range 40 {
		fmt.Fprintf(&src, `,"k%d":2`, i)
	}
	src.WriteString("}")
	want.WriteString("}")
	got, err := AppendPyStr(nil, []byte(src.String()))
	require.NoError(t, err)
	assert.Equal(t, want.String(), string(got))
}

func TestPyQuote(t *testing.T) {
	assert.Equal(t, `'Synapse'`, string(AppendPyQuote(nil, "Synapse")))
	assert.Equal(t, `"it's"`, string(AppendPyQuote(nil, "it's")))
	assert.Equal(t, `'it\'s "x"'`, string(AppendPyQuote(nil, `it's "x"`)))
}

func TestFieldsHash(t *testing.T) {
	h := sha3.Sum256([]byte("hello"))
	assert.Equal(t, "3338be694f50c5f338814986cdf0686453a888b84f424d792af4b9202398f392", hex.EncodeToString(h[:]))
	assert.Equal(t, golden.bodyHash, string(AppendFieldsHash(nil, []byte("hello"))))
	assert.Equal(t, EmptyBodyHash, string(AppendFieldsHash(nil)))
}
