// Package auth owns the authentication metadata of the Bittensor wire
// protocol: the Signer a dendrite runs before every call and the Verifier an
// axon runs on every call's headers, before it reads the body. Both sides
// build and read the same four metadata keys here, so the format lives in
// one place. The protocol is described in minerbench/internal/wire/README.md.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// Metadata keys and fixed values of the protocol, in the order a sender
// writes them.
const (
	// KeyAuthHeader names the header whose value must be AuthHeader.
	KeyAuthHeader = "rpc-auth-header"
	// KeySignature names the header holding the signed nonce (see Signature).
	KeySignature = "bittensor-signature"
	// KeyVersion names the header holding the protocol version (wire.Version).
	KeyVersion = "bittensor-version"
	// KeyRequestType names the header holding the wire.RequestType number.
	KeyRequestType = "request_type"
	// AuthHeader is the only accepted value of KeyAuthHeader.
	AuthHeader = "Bittensor"
	// Separator joins the four fields of a KeySignature value.
	Separator = "bitxx"
)

// ReplayTolerance is Bittensor 2.0.4's replay rule: a call is accepted only
// if its nonce minus the nonce of the last call accepted from the same sender
// and receptor uid is more than -ReplayTolerance, so a nonce exactly
// ReplayTolerance older is refused. It lets concurrent calls of one receptor
// arrive slightly out of order.
const ReplayTolerance = 10 * time.Millisecond

// MaxSignatureLen bounds the length of a KeySignature value. A real value is
// about 230 bytes; the bound keeps parsing and error messages cheap.
const MaxSignatureLen = 1024

// versionValue is wire.Version as the KeyVersion header writes it.
var versionValue = strconv.Itoa(wire.Version)

// Kinds of authentication failure. Every error returned by this package is an
// *Error whose Kind is one of these, so callers test them with errors.Is.
var (
	ErrMissing         = errors.New("missing")
	ErrAuthHeader      = errors.New("wrong auth header")
	ErrTooLong         = errors.New("too long")
	ErrFieldCount      = errors.New("wrong number of fields")
	ErrNonce           = errors.New("unparsable nonce")
	ErrSS58            = errors.New("bad SS58 address")
	ErrSignatureHex    = errors.New("bad signature hex")
	ErrSignatureLength = errors.New("wrong signature length")
	ErrReceptorUID     = errors.New("empty receptor uid")
	ErrBadSignature    = errors.New("signature does not verify")
	ErrReplay          = errors.New("replayed nonce")
	ErrClock           = errors.New("nonce too far from the verifier's clock")
)

// Error is an authentication failure: which metadata field, its value (cut
// short when long) and what is accepted.
type Error struct {
	// Kind is one of the Err* values above.
	Kind error
	// Field names the metadata key, or key and field, that failed.
	Field string
	// Value is the offending value.
	Value string
	// Want says what is accepted.
	Want string
}

// Error implements error.
func (e *Error) Error() string {
	v := e.Value
	if len(v) > 80 {
		v = v[:80] + "..."
	}
	return fmt.Sprintf("auth: %s %q: %v; want %s", e.Field, v, e.Kind, e.Want)
}

// Unwrap returns Kind, so errors.Is(err, ErrReplay) and the like work.
func (e *Error) Unwrap() error { return e.Kind }

// Signature is a parsed KeySignature value:
// NONCE bitxx SS58 bitxx 0xSIGHEX bitxx RECEPTOR_UID.
type Signature struct {
	// Nonce is the sender's clock in milliseconds since the Unix epoch.
	Nonce int64
	// SS58 is the sender's hotkey address.
	SS58 string
	// Sig is the sr25519 signature of Message().
	Sig [64]byte
	// ReceptorUID identifies the sender's connection.
	ReceptorUID string
}

// String returns s as a KeySignature value.
func (s Signature) String() string {
	var b strings.Builder
	b.Grow(20 + len(s.SS58) + 2 + 2*len(s.Sig) + len(s.ReceptorUID) + 3*len(Separator))
	var num [20]byte
	b.Write(strconv.AppendInt(num[:0], s.Nonce, 10))
	b.WriteString(Separator)
	b.WriteString(s.SS58)
	b.WriteString(Separator)
	b.WriteString("0x")
	var hx [128]byte
	hex.Encode(hx[:], s.Sig[:])
	b.Write(hx[:])
	b.WriteString(Separator)
	b.WriteString(s.ReceptorUID)
	return b.String()
}

// AppendMessage appends the signed bytes, NONCE + SS58 + RECEPTOR_UID, to dst.
func (s Signature) AppendMessage(dst []byte) []byte {
	dst = strconv.AppendInt(dst, s.Nonce, 10)
	dst = append(dst, s.SS58...)
	return append(dst, s.ReceptorUID...)
}

// ParseSignature reads a KeySignature value. It checks the syntax of every
// field; the SS58 checksum and the signature itself are the Verifier's work.
// The strings in the result share memory with value.
func ParseSignature(value string) (Signature, error) {
	var s Signature
	if len(value) > MaxSignatureLen {
		return s, &Error{Kind: ErrTooLong, Field: KeySignature, Value: value,
			Want: fmt.Sprintf("at most %d bytes", MaxSignatureLen)}
	}
	nonce, rest, ok1 := strings.Cut(value, Separator)
	ss58, rest, ok2 := strings.Cut(rest, Separator)
	sigHex, uid, ok3 := strings.Cut(rest, Separator)
	if !ok1 || !ok2 || !ok3 || strings.Contains(uid, Separator) {
		return s, &Error{Kind: ErrFieldCount, Field: KeySignature, Value: value,
			Want: "NONCE" + Separator + "SS58" + Separator + "0xSIGNATURE" + Separator + "RECEPTOR_UID"}
	}
	n, ok := parseNonce(nonce)
	if !ok {
		return s, &Error{Kind: ErrNonce, Field: KeySignature + " nonce", Value: nonce,
			Want: "milliseconds since the Unix epoch as 1 to 18 decimal digits"}
	}
	s.Nonce = n
	if ss58 == "" {
		return s, &Error{Kind: ErrSS58, Field: KeySignature + " ss58", Value: ss58,
			Want: "an SS58 address"}
	}
	s.SS58 = ss58
	hx, ok := strings.CutPrefix(sigHex, "0x")
	if !ok || !isHex(hx) {
		return s, &Error{Kind: ErrSignatureHex, Field: KeySignature + " signature", Value: sigHex,
			Want: "0x followed by hex digits"}
	}
	if len(hx) != 2*len(s.Sig) {
		return s, &Error{Kind: ErrSignatureLength, Field: KeySignature + " signature", Value: sigHex,
			Want: fmt.Sprintf("%d bytes (%d hex digits)", len(s.Sig), 2*len(s.Sig))}
	}
	for i := range s.Sig {
		s.Sig[i] = unhex(hx[2*i])<<4 | unhex(hx[2*i+1])
	}
	if uid == "" {
		return s, &Error{Kind: ErrReceptorUID, Field: KeySignature + " receptor uid", Value: uid,
			Want: "a non-empty identifier"}
	}
	s.ReceptorUID = uid
	return s, nil
}

// parseNonce reads 1 to 18 decimal digits, which cannot overflow int64.
func parseNonce(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// unhex reads one hex digit already checked by isHex.
func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// Signer signs calls for one hotkey and one connection. It draws its receptor
// uid once, at NewSigner. A Signer is safe for concurrent use.
type Signer struct {
	key  *wallet.Keypair
	ss58 string
	uid  string
}

// NewSigner returns a Signer for key with a freshly drawn receptor uid.
func NewSigner(key *wallet.Keypair) (*Signer, error) {
	if key == nil {
		return nil, errors.New("auth: signer key: nil; want a hotkey")
	}
	return &Signer{key: key, ss58: key.SS58(), uid: newUID()}, nil
}

// newUID returns a random UUID (version 4) in its usual text form.
func newUID() string {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand.Read never fails; it aborts the program instead.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// SS58 returns the address of the signing hotkey.
func (s *Signer) SS58() string { return s.ss58 }

// ReceptorUID returns the uid drawn for this signer.
func (s *Signer) ReceptorUID() string { return s.uid }

// Sign returns the signature of nonce by the signer's hotkey.
func (s *Signer) Sign(nonce int64) (Signature, error) {
	sig := Signature{Nonce: nonce, SS58: s.ss58, ReceptorUID: s.uid}
	var buf [128]byte
	raw, err := s.key.Sign(sig.AppendMessage(buf[:0]))
	if err != nil {
		return sig, fmt.Errorf("auth: signing nonce %d: %w", nonce, err)
	}
	if len(raw) != len(sig.Sig) {
		return sig, fmt.Errorf("auth: signing nonce %d: signature of %d bytes, want %d", nonce, len(raw), len(sig.Sig))
	}
	copy(sig.Sig[:], raw)
	return sig, nil
}

// Pairs returns the four metadata keys and values of a call of type rt signed
// with nonce, in the protocol's order, as alternating key and value strings
// for metadata.AppendToOutgoingContext (which keeps their order on the wire).
func (s *Signer) Pairs(nonce int64, rt wire.RequestType) ([]string, error) {
	sig, err := s.Sign(nonce)
	if err != nil {
		return nil, err
	}
	return []string{
		KeyAuthHeader, AuthHeader,
		KeySignature, sig.String(),
		KeyVersion, versionValue,
		KeyRequestType, strconv.Itoa(int(rt)),
	}, nil
}

// AppendToOutgoingContext signs a call of type rt with the current time as
// nonce and returns ctx carrying the four metadata keys in order.
func (s *Signer) AppendToOutgoingContext(ctx context.Context, rt wire.RequestType) (context.Context, error) {
	kv, err := s.Pairs(time.Now().UnixMilli(), rt)
	if err != nil {
		return ctx, err
	}
	return metadata.AppendToOutgoingContext(ctx, kv...), nil
}
