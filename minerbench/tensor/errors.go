package tensor

import (
	"errors"
	"strconv"
)

// Reasons for refusing a tensor or a buffer.
// Every error of this package is an *Error whose Reason is one of these,
// so callers test with errors.Is.
var (
	// ErrMalformed: the buffer is not msgpack, is cut short, or holds a value
	// of the wrong msgpack type (a map, bool, str/bin or int where the
	// layout wants another).
	ErrMalformed = errors.New("malformed msgpack")
	// ErrMissingKey: one of nd, type, kind, shape, data is absent.
	ErrMissingKey = errors.New("missing key")
	// ErrDuplicateKey: a key occurs twice in the map.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrUnknownKey: the map holds a key outside nd, type, kind, shape, data.
	ErrUnknownKey = errors.New("unknown key")
	// ErrNotArray: nd is false, which msgpack-numpy uses for numpy scalars.
	ErrNotArray = errors.New("not an ndarray")
	// ErrKind: kind is not empty (msgpack-numpy would unpickle data for "O").
	ErrKind = errors.New("non-empty kind")
	// ErrUnknownDType: the buffer's numpy dtype string is not one we know.
	ErrUnknownDType = errors.New("unknown dtype")
	// ErrUnsupportedDType: a DType the serializer cannot carry or widen to.
	ErrUnsupportedDType = errors.New("unsupported dtype")
	// ErrDTypeMismatch: the buffer's dtype is not the one asked for.
	ErrDTypeMismatch = errors.New("dtype mismatch")
	// ErrRank: the shape has more than MaxRank dimensions.
	ErrRank = errors.New("too many dimensions")
	// ErrNegativeDim: a dimension is below zero.
	ErrNegativeDim = errors.New("negative dimension")
	// ErrOverflow: a dimension, element count or byte size does not fit the
	// integer that must hold it.
	ErrOverflow = errors.New("size overflow")
	// ErrSizeMismatch: shape product × element size differs from len(data).
	ErrSizeMismatch = errors.New("data size does not match shape")
	// ErrTrailingData: bytes follow the map.
	ErrTrailingData = errors.New("trailing data")
	// ErrSerializer: the serializer is neither Msgpack nor Cmppack.
	ErrSerializer = errors.New("unknown serializer")
)

// Error is the error every function of this package returns.
//
// It says which operation failed, on which field, and why (Reason, one of
// the sentinels above). Detail says what was found and what is accepted.
type Error struct {
	// Op is "encode", "decode", or empty for a check outside the codecs.
	Op string
	// Field is the map key or argument concerned ("shape", "data", "type",
	// "kind", "nd", "dtype", "serializer"), or empty for the whole buffer.
	Field string
	// Reason is one of the Err* sentinels of this package.
	Reason error
	// Detail says what was found and what is accepted.
	Detail string
}

// Error formats e, such as
// "tensor decode: shape: negative dimension: shape[1] = -3; want >= 0".
func (e *Error) Error() string {
	s := "tensor"
	if e.Op != "" {
		s += " " + e.Op
	}
	s += ": "
	if e.Field != "" {
		s += e.Field + ": "
	}
	if e.Reason != nil {
		s += e.Reason.Error()
	} else {
		s += "invalid tensor"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns e.Reason, so that errors.Is(err, ErrKind) works.
func (e *Error) Unwrap() error { return e.Reason }

// withOp returns err with Op set to op when it is an *Error without one.
func withOp(err error, op string) error {
	var e *Error
	if errors.As(err, &e) && e.Op == "" {
		c := *e
		c.Op = op
		return &c
	}
	return err
}

// quoteShort quotes s for an error message, cut to 32 bytes.
// So a hostile buffer cannot make the message huge.
func quoteShort(s string) string {
	const limit = 32
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
