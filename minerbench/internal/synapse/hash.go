package synapse

import (
	"crypto/sha3"
	"encoding/hex"
	"fmt"
	"sync"
)

// EmptyBodyHash is the body hash of a synapse without hash fields:
// sha3-256 of the empty string, in hex.
const EmptyBodyHash = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"

// BodyHashSize is the length of a body hash in hex digits.
const BodyHashSize = 64

// scratch holds a body hash's buffers between calls.
type scratch struct {
	py     []byte // Python str() of one field
	hashes []byte // the hex digests of the fields, concatenated
	spans  [][2]int
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// AppendFieldsHash appends the body hash of the given Python str() values,
// in order: the hex sha3-256 of the concatenated hex sha3-256 digests of
// each value.
func AppendFieldsHash(dst []byte, values ...[]byte) []byte {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	s.hashes = s.hashes[:0]
	for _, v := range values {
		s.hashes = appendSHA3Hex(s.hashes, v)
	}
	return appendSHA3Hex(dst, s.hashes)
}

func appendSHA3Hex(dst, b []byte) []byte {
	sum := sha3.Sum256(b)
	return hex.AppendEncode(dst, sum[:])
}

// AppendBodyHash appends the body hash of a synapse's JSON body: for each
// of fields in order, sha3-256 in hex of Python's str() of that field's
// value (AppendPyStr), then sha3-256 in hex of those digests concatenated.
// With no fields it appends EmptyBodyHash.
//
// The body must be a JSON object, as the receiving axon requires; when a
// key repeats, its last value counts, as in json.loads. A field absent
// from the body is an error: pydantic would use the field's default,
// which the body does not say.
func AppendBodyHash(dst, body []byte, fields []string) ([]byte, error) {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	spans, err := fieldSpans(body, fields, s)
	if err != nil {
		return dst, err
	}
	s.hashes = s.hashes[:0]
	for k, span := range spans {
		if span[0] < 0 {
			return dst, fmt.Errorf("synapse: body hash: the body has no field %q; want every hash field %q in the body", fields[k], fields)
		}
		if s.py, err = AppendPyStr(s.py[:0], body[span[0]:span[1]]); err != nil {
			return dst, fmt.Errorf("synapse: body hash: field %q: %w", fields[k], err)
		}
		s.hashes = appendSHA3Hex(s.hashes, s.py)
	}
	return appendSHA3Hex(dst, s.hashes), nil
}

// FieldValues appends to dst, for each of fields, the raw JSON text of its
// value in body, the last one when a key repeats, or nil when absent. It
// fails unless body is one JSON object as json.loads reads it, UTF-8.
func FieldValues(dst [][]byte, body []byte, fields []string) ([][]byte, error) {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	spans, err := fieldSpans(body, fields, s)
	if err != nil {
		return dst, err
	}
	for _, span := range spans {
		if span[0] < 0 {
			dst = append(dst, nil)
		} else {
			dst = append(dst, body[span[0]:span[1]:span[1]])
		}
	}
	return dst, nil
}

// fieldSpans checks that body is one JSON object and returns, for each
// field, the byte range of its last value in body ({-1, -1} if absent).
func fieldSpans(body []byte, fields []string, s *scratch) ([][2]int, error) {
	s.spans = s.spans[:0]
	for range fields {
		s.spans = append(s.spans, [2]int{-1, -1})
	}
	p := newParser(body, s.py[:0])
	p.checkOnly = true // the values are found, not converted
	defer func() { s.py = p.dst; p.release() }()
	p.skipSpace()
	if p.i >= len(p.src) || p.src[p.i] != '{' {
		return nil, &JSONError{Offset: p.i, Reason: "want a JSON object"}
	}
	p.i++
	p.skipSpace()
	if p.i < len(p.src) && p.src[p.i] == '}' {
		p.i++
		return s.spans, p.end()
	}
	for {
		p.skipSpace()
		if p.i >= len(p.src) || p.src[p.i] != '"' {
			return nil, p.fail("want a string key in an object")
		}
		p.dst = p.dst[:0]
		if err := p.str(false); err != nil {
			return nil, err
		}
		keyLen := len(p.dst)
		p.skipSpace()
		if p.i >= len(p.src) || p.src[p.i] != ':' {
			return nil, p.fail("want ':' after an object key")
		}
		p.i++
		p.skipSpace()
		start := p.i
		if err := p.value(1); err != nil {
			return nil, err
		}
		for k, f := range fields {
			if f == string(p.dst[:keyLen]) {
				s.spans[k] = [2]int{start, p.i}
			}
		}
		p.skipSpace()
		if p.i >= len(p.src) {
			return nil, p.fail("unterminated object")
		}
		switch p.src[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return s.spans, p.end()
		default:
			return nil, p.fail("want ',' or '}' in an object")
		}
	}
}
