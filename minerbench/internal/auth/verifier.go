package auth

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/minerbench/minerbench/minerbench/wallet"
)

// Defaults of VerifierConfig.
const (
	// DefaultMaxKeys is the default bound on cached public keys.
	DefaultMaxKeys = 4096
	// DefaultMaxPeers is the default bound on remembered sender+receptor nonces.
	DefaultMaxPeers = 65536
	// DefaultMaxClockSkew is how far from the verifier's clock a nonce may be
	// by default.
	DefaultMaxClockSkew = time.Minute
)

// reservedPrefixes are the SS58 network prefixes Substrate reserves, which
// Bittensor 2.0.4 (through substrate-interface 1.0.2) refuses.
var reservedPrefixes = [...]uint16{46, 47}

// VerifierConfig bounds the memory of a Verifier and the nonces it accepts.
// Zero values mean the defaults.
type VerifierConfig struct {
	// MaxKeys bounds the cache of decoded SS58 public keys (DefaultMaxKeys).
	MaxKeys int
	// MaxPeers bounds the table of last nonces per SS58 and receptor uid
	// (DefaultMaxPeers).
	MaxPeers int
	// MaxClockSkew is how far a nonce may be from the verifier's clock,
	// ahead or behind (DefaultMaxClockSkew). Bittensor 2.0.4 had no such
	// bound: it accepted nonce 1, and a nonce far in the future locked its
	// own sender out until the clock caught up.
	MaxClockSkew time.Duration
}

// Verifier checks the authentication metadata of incoming calls. It caches
// decoded public keys per SS58 address and keeps the nonce of the last call
// accepted per SS58 and receptor uid, both in bounded tables. A Verifier is
// safe for concurrent use.
//
// Both tables keep two generations of at most half the bound each: when the
// current one is full the older one is dropped. A dropped nonce entry must
// not let its old signatures be replayed, so the newest dropped nonce
// (capped at the time of dropping) becomes a floor that a sender with no
// entry is held to as to its own last nonce. Until a table first fills there
// is no floor.
type Verifier struct {
	now  func() int64 // milliseconds since the Unix epoch
	skew int64        // MaxClockSkew in milliseconds

	keyMu sync.Mutex
	keys  generations[string, *wallet.PublicKey]

	nonceMu sync.Mutex
	nonces  generations[peer, int64]
	floor   int64
}

type peer struct{ ss58, uid string }

// NewVerifier returns a Verifier bounded by cfg.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	var errs []error
	if cfg.MaxKeys < 0 {
		errs = append(errs, fmt.Errorf("auth: VerifierConfig.MaxKeys: %d; want 0 (default %d) or more", cfg.MaxKeys, DefaultMaxKeys))
	}
	if cfg.MaxPeers < 0 {
		errs = append(errs, fmt.Errorf("auth: VerifierConfig.MaxPeers: %d; want 0 (default %d) or more", cfg.MaxPeers, DefaultMaxPeers))
	}
	if cfg.MaxClockSkew < 0 {
		errs = append(errs, fmt.Errorf("auth: VerifierConfig.MaxClockSkew: %v; want 0 (default %v) or more", cfg.MaxClockSkew, DefaultMaxClockSkew))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.MaxPeers == 0 {
		cfg.MaxPeers = DefaultMaxPeers
	}
	if cfg.MaxClockSkew == 0 {
		cfg.MaxClockSkew = DefaultMaxClockSkew
	}
	v := &Verifier{
		now:  func() int64 { return time.Now().UnixMilli() },
		skew: cfg.MaxClockSkew.Milliseconds(),
	}
	v.keys.init(cfg.MaxKeys, nil)
	v.nonces.init(cfg.MaxPeers, v.dropNonces)
	return v, nil
}

// VerifyMetadata checks the metadata of an incoming gRPC call and returns
// its signature. It refuses a missing or wrong KeyAuthHeader; a missing,
// repeated or malformed KeySignature; a nonce more than MaxClockSkew from
// the verifier's clock; an SS58 address that does not decode, or whose
// network prefix Substrate reserves (46, 47); a signature that does not
// verify; and a replay: a nonce that is not more than ReplayTolerance above
// the nonce of the last call accepted from the same SS58 and receptor uid.
// KeyVersion and KeyRequestType are not enforced. Every error is an *Error.
func (v *Verifier) VerifyMetadata(md metadata.MD) (Signature, error) {
	header, err := single(md, KeyAuthHeader)
	if err != nil {
		return Signature{}, err
	}
	if header != AuthHeader {
		return Signature{}, &Error{Kind: ErrAuthHeader, Field: KeyAuthHeader, Value: header, Want: AuthHeader}
	}
	value, err := single(md, KeySignature)
	if err != nil {
		return Signature{}, err
	}
	return v.Verify(value)
}

// single returns the one value of key in md.
func single(md metadata.MD, key string) (string, error) {
	vals := md.Get(key)
	if len(vals) != 1 {
		return "", &Error{Kind: ErrMissing, Field: key, Value: strings.Join(vals, ","), Want: "exactly one value"}
	}
	return vals[0], nil
}

// Verify checks one KeySignature value, as VerifyMetadata does, and records
// its nonce as the sender's last accepted one.
func (v *Verifier) Verify(value string) (Signature, error) {
	sig, err := ParseSignature(value)
	if err != nil {
		return sig, err
	}
	if now := v.now(); sig.Nonce < now-v.skew || sig.Nonce > now+v.skew {
		return sig, &Error{Kind: ErrClock, Field: KeySignature + " nonce", Value: strconv.FormatInt(sig.Nonce, 10),
			Want: fmt.Sprintf("milliseconds since the Unix epoch within %d ms of the verifier's clock (%d)", v.skew, now)}
	}
	pub, err := v.publicKey(sig.SS58)
	if err != nil {
		return sig, err
	}
	var buf [128]byte
	if !pub.Verify(sig.AppendMessage(buf[:0]), sig.Sig[:]) {
		return sig, &Error{Kind: ErrBadSignature, Field: KeySignature, Value: value,
			Want: "an sr25519 signature of NONCE+SS58+RECEPTOR_UID by the SS58 key"}
	}
	if err := v.checkNonce(sig); err != nil {
		return sig, err
	}
	return sig, nil
}

// publicKey returns the decoded key of an SS58 address, from the cache when
// it is there.
func (v *Verifier) publicKey(ss58 string) (*wallet.PublicKey, error) {
	v.keyMu.Lock()
	pub, ok := v.keys.get(ss58)
	v.keyMu.Unlock()
	if ok {
		return pub, nil
	}
	raw, prefix, err := wallet.DecodeSS58(ss58)
	if err != nil {
		return nil, &Error{Kind: ErrSS58, Field: KeySignature + " ss58", Value: ss58,
			Want: fmt.Sprintf("an SS58 address (%v)", err)}
	}
	if slices.Contains(reservedPrefixes[:], prefix) {
		return nil, &Error{Kind: ErrSS58, Field: KeySignature + " ss58", Value: ss58,
			Want: fmt.Sprintf("a network prefix other than the reserved %v", reservedPrefixes)}
	}
	pub, err = wallet.NewPublicKey(raw)
	if err != nil {
		return nil, &Error{Kind: ErrSS58, Field: KeySignature + " ss58", Value: ss58,
			Want: fmt.Sprintf("a valid sr25519 public key (%v)", err)}
	}
	v.keyMu.Lock()
	v.keys.put(strings.Clone(ss58), pub)
	v.keyMu.Unlock()
	return pub, nil
}

// checkNonce refuses a replay and records the nonce as the sender's last
// accepted one, as Bittensor 2.0.4 did: the latest accepted, which may be
// below the one before it, not the highest.
func (v *Verifier) checkNonce(sig Signature) error {
	tol := ReplayTolerance.Milliseconds()
	k := peer{sig.SS58, sig.ReceptorUID}
	v.nonceMu.Lock()
	defer v.nonceMu.Unlock()
	last, ok := v.nonces.get(k)
	if !ok {
		last = v.floor
	}
	if (ok || v.floor > 0) && sig.Nonce-last <= -tol {
		return &Error{Kind: ErrReplay, Field: KeySignature + " nonce", Value: strconv.FormatInt(sig.Nonce, 10),
			Want: fmt.Sprintf("more than %d (the last accepted nonce %d minus %d ms)", last-tol, last, tol)}
	}
	if !ok {
		k = peer{strings.Clone(k.ss58), strings.Clone(k.uid)}
	}
	v.nonces.put(k, sig.Nonce)
	return nil
}

// dropNonces raises the floor to the newest nonce of a dropped generation,
// but never above the current time, so that a sender claiming a future clock
// cannot lock others out. Called with nonceMu held.
func (v *Verifier) dropNonces(old map[peer]int64) {
	newest := int64(0)
	for _, n := range old {
		newest = max(newest, n)
	}
	v.floor = max(v.floor, min(newest, v.now()))
}

// generations is a map bounded to about max entries: two generations of at
// most max/2 entries each; a hit in the older generation moves the entry to
// the current one, and when the current one is full the older one is dropped.
type generations[K comparable, V any] struct {
	cur, old map[K]V
	half     int
	onDrop   func(map[K]V)
}

func (g *generations[K, V]) init(maxEntries int, onDrop func(map[K]V)) {
	g.half = max(1, maxEntries/2)
	g.cur = make(map[K]V)
	g.old = make(map[K]V)
	g.onDrop = onDrop
}

func (g *generations[K, V]) get(k K) (V, bool) {
	if v, ok := g.cur[k]; ok {
		return v, true
	}
	v, ok := g.old[k]
	if ok {
		delete(g.old, k)
		g.put(k, v)
	}
	return v, ok
}

func (g *generations[K, V]) put(k K, v V) {
	if _, ok := g.cur[k]; !ok && len(g.cur) >= g.half {
		if g.onDrop != nil && len(g.old) > 0 {
			g.onDrop(g.old)
		}
		g.old = g.cur
		g.cur = make(map[K]V, g.half)
	}
	g.cur[k] = v
}

func (g *generations[K, V]) len() int { return len(g.cur) + len(g.old) }
