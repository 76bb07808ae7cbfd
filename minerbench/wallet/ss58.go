package wallet

import (
	"errors"
	"fmt"

	"github.com/mr-tron/base58"
	"golang.org/x/crypto/blake2b"
)

// MaxPrefix is the largest SS58 prefix. Prefixes are 14-bit numbers.
const MaxPrefix = 1<<14 - 1

// maxSS58Len bounds the text DecodeSS58 will base58-decode.
//
// The longest address it accepts, of 36 bytes, is 50 characters. The bound
// keeps a hostile header from costing quadratic base58 decoding time.
const maxSS58Len = 64

// checksumSize is how many bytes of the blake2b-512 hash SS58 keeps for a
// 32-byte key.
const checksumSize = 2

// ss58Context is hashed before the payload when computing the checksum.
var ss58Context = []byte("SS58PRE")

// Kinds of SS58 error, for errors.Is on the errors DecodeSS58 returns.
var (
	// ErrBase58 is an address that is empty or holds a character outside the
	// base58 alphabet.
	ErrBase58 = errors.New("not base58")
	// ErrLength is an address that decodes to a length other than a prefix,
	// a 32-byte public key and a 2-byte checksum.
	ErrLength = errors.New("wrong length")
	// ErrPrefix is an address whose prefix byte is reserved (128..255) or a
	// two-byte prefix below 64, which has a one-byte form.
	ErrPrefix = errors.New("bad prefix")
	// ErrChecksum is an address whose checksum does not match its contents.
	ErrChecksum = errors.New("bad checksum")
)

// SS58Error is the error DecodeSS58 returns.
//
// It holds the address and the kind of problem, one of ErrBase58,
// ErrLength, ErrPrefix and ErrChecksum. It says what was found and what is
// accepted.
type SS58Error struct {
	// Address is the text that was refused.
	Address string
	// Kind is one of ErrBase58, ErrLength, ErrPrefix or ErrChecksum.
	Kind error
	// Detail says what was found and what is accepted.
	Detail string
}

// Error returns the message of e.
func (e *SS58Error) Error() string {
	return fmt.Sprintf("wallet: ss58 address %q: %v: %s", e.Address, e.Kind, e.Detail)
}

// Unwrap returns the kind of e, so errors.Is(err, ErrChecksum) works.
func (e *SS58Error) Unwrap() error { return e.Kind }

// EncodeSS58 writes pub as an SS58 address with the given prefix.
//
// Prefixes 0..63 take one byte and 64..MaxPrefix two, as in Substrate.
// SS58 cannot carry a prefix above MaxPrefix. Such a prefix gives the
// empty string, which DecodeSS58 refuses.
func EncodeSS58(pub [32]byte, prefix uint16) string {
	var buf [2 + PublicKeySize + checksumSize]byte
	var n int
	switch {
	case prefix < 64:
		buf[0] = byte(prefix)
		n = 1
	case prefix <= MaxPrefix:
		// Substrate's layout: the first byte is 0b01 followed by bits 7..2
		// of the prefix; the second holds bits 1..0 of the prefix in its top
		// two bits and bits 13..8 in its low six.
		buf[0] = 0b0100_0000 | byte(prefix&0xfc)>>2
		buf[1] = byte(prefix>>8) | byte(prefix&0b11)<<6
		n = 2
	default:
		return ""
	}
	n += copy(buf[n:], pub[:])
	sum := ss58Checksum(buf[:n])
	n += copy(buf[n:], sum[:checksumSize])
	return base58.Encode(buf[:n])
}

// DecodeSS58 reads an SS58 address, checking its checksum.
//
// It accepts addresses of 32-byte public keys with any prefix, of one byte
// (0..63) or two (64..MaxPrefix). Every error is an *SS58Error.
func DecodeSS58(addr string) (pub [32]byte, prefix uint16, err error) {
	fail := func(kind error, format string, args ...any) ([32]byte, uint16, error) {
		return [32]byte{}, 0, &SS58Error{Address: addr, Kind: kind, Detail: fmt.Sprintf(format, args...)}
	}
	if len(addr) > maxSS58Len {
		return fail(ErrLength, "%d characters; want at most %d", len(addr), maxSS58Len)
	}
	data, b58err := base58.Decode(addr)
	if b58err != nil {
		return fail(ErrBase58, "%v; want a non-empty string of base58 (Bitcoin alphabet) characters", b58err)
	}
	if len(data) == 0 {
		return fail(ErrLength, "0 bytes; want 35 or 36")
	}
	var prefixLen int
	switch first := data[0]; {
	case first < 64:
		prefix, prefixLen = uint16(first), 1
	case first < 128:
		if len(data) < 2 {
			return fail(ErrLength, "1 byte; want 36 bytes with a two-byte prefix")
		}
		prefix = uint16(first&0b0011_1111)<<2 | uint16(data[1]>>6) | uint16(data[1]&0b0011_1111)<<8
		prefixLen = 2
		if prefix < 64 {
			return fail(ErrPrefix, "two-byte prefix %d; want 64..%d in two bytes (0..63 take one byte)", prefix, MaxPrefix)
		}
	default:
		return fail(ErrPrefix, "first byte %d is reserved; want 0..127", first)
	}
	if want := prefixLen + PublicKeySize + checksumSize; len(data) != want {
		return fail(ErrLength, "%d bytes; want %d (a %d-byte prefix, a %d-byte public key and a %d-byte checksum)",
			len(data), want, prefixLen, PublicKeySize, checksumSize)
	}
	body := data[:prefixLen+PublicKeySize]
	sum := ss58Checksum(body)
	if got := data[len(body):]; got[0] != sum[0] || got[1] != sum[1] {
		return fail(ErrChecksum, "checksum %x; want %x for this prefix and key", got, sum[:checksumSize])
	}
	copy(pub[:], data[prefixLen:])
	return pub, prefix, nil
}

// ss58Checksum is blake2b-512 of "SS58PRE" followed by body (prefix and key).
func ss58Checksum(body []byte) [blake2b.Size]byte {
	buf := make([]byte, 0, len(ss58Context)+len(body))
	buf = append(buf, ss58Context...)
	buf = append(buf, body...)
	return blake2b.Sum512(buf)
}
