package history

import (
	"net/http"
	"strconv"

	"github.com/minerbench/minerbench/minerbench/wire"
)

// Code is a query's outcome as the code column holds it: a Bittensor 2.0.x
// return code, or the HTTP status a synapse axon answered.
//
// The two protocols share the column because their codes cannot be
// confused: 2.0.x return codes are small (0 to 99 at most), HTTP statuses
// run from 100 to 599. A history thus needs no second column to say which
// protocol wrote a row.
type Code int32

// The range of HTTP statuses; every other code is a 2.0.x return code.
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

// Success reports whether c means the query succeeded: Success for 2.0.x,
// 200 for a synapse, as a bittensor dendrite's is_success judges it.
func (c Code) Success() bool {
	return c == Code(wire.ReturnCode_Success) || c == StatusOK
}

// String names c: a 2.0.x return code by its name (Success, Timeout, ...),
// an HTTP status as "HTTP 401 Unauthorized".
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
