package synapse

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/minerbench/minerbench/minerbench/wallet"
)

// SignatureLen is the length of a signature header value: "0x" and 128
// lowercase hex digits.
const SignatureLen = 2 + 2*wallet.SignatureSize

// AppendSignedString appends the string a dendrite signs:
// {nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.{body_hash}.
func AppendSignedString(dst []byte, nonce int64, dendriteHotkey, axonHotkey, uuid, bodyHash string) []byte {
	dst = strconv.AppendInt(dst, nonce, 10)
	dst = append(append(dst, '.'), dendriteHotkey...)
	dst = append(append(dst, '.'), axonHotkey...)
	dst = append(append(dst, '.'), uuid...)
	return append(append(dst, '.'), bodyHash...)
}

// AppendSignature signs msg with key (sr25519, "substrate" context) and
// appends the signature's header form: "0x" and 128 lowercase hex digits.
func AppendSignature(dst []byte, key *wallet.Keypair, msg []byte) ([]byte, error) {
	sig, err := key.Sign(msg)
	if err != nil {
		return dst, err
	}
	return hex.AppendEncode(append(dst, "0x"...), sig), nil
}

// errSigFormat is the text of a signature not written as 0x-prefixed hex.
var errSigFormat = errors.New("Invalid signature format. Expected hex string.") //lint:ignore ST1005 Python's text, verbatim

// errSigLength is the text of a signature that is not 64 bytes long.
var errSigLength = errors.New("Invalid signature") //lint:ignore ST1005 Python's text, verbatim

// VerifySignature reports whether sig (the header value) is pub's
// signature of msg, as bittensor's Keypair.verify decides (a nil pub, an
// address that is not a valid key, verifies nothing): it also
// accepts a signature of "<Bytes>"+msg+"</Bytes>". A value that is not
// "0x" followed by an even number of hex digits, or not 64 bytes, is an
// error with Python's text (every leading "0x" is removed first, as its
// trim_start_matches does).
func VerifySignature(pub *wallet.PublicKey, msg []byte, sig string) (bool, error) {
	if !strings.HasPrefix(sig, "0x") {
		return false, errSigFormat
	}
	digits := sig
	for strings.HasPrefix(digits, "0x") {
		digits = digits[2:]
	}
	var raw [wallet.SignatureSize]byte
	if err := decodeSigHex(raw[:], digits); err != nil {
		return false, err
	}
	if pub == nil {
		return false, nil
	}
	if pub.Verify(msg, raw[:]) {
		return true, nil
	}
	wrapped := make([]byte, 0, len(msg)+len("<Bytes></Bytes>"))
	wrapped = append(append(append(wrapped, "<Bytes>"...), msg...), "</Bytes>"...)
	return pub.Verify(wrapped, raw[:]), nil
}

// decodeSigHex decodes hex digits into dst, which they must fill
// exactly, failing with the texts of Rust's hex crate as btwallet shows
// them.
func decodeSigHex(dst []byte, digits string) error {
	// Python hands the string to Rust as UTF-8; header bytes above 0x7f
	// are Latin-1 characters, two bytes each.
	utf := []byte(digits)
	if !isASCII(digits) {
		utf = utf[:0:0]
		for i := 0; i < len(digits); i++ {
			utf = append(utf, string(rune(digits[i]))...)
		}
	}
	if len(utf)%2 != 0 {
		return errors.New("Invalid hex string: OddLength") //lint:ignore ST1005 Python's text, verbatim
	}
	for i, c := range utf {
		if !isHex(c) {
			return fmt.Errorf("Invalid hex string: InvalidHexCharacter { c: %s, index: %d }", rustCharDebug(rune(c)), i) //lint:ignore ST1005 Python's text, verbatim
		}
	}
	if len(utf) != 2*len(dst) {
		return errSigLength
	}
	_, err := hex.Decode(dst, utf)
	return err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// rustCharDebug writes a character (below 256) as Rust's Debug of char.
func rustCharDebug(r rune) string {
	switch {
	case r == '\'' || r == '\\':
		return `'\` + string(r) + `'`
	case r == 0:
		return `'\0'`
	case r == '\t':
		return `'\t'`
	case r == '\n':
		return `'\n'`
	case r == '\r':
		return `'\r'`
	case r < 0x20 || r >= 0x7f && r < 0xa0 || r == 0xad:
		return fmt.Sprintf(`'\u{%x}'`, r)
	}
	return "'" + string(r) + "'"
}
