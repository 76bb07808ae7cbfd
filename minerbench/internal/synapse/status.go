package synapse

import (
	"crypto/rand"
	"strconv"
)

// Status codes an axon answers with, and the ones a dendrite records for
// failures on its own side.
const (
	StatusSuccess       = 200 // forward returned
	StatusBadRequest    = 400 // invalid request name (unreachable in practice)
	StatusNotVerified   = 401 // verify failed
	StatusBlacklisted   = 403 // blacklist said so
	StatusNotFound      = 404 // unknown synapse name
	StatusTimeout       = 408 // priority timed out (axon); the client's timeout (dendrite)
	StatusParseFailure  = 422 // the dendrite could not parse the response
	StatusInternalError = 500 // header parse error, body error, forward raised
	StatusUnavailable   = 503 // connection refused or dropped (dendrite)
)

// Version is the dendrite version minerbench sends: bittensor 10.2.0 as
// major·10⁶ + minor·10³ + patch.
const Version = 10002000

// VersionNonceWindow is the lowest dendrite version (7.2.0) whose first
// nonce per key must be fresh.
const VersionNonceWindow = 7002000

// SuccessMessage is the status message of a 200 answer.
const SuccessMessage = "Success"

// NotFoundMessage is the 404 message for an unknown synapse name, given
// the names the axon serves (its first is "Synapse").
func NotFoundMessage(name string, available []string) string {
	b := append([]byte("Synapse name '"), name...)
	b = append(b, "' not found. Available synapses ["...)
	for i, a := range available {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = AppendPyQuote(b, a)
	}
	return string(append(b, ']'))
}

// NotVerifiedMessage is the 401 message for a verify failure whose text
// is reason (the texts of Verifier.Verify).
func NotVerifiedMessage(reason string) string { return "Not Verified with error: " + reason }

// BlacklistedMessage is the 403 message for a blacklisting with reason.
func BlacklistedMessage(reason string) string {
	return "Forbidden. Key is blacklisted: " + reason + "."
}

// PriorityTimeoutMessage is the axon's 408 message when its priority
// step times out, given the request's timeout.
func PriorityTimeoutMessage(timeout Opt[float64]) string {
	return "Response timeout after: " + string(appendPyOptFloat(nil, timeout)) + "s"
}

// InternalErrorMessage is the 500 message, which names the error by a
// fresh random UUID (NewErrorID) that only the axon's log explains.
func InternalErrorMessage(id string) string { return "Internal Server Error #" + id }

// NewErrorID returns a random (version 4) UUID in its 36-character form.
func NewErrorID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return FormatUUID(u)
}

// FormatUUID writes u as Python's str(uuid.UUID) does:
// 8-4-4-4-12 lowercase hex digits.
func FormatUUID(u [16]byte) string {
	const hexDigits = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}

// TimeoutMessage is the dendrite's 408 message when its own timeout (in
// seconds) expires.
func TimeoutMessage(timeout float64) string {
	return "Request timeout after " + string(AppendPyFloat(nil, timeout)) + " seconds"
}

// UnavailableMessage is the dendrite's 503 message when it cannot
// connect to the axon at ip:port serving name.
func UnavailableMessage(ip string, port int, name string) string {
	return "Service unavailable at " + ip + ":" + strconv.Itoa(port) + "/" + name
}

// DisconnectedMessage is the dendrite's 503 message when the axon closes
// the connection before answering.
func DisconnectedMessage(err string) string { return "Service disconnected: " + err }

// ParseFailureMessage is the dendrite's 422 message when it cannot parse
// the axon's response.
func ParseFailureMessage(err string) string { return "Failed to parse response: " + err }

// appendPyOptFloat appends str() of a Python float or None.
func appendPyOptFloat(dst []byte, f Opt[float64]) []byte {
	if !f.OK {
		return append(dst, "None"...)
	}
	return AppendPyFloat(dst, f.V)
}
