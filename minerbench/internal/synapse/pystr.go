package synapse

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of JSON arrays and objects, as Python's
// recursion limit bounds json.loads.
const maxDepth = 1000

// dupScanLimit is the number of keys of one object below which duplicate
// keys are found by a linear scan; larger objects use a map.
const dupScanLimit = 32

// AppendPyStr appends Python's str() of the JSON value src, as a receiver
// that parses src with json.loads sees it: a string raw, anything else as
// its repr(). It is what the body hash hashes for one field.
//
// A JSON number is an int when written without a fraction or an exponent
// and a float otherwise, as json.loads decides; a float field whose value
// is written 1 therefore hashes as "1" here but as "1.0" in a pydantic
// model, so write float values with a point.
func AppendPyStr(dst, src []byte) ([]byte, error) {
	p := newParser(src, dst)
	defer p.release()
	p.skipSpace()
	if p.i < len(p.src) && p.src[p.i] == '"' {
		if err := p.str(false); err != nil {
			return dst, err
		}
	} else if err := p.value(0); err != nil {
		return dst, err
	}
	if err := p.end(); err != nil {
		return dst, err
	}
	return p.dst, nil
}

// appendPyRepr appends Python's repr() of the JSON value src: strings
// quoted and escaped as repr does, True, False, None, ints in decimal,
// floats as AppendPyFloat, lists as [a, b] and dicts as {'k': v} in the
// order of src, a repeated key keeping its first place and its last value,
// as json.loads does.
func appendPyRepr(dst, src []byte) ([]byte, error) {
	p := newParser(src, dst)
	defer p.release()
	p.skipSpace()
	if err := p.value(0); err != nil {
		return dst, err
	}
	if err := p.end(); err != nil {
		return dst, err
	}
	return p.dst, nil
}

// AppendPyFloat appends Python's repr() of f: the shortest digits that
// read back as f, in fixed notation with at least one digit after the
// point when the decimal exponent is in [-4, 16) (1.0, 0.0001,
// 1000000000000000.0), else in exponent notation with at least two
// exponent digits (1e-05, 1.5e+16); inf, -inf and nan.
func AppendPyFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	var buf [32]byte
	s := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // [-]d[.ddd]e±dd
	if s[0] == '-' {
		dst = append(dst, '-')
		s = s[1:]
	}
	var digits [24]byte
	nd, exp, expNeg := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 'e':
			expNeg = s[i+1] == '-'
			for _, d := range s[i+2:] {
				exp = exp*10 + int(d-'0')
			}
			i = len(s)
		case c != '.':
			digits[nd] = c
			nd++
		}
	}
	if expNeg {
		exp = -exp
	}
	d := digits[:nd]
	if exp < -4 || exp >= 16 {
		dst = append(dst, d[0])
		if nd > 1 {
			dst = append(append(dst, '.'), d[1:]...)
		}
		dst = append(dst, 'e')
		if exp < 0 {
			dst, exp = append(dst, '-'), -exp
		} else {
			dst = append(dst, '+')
		}
		if exp < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(exp), 10)
	}
	if exp < 0 {
		dst = append(dst, "0."...)
		for range -exp - 1 {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	for i := 0; i <= exp; i++ {
		if i < nd {
			dst = append(dst, d[i])
		} else {
			dst = append(dst, '0')
		}
	}
	dst = append(dst, '.')
	if nd > exp+1 {
		return append(dst, d[exp+1:]...)
	}
	return append(dst, '0')
}

// AppendPyQuote appends Python's repr() of the string s (UTF-8).
func AppendPyQuote(dst []byte, s string) []byte {
	quote := byte('\'')
	if containsByte(s, '\'') && !containsByte(s, '"') {
		quote = '"'
	}
	dst = append(dst, quote)
	for _, r := range s {
		dst = appendReprRune(dst, r, quote)
	}
	return append(dst, quote)
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// appendReprRune appends r as it appears inside a repr() quoted by quote.
func appendReprRune(dst []byte, r rune, quote byte) []byte {
	const hexDigits = "0123456789abcdef"
	switch {
	case r == rune(quote) || r == '\\':
		return append(dst, '\\', byte(r))
	case r == '\t':
		return append(dst, '\\', 't')
	case r == '\n':
		return append(dst, '\\', 'n')
	case r == '\r':
		return append(dst, '\\', 'r')
	case r >= 0x20 && r < 0x7f:
		return append(dst, byte(r))
	case r >= 0x80 && !utf16.IsSurrogate(r) && unicode.IsPrint(r):
		return utf8.AppendRune(dst, r)
	case r < 0x100:
		return append(dst, '\\', 'x', hexDigits[r>>4], hexDigits[r&15])
	case r < 0x10000:
		return append(dst, '\\', 'u', hexDigits[r>>12], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
	}
	dst = append(dst, '\\', 'U')
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[r>>uint(shift)&15])
	}
	return dst
}

// JSONError is a JSON text that Python's json.loads refuses, or a string
// Python cannot encode to UTF-8 for hashing.
type JSONError struct {
	// Offset is the byte offset in the input where the problem was found.
	Offset int
	// Reason says what is wrong there.
	Reason string
}

// Error returns the message of e.
func (e *JSONError) Error() string {
	return fmt.Sprintf("synapse: JSON at byte %d: %s", e.Offset, e.Reason)
}

// errDepth is the reason of a JSONError for too deep nesting.
var errDepth = errors.New("nesting deeper than 1000 arrays and objects")

// parser reads JSON as Python's json.loads does (strict: no control
// characters in strings; NaN, Infinity and -Infinity accepted) and writes
// the Python text of what it read to dst.
type parser struct {
	src     []byte
	i       int
	dst     []byte
	entries []entry // object entries of the objects being read, innermost last
	pooled  *[]entry
	// checkOnly reads values without writing their repr: strings and
	// numbers are checked as json.loads checks them, and nothing of them
	// reaches dst. Keys are still written, raw, for finding fields.
	checkOnly bool
}

// entriesPool holds the entry stacks of parsers between calls.
var entriesPool = sync.Pool{New: func() any { return new([]entry) }}

// newParser returns a parser of src writing to dst, with a pooled entry
// stack that release gives back.
func newParser(src, dst []byte) *parser {
	es := entriesPool.Get().(*[]entry)
	return &parser{src: src, dst: dst, entries: (*es)[:0], pooled: es}
}

func (p *parser) release() {
	*p.pooled = p.entries[:0]
	entriesPool.Put(p.pooled)
}

// entry locates one key and its value in dst, for duplicate keys.
type entry struct{ key0, key1, val0, val1 int }

func (p *parser) fail(reason string) error { return &JSONError{Offset: p.i, Reason: reason} }

func (p *parser) skipSpace() {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) end() error {
	p.skipSpace()
	if p.i != len(p.src) {
		return p.fail("extra data after the value")
	}
	return nil
}

func (p *parser) literal(word, py string) bool {
	if len(p.src)-p.i >= len(word) && string(p.src[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		p.dst = append(p.dst, py...)
		return true
	}
	return false
}

// value reads one JSON value and writes its repr.
func (p *parser) value(depth int) error {
	if p.i >= len(p.src) {
		return p.fail("want a value, found the end")
	}
	switch c := p.src[p.i]; c {
	case '"':
		return p.str(true)
	case '[', '{':
		if depth >= maxDepth {
			return p.fail(errDepth.Error())
		}
		if c == '[' {
			return p.array(depth + 1)
		}
		return p.object(depth + 1)
	}
	if p.literal("true", "True") || p.literal("false", "False") || p.literal("null", "None") ||
		p.literal("NaN", "nan") || p.literal("Infinity", "inf") || p.literal("-Infinity", "-inf") {
		return nil
	}
	return p.number()
}

// number reads a number as json.loads does: an int without fraction and
// exponent, else a float.
func (p *parser) number() error {
	start := p.i
	if p.i < len(p.src) && p.src[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.src) && p.src[p.i] == '0':
		p.i++
	case p.i < len(p.src) && p.src[p.i] >= '1' && p.src[p.i] <= '9':
		p.digits()
	default:
		p.i = start
		return p.fail("want a value")
	}
	isFloat := false
	if p.i+1 < len(p.src) && p.src[p.i] == '.' && isDigit(p.src[p.i+1]) {
		p.i++
		p.digits()
		isFloat = true
	}
	if p.i < len(p.src) && (p.src[p.i] == 'e' || p.src[p.i] == 'E') {
		j := p.i + 1
		if j < len(p.src) && (p.src[j] == '+' || p.src[j] == '-') {
			j++
		}
		if j < len(p.src) && isDigit(p.src[j]) {
			p.i = j
			p.digits()
			isFloat = true
		}
	}
	if p.checkOnly {
		return nil // the grammar holds; ParseFloat fails only out of range, which it accepts
	}
	lit := p.src[start:p.i]
	if !isFloat {
		if string(lit) == "-0" {
			lit = lit[1:]
		}
		p.dst = append(p.dst, lit...)
		return nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return p.fail("number " + strconv.Quote(string(lit)) + ": " + err.Error())
	}
	p.dst = AppendPyFloat(p.dst, f)
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *parser) digits() {
	for p.i < len(p.src) && isDigit(p.src[p.i]) {
		p.i++
	}
}

func (p *parser) array(depth int) error {
	p.i++
	p.dst = append(p.dst, '[')
	p.skipSpace()
	if p.i < len(p.src) && p.src[p.i] == ']' {
		p.i++
		p.dst = append(p.dst, ']')
		return nil
	}
	for {
		p.skipSpace()
		if err := p.value(depth); err != nil {
			return err
		}
		p.skipSpace()
		if p.i >= len(p.src) {
			return p.fail("unterminated array")
		}
		switch p.src[p.i] {
		case ',':
			p.i++
			p.dst = append(p.dst, ", "...)
		case ']':
			p.i++
			p.dst = append(p.dst, ']')
			return nil
		default:
			return p.fail("want ',' or ']' in an array")
		}
	}
}

func (p *parser) object(depth int) error {
	p.i++
	start, base := len(p.dst), len(p.entries)
	defer func() { p.entries = p.entries[:base] }()
	p.dst = append(p.dst, '{')
	p.skipSpace()
	if p.i < len(p.src) && p.src[p.i] == '}' {
		p.i++
		p.dst = append(p.dst, '}')
		return nil
	}
	var index map[string]int // key → entry, for large objects
	dup := false
	for {
		p.skipSpace()
		if p.i >= len(p.src) || p.src[p.i] != '"' {
			return p.fail("want a string key in an object")
		}
		e := entry{key0: len(p.dst)}
		if err := p.str(true); err != nil {
			return err
		}
		e.key1 = len(p.dst)
		p.skipSpace()
		if p.i >= len(p.src) || p.src[p.i] != ':' {
			return p.fail("want ':' after an object key")
		}
		p.i++
		p.skipSpace()
		p.dst = append(p.dst, ": "...)
		e.val0 = len(p.dst)
		if err := p.value(depth); err != nil {
			return err
		}
		e.val1 = len(p.dst)
		var first int
		first, index = p.findKey(base, e, index)
		if first >= 0 {
			p.entries[first].val0, p.entries[first].val1 = e.val0, e.val1
			dup = true
		} else {
			p.entries = append(p.entries, e)
		}
		p.skipSpace()
		if p.i >= len(p.src) {
			return p.fail("unterminated object")
		}
		switch p.src[p.i] {
		case ',':
			p.i++
			p.dst = append(p.dst, ", "...)
		case '}':
			p.i++
			p.dst = append(p.dst, '}')
			if dup {
				p.compact(start, p.entries[base:])
			}
			return nil
		default:
			return p.fail("want ',' or '}' in an object")
		}
	}
}

// findKey returns the index in p.entries of the entry of this object
// (from base on) with e's key, or -1; index, built once the object grows
// past dupScanLimit keys, makes the search constant-time.
func (p *parser) findKey(base int, e entry, index map[string]int) (int, map[string]int) {
	key := p.dst[e.key0:e.key1]
	n := len(p.entries) - base
	if n < dupScanLimit {
		for j := base; j < len(p.entries); j++ {
			if string(p.dst[p.entries[j].key0:p.entries[j].key1]) == string(key) {
				return j, index
			}
		}
		return -1, index
	}
	if index == nil {
		index = make(map[string]int, 2*n)
		for j := base; j < len(p.entries); j++ {
			index[string(p.dst[p.entries[j].key0:p.entries[j].key1])] = j
		}
	}
	if j, ok := index[string(key)]; ok {
		return j, index
	}
	index[string(key)] = len(p.entries)
	return -1, index
}

// compact rewrites the object written from start on with each key once,
// at its first place, holding its last value.
func (p *parser) compact(start int, entries []entry) {
	out := make([]byte, 0, len(p.dst)-start)
	out = append(out, '{')
	for k, e := range entries {
		if k > 0 {
			out = append(out, ", "...)
		}
		out = append(out, p.dst[e.key0:e.key1]...)
		out = append(out, ": "...)
		out = append(out, p.dst[e.val0:e.val1]...)
	}
	out = append(out, '}')
	p.dst = append(p.dst[:start], out...)
}

// str reads a JSON string and writes it as repr (quoted) or raw.
func (p *parser) str(quoted bool) error {
	start := p.i
	hasSingle, hasDouble, end, err := p.scanString(nil, 0)
	if err != nil || quoted && p.checkOnly {
		return err // a repr cannot fail once the string has been scanned
	}
	quote := byte(0)
	if quoted {
		quote = '\''
		if hasSingle && !hasDouble {
			quote = '"'
		}
		p.dst = append(p.dst, quote)
	}
	p.i = start
	if _, _, _, err := p.scanString(p, quote); err != nil {
		return err
	}
	if quoted {
		p.dst = append(p.dst, quote)
	}
	p.i = end
	return nil
}

// scanString decodes the string at p.i, leaving p.i after it. With out
// set, it writes each character to out.dst: raw (quote 0) or escaped for
// a repr quoted by quote. It reports whether the string holds ' and ".
func (p *parser) scanString(out *parser, quote byte) (hasSingle, hasDouble bool, end int, err error) {
	p.i++ // opening quote
	for {
		if p.i >= len(p.src) {
			return false, false, 0, p.fail("unterminated string")
		}
		c := p.src[p.i]
		var r rune
		switch {
		case c == '"':
			p.i++
			return hasSingle, hasDouble, p.i, nil
		case c < 0x20:
			return false, false, 0, p.fail("control character in a string")
		case c == '\\':
			if r, err = p.escape(); err != nil {
				return false, false, 0, err
			}
		case c < utf8.RuneSelf:
			r = rune(c)
			p.i++
		default:
			var size int
			r, size = utf8.DecodeRune(p.src[p.i:])
			if r == utf8.RuneError && size == 1 {
				return false, false, 0, p.fail("invalid UTF-8")
			}
			p.i += size
		}
		hasSingle = hasSingle || r == '\''
		hasDouble = hasDouble || r == '"'
		if out == nil {
			continue
		}
		if quote != 0 {
			out.dst = appendReprRune(out.dst, r, quote)
		} else if utf16.IsSurrogate(r) {
			return false, false, 0, p.fail(fmt.Sprintf("lone surrogate \\u%04x, which Python cannot encode as UTF-8", r))
		} else {
			out.dst = utf8.AppendRune(out.dst, r)
		}
	}
}

// escape decodes the escape at p.i, joining a \u surrogate pair into one
// character as json.loads does and keeping a lone surrogate.
func (p *parser) escape() (rune, error) {
	if p.i+1 >= len(p.src) {
		return 0, p.fail("unterminated escape")
	}
	c := p.src[p.i+1]
	p.i += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
	default:
		p.i -= 2
		return 0, p.fail(fmt.Sprintf("invalid escape \\%c", c))
	}
	r, ok := hex4(p.src[p.i:])
	if !ok {
		return 0, p.fail("invalid \\u escape")
	}
	p.i += 4
	if r >= 0xd800 && r < 0xdc00 && len(p.src)-p.i >= 6 && p.src[p.i] == '\\' && p.src[p.i+1] == 'u' {
		if lo, ok := hex4(p.src[p.i+2:]); ok && lo >= 0xdc00 && lo < 0xe000 {
			p.i += 6
			return utf16.DecodeRune(r, lo), nil
		}
	}
	return r, nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
