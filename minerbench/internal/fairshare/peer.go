package fairshare

import "net"

// PeerOf returns the peer a remote address belongs to: its IP address,
// without the port, or the whole address when it has no IP.
//
// Every connection from one host counts as one peer, however many source
// ports it uses.
func PeerOf(addr net.Addr) string {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case *net.UDPAddr:
		return a.IP.String()
	}
	if addr == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		return host
	}
	return addr.String()
}
