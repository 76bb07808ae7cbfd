package axon

import (
	"fmt"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// CodeError is an error a ForwardFunc returns to answer a chosen return
// code: the axon answers the call with gRPC status OK, return_code Code and
// message Message, instead of UnknownException. A miner uses it to refuse a
// query the way Bittensor's axon did (NucleusFull, Backoff, …). Code must
// not be Success: a CodeError of Success is answered UnknownException.
// The axon finds a CodeError with errors.As, so it may be wrapped.
type CodeError struct {
	// Code is the return code to answer.
	Code wire.ReturnCode
	// Message is the response's message.
	Message string
}

// Error returns the code and the message.
func (e *CodeError) Error() string {
	return fmt.Sprintf("return code %s: %s", e.Code, e.Message)
}
