package history

import (
	"net/http"
	"strconv"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// Code is a query's outcome as the code column holds it.
//
// It is a Bittensor 2.0.x return code, or the HTTP status a synapse axon
// answered. The two protocols share the column because their codes cannot
// be confused. 2.0.x return codes are small, 99 at most, and HTTP statuses
// run from 100 to 599. So a history needs no second column to say which
// protocol wrote a row.
type Code int32

// The range of HTTP statuses. Every other code is a 2.0.x return code.
const (
	firstHTTP = 100
	lastHTTP  = 599
)

// StatusOK is the HTTP status of a synapse query that succeeded.
const StatusOK Code = http.StatusOK

// ReturnCode is the code of a 2.0.x query answered with c.
func ReturnCode(c wire.ReturnCode) Code { return Code(c) }

// IsHTTP reports whether c is an HTTP status rather than a 2.0.x return
// code.
func (c Code) IsHTTP() bool { return c >= firstHTTP && c <= lastHTTP }

// Success reports whether c means the query succeeded.
// That is Success for 2.0.x, and 200 for a synapse, as bittensor's
// dendrite judges is_success.
func (c Code) Success() bool {
	return c == Code(wire.ReturnCode_Success) || c == StatusOK
}

// String names c.
// A 2.0.x return code has its name, such as Timeout. An HTTP status reads
// as "HTTP 401 Unauthorized".
func (c Code) String() string {
	if !c.IsHTTP() {
		return wire.ReturnCode(c).String()
	}
	s := "HTTP " + strconv.Itoa(int(c))
	if text := http.StatusText(int(c)); text != "" {
		s += " " + text
	}
	return s
}
