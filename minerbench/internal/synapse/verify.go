package synapse

import (
	"errors"
	"sync"

	"github.com/minerbench/minerbench/minerbench/wallet"
)

// maxCachedKeys bounds a Verifier's cache of decoded public keys.
const maxCachedKeys = 4096

// Verifier is a Python axon's default_verify: it checks a request's
// dendrite hotkey, nonce and signature against the axon's own hotkey and
// its Nonces. It is safe for concurrent use.
type Verifier struct {
	hotkey string
	nonces *Nonces

	mu   sync.Mutex
	keys map[string]*wallet.PublicKey // decoded hotkeys, dropped all at once when full
}

// NewVerifier returns a Verifier for the axon whose SS58 hotkey is
// hotkey, remembering nonces in nonces.
func NewVerifier(hotkey string, nonces *Nonces) *Verifier {
	return &Verifier{hotkey: hotkey, nonces: nonces, keys: make(map[string]*wallet.PublicKey)}
}

// Verify checks r at time now (ns since the epoch) and, when it passes,
// stores its nonce. The error's text is the reason a Python axon gives
// (its 401 message is NotVerifiedMessage of it). In order: the hotkey
// must be an SS58 address, the nonce present and acceptable (Nonces), and
// a non-empty signature must verify over the signed string made with
// this axon's hotkey and the header body hash; an empty or absent
// signature is not checked, as in Python.
func (v *Verifier) Verify(r *Request, now int64) error {
	d := &r.Dendrite
	if !d.Hotkey.OK {
		return errors.New("No SS58 formatted address or public key provided.") //lint:ignore ST1005 Python's text, verbatim
	}
	pub, err := v.publicKey(d.Hotkey.V)
	if err != nil {
		return errors.New("Invalid SS58 address: " + ss58Reason(err))
	}
	if !d.Nonce.OK {
		return ErrMissingNonce
	}
	var buf [160]byte
	key := append(append(append(buf[:0], d.Hotkey.V...), ':'), optStr(d.UUID)...)
	nr := NonceRequest{Key: key, Nonce: d.Nonce.V, Version: d.Version, Timeout: r.Timeout}
	if err := v.nonces.Check(&nr, now); err != nil {
		return err
	}
	if d.Signature.OK && d.Signature.V != "" {
		var mbuf [320]byte
		msg := AppendSignedString(mbuf[:0], d.Nonce.V, d.Hotkey.V, v.hotkey, optStr(d.UUID), optStr(r.BodyHash))
		ok, err := VerifySignature(pub, msg, d.Signature.V)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("Signature mismatch with " + string(msg) + " and " + d.Signature.V)
		}
	}
	// Checked again under one lock with the store, so that two requests
	// racing with one nonce cannot both pass.
	return v.nonces.Accept(&nr, now)
}

// publicKey decodes an SS58 address, from the cache when it can. An
// address whose key is not a valid point gives nil, which verifies
// nothing, as in Python, where such an address is accepted until a
// signature is checked.
func (v *Verifier) publicKey(ss58 string) (*wallet.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[ss58]; ok {
		return k, nil
	}
	raw, _, err := wallet.DecodeSS58(ss58)
	if err != nil {
		return nil, err
	}
	k, err := wallet.NewPublicKey(raw)
	if err != nil {
		k = nil
	}
	if len(v.keys) >= maxCachedKeys {
		clear(v.keys)
	}
	v.keys[ss58] = k
	return k, nil
}

func optStr(s Opt[string]) string {
	if !s.OK {
		return "None"
	}
	return s.V
}

// ss58Reason words an SS58 decoding error as the Rust library behind
// bittensor's Keypair does, where the kinds match.
func ss58Reason(err error) string {
	switch {
	case errors.Is(err, wallet.ErrBase58):
		return "Base 58 requirement is violated"
	case errors.Is(err, wallet.ErrLength):
		return "Length is bad"
	case errors.Is(err, wallet.ErrChecksum):
		return "Invalid checksum"
	case errors.Is(err, wallet.ErrPrefix):
		return "Invalid SS58 prefix byte."
	}
	return err.Error()
}
