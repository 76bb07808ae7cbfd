package synapse

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// Header values reach Python as Latin-1 text, one character per byte, so
// the rules below work on bytes.

// isPySpace reports whether the Latin-1 character c is whitespace that
// Python's int() and float() strip: not 0x1c to 0x1f, which str.isspace()
// counts but they refuse.
func isPySpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0x85, 0xa0:
		return true
	}
	return false
}

func pyStrip(s string) string {
	for len(s) > 0 && isPySpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isPySpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// errPyInt and errPyFloat are the reasons ParseError gives for a value
// Python's int() or float() refuses.
var (
	errPyInt   = errors.New("not an integer as Python's int() reads one: optional sign, decimal digits, single underscores between digits, surrounding whitespace")
	errPyFloat = errors.New("not a number as Python's float() reads one: a decimal or exponent number, inf, infinity or nan, with optional sign and surrounding whitespace")
	errRange   = errors.New("an integer outside the 64-bit range, which Python accepts and this parser does not")
)

// parsePyInt parses s as Python's int(s) does, within the int64 range.
func parsePyInt(s string) (int64, error) {
	s = pyStrip(s)
	body := s
	if len(body) > 0 && (body[0] == '+' || body[0] == '-') {
		body = body[1:]
	}
	if !digitsWithUnderscores(body) {
		return 0, errPyInt
	}
	if strings.IndexByte(s, '_') >= 0 {
		s = strings.ReplaceAll(s, "_", "")
	}
	if s[0] == '+' {
		s = s[1:]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errRange
	}
	return v, nil
}

// digitsWithUnderscores reports whether s is one or more ASCII digits with
// single underscores between them.
func digitsWithUnderscores(s string) bool {
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_':
			if s[i+1] == '_' {
				return false
			}
		case c < '0' || c > '9':
			return false
		}
	}
	return true
}

// parsePyFloat parses s as Python's float(s) does: overflow gives ±inf,
// as it does in Python.
func parsePyFloat(s string) (float64, error) {
	s = pyStrip(s)
	neg := false
	body := s
	if len(body) > 0 && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	switch strings.ToLower(body) {
	case "inf", "infinity":
		if neg {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	case "nan":
		return math.NaN(), nil
	}
	if !pyDecimal(body) {
		return 0, errPyFloat
	}
	if strings.IndexByte(s, '_') >= 0 {
		s = strings.ReplaceAll(s, "_", "")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, errPyFloat
	}
	return v, nil
}

// pyDecimal reports whether s is digits[.digits][e[sign]digits] with at
// least one digit in the mantissa, each digit group allowing single
// underscores between digits, as Python's float() accepts.
func pyDecimal(s string) bool {
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
		if len(exp) > 0 && (exp[0] == '+' || exp[0] == '-') {
			exp = exp[1:]
		}
		if !digitsWithUnderscores(exp) {
			return false
		}
	}
	whole, frac, hasPoint := strings.Cut(mant, ".")
	if whole == "" && frac == "" {
		return false
	}
	if whole != "" && !digitsWithUnderscores(whole) {
		return false
	}
	return !hasPoint || frac == "" || digitsWithUnderscores(frac)
}
