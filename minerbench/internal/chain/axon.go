package chain

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// Axon is a serve_axon registration.
// It says where a miner's hotkey can be queried.
type Axon struct {
	// Hotkey is the miner's ss58 hotkey address; it must not be empty.
	Hotkey string
	// Coldkey is the ss58 address of the wallet owning the hotkey.
	Coldkey string
	// IP is an IPv4 or IPv6 address without a zone; the metagraph holds its
	// canonical form. An unspecified address (0.0.0.0, ::) is accepted but
	// unroutable.
	IP string
	// Port is 0..65535; 0 is accepted but unroutable.
	Port int32
	// IPType is 4 or 6 and must match IP.
	IPType int32
	// Modality is what the axon serves.
	Modality wire.Modality
	// Protocol is the wire protocol the axon speaks; the zero value is
	// Bittensor 2.0.x's gRPC, so a 2.0.x registration needs none.
	Protocol Protocol
}

// Protocol is the wire protocol of an axon, which tells a client how to
// query it.
type Protocol int32

// The protocols an axon may speak.
const (
	// ProtocolGRPC is Bittensor 2.0.x's gRPC service (package axon).
	ProtocolGRPC Protocol = 0
	// ProtocolSynapse is today's HTTP synapse protocol, bittensor 6 to 10
	// (package httpaxon).
	ProtocolSynapse Protocol = 1
)

// String names p as the setting axon.announce does: grpc or synapse.
func (p Protocol) String() string {
	switch p {
	case ProtocolGRPC:
		return "grpc"
	case ProtocolSynapse:
		return "synapse"
	}
	return "Protocol(" + strconv.Itoa(int(p)) + ")"
}

// AxonError is ServeAxon's refusal of an invalid Axon.
//
// A *Chain returns it, and so does a *Client, rebuilt from the gRPC
// status. Over gRPC it travels as InvalidArgument with the same message.
type AxonError struct {
	// Field is the serve_axon field at fault: hotkey, ip, port, ip_type,
	// modality or protocol.
	Field string
	// Value is the refused value as printed in the message.
	Value string
	// Want says what is accepted.
	Want string
}

// Error says which field is at fault, its value and what is accepted.
func (e *AxonError) Error() string {
	return fmt.Sprintf("chain: axon %s %s is invalid; want %s", e.Field, e.Value, e.Want)
}

// axonErrorDomain and axonErrorReason mark an AxonError in a gRPC status.
const (
	axonErrorDomain = "minerbench.chain"
	axonErrorReason = "INVALID_AXON"
)

// GRPCStatus returns the InvalidArgument status a gRPC server sends for e.
// Its details carry the fields, so that a Client can rebuild e.
func (e *AxonError) GRPCStatus() *status.Status {
	st := status.New(codes.InvalidArgument, e.Error())
	withInfo, err := st.WithDetails(&errdetails.ErrorInfo{
		Reason:   axonErrorReason,
		Domain:   axonErrorDomain,
		Metadata: map[string]string{"field": e.Field, "value": e.Value, "want": e.Want},
	})
	if err != nil {
		return st
	}
	return withInfo
}

// axonErrorFromStatus rebuilds the AxonError a server sent, if st carries one.
func axonErrorFromStatus(st *status.Status) (*AxonError, bool) {
	if st.Code() != codes.InvalidArgument {
		return nil, false
	}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetDomain() != axonErrorDomain || info.GetReason() != axonErrorReason {
			continue
		}
		m := info.GetMetadata()
		return &AxonError{Field: m["field"], Value: m["value"], Want: m["want"]}, true
	}
	return nil, false
}

// normalize validates a and returns it with IP in canonical form.
func (a Axon) normalize() (Axon, error) {
	if a.Hotkey == "" {
		return a, &AxonError{Field: "hotkey", Value: `""`, Want: "a non-empty ss58 address"}
	}
	addr, err := netip.ParseAddr(a.IP)
	if err != nil || addr.Zone() != "" {
		return a, &AxonError{Field: "ip", Value: strconv.Quote(a.IP), Want: "an IPv4 or IPv6 address without a zone"}
	}
	if a.Port < 0 || a.Port > 65535 {
		return a, &AxonError{Field: "port", Value: strconv.Itoa(int(a.Port)), Want: "0..65535 (0 is accepted but unroutable)"}
	}
	switch {
	case a.IPType != 4 && a.IPType != 6:
		return a, &AxonError{Field: "ip_type", Value: strconv.Itoa(int(a.IPType)), Want: "4 or 6"}
	case a.IPType == 4 && !addr.Is4():
		return a, &AxonError{Field: "ip_type", Value: "4", Want: fmt.Sprintf("6 for the IPv6 address %q", a.IP)}
	case a.IPType == 6 && !addr.Is6():
		return a, &AxonError{Field: "ip_type", Value: "6", Want: fmt.Sprintf("4 for the IPv4 address %q", a.IP)}
	}
	if _, ok := wire.Modality_name[int32(a.Modality)]; !ok {
		return a, &AxonError{Field: "modality", Value: strconv.Itoa(int(a.Modality)), Want: "TEXT (0), IMAGE (1) or TENSOR (2)"}
	}
	if a.Protocol != ProtocolGRPC && a.Protocol != ProtocolSynapse {
		return a, &AxonError{Field: "protocol", Value: strconv.Itoa(int(a.Protocol)), Want: "grpc (0) or synapse (1)"}
	}
	a.IP = addr.String()
	return a, nil
}

// Endpoint returns the "host:port" address of n's axon, for dialing.
func Endpoint(n *wire.Neuron) string {
	return net.JoinHostPort(n.GetIp(), strconv.Itoa(int(n.GetPort())))
}

// unroutable says why n's axon cannot be dialed, or "" if it can.
func unroutable(n *wire.Neuron) string {
	addr, err := netip.ParseAddr(n.GetIp())
	switch {
	case err != nil:
		return fmt.Sprintf("ip %q does not parse", n.GetIp())
	case addr.IsUnspecified():
		return fmt.Sprintf("ip %s is unspecified", addr)
	case n.GetPort() <= 0 || n.GetPort() > 65535:
		return fmt.Sprintf("port %d is not dialable", n.GetPort())
	}
	return ""
}
