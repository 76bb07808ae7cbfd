package miner

import (
	"fmt"
	"strconv"

	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// Tensor is the tensor of a query or an answer.
// It holds a dtype, a shape and the raw little-endian data. Int64s and
// Float32s read its values.
type Tensor = tensor.Tensor

// FromInt64 returns an INT64 tensor of shape holding vals, such as the
// [batch, seq] token ids of a query.
func FromInt64(shape []int64, vals []int64) Tensor { return tensor.FromInt64(shape, vals) }

// FromFloat32 returns a FLOAT32 tensor of shape holding vals, such as the
// [batch, seq, NetworkDim] answer of a forward query. It may share vals.
func FromFloat32(shape []int64, vals []float32) Tensor { return tensor.FromFloat32(shape, vals) }

// The Bittensor 2.0.x text protocol's dimensions.
const (
	// NetworkDim is the width of every answer's last dimension.
	NetworkDim = wire.NetworkDim
	// VocabSize bounds the token ids of a query: [0, VocabSize).
	VocabSize = wire.VocabSize
)

// ReturnCode is the code every answer carries, such as Success or
// NucleusFull.
type ReturnCode = wire.ReturnCode

// The return codes of the Bittensor 2.0.x protocol.
const (
	NoReturn                         = wire.ReturnCode_NoReturn
	Success                          = wire.ReturnCode_Success
	Timeout                          = wire.ReturnCode_Timeout
	Backoff                          = wire.ReturnCode_Backoff
	Unavailable                      = wire.ReturnCode_Unavailable
	NotImplemented                   = wire.ReturnCode_NotImplemented
	EmptyRequest                     = wire.ReturnCode_EmptyRequest
	EmptyResponse                    = wire.ReturnCode_EmptyResponse
	InvalidResponse                  = wire.ReturnCode_InvalidResponse
	InvalidRequest                   = wire.ReturnCode_InvalidRequest
	RequestShapeException            = wire.ReturnCode_RequestShapeException
	ResponseShapeException           = wire.ReturnCode_ResponseShapeException
	RequestSerializationException    = wire.ReturnCode_RequestSerializationException
	ResponseSerializationException   = wire.ReturnCode_ResponseSerializationException
	RequestDeserializationException  = wire.ReturnCode_RequestDeserializationException
	ResponseDeserializationException = wire.ReturnCode_ResponseDeserializationException
	NotServingNucleus                = wire.ReturnCode_NotServingNucleus
	NucleusTimeout                   = wire.ReturnCode_NucleusTimeout
	NucleusFull                      = wire.ReturnCode_NucleusFull
	RequestIncompatibleVersion       = wire.ReturnCode_RequestIncompatibleVersion
	ResponseIncompatibleVersion      = wire.ReturnCode_ResponseIncompatibleVersion
	SenderUnknown                    = wire.ReturnCode_SenderUnknown
	UnknownException                 = wire.ReturnCode_UnknownException
	Unauthenticated                  = wire.ReturnCode_Unauthenticated
)

// ParseReturnCode reads a return code by name (NucleusFull) or number (18).
func ParseReturnCode(s string) (ReturnCode, error) {
	if n, ok := wire.ReturnCode_value[s]; ok {
		return ReturnCode(n), nil
	}
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		if _, ok := wire.ReturnCode_name[int32(n)]; ok {
			return ReturnCode(n), nil
		}
	}
	return 0, fmt.Errorf("return code %q: want a name such as NucleusFull, or its number from 0 to %d", s, len(wire.ReturnCode_name)-1)
}

// CodeError is an error that answers a return code of the Forwarder's
// choice.
//
// Without it, an error is answered UnknownException. With it, the answer
// carries the code and a message, such as NucleusFull or Backoff, as
// Bittensor's miners refused queries. Its Code must not be Success. The
// axon finds it with errors.As, so it may be wrapped.
type CodeError = axon.CodeError

// Refuse returns a *CodeError that answers code.
// Its message is fmt.Sprintf(format, args...).
func Refuse(code ReturnCode, format string, args ...any) *CodeError {
	return &CodeError{Code: code, Message: fmt.Sprintf(format, args...)}
}
