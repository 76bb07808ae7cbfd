package synapse

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"sync"
)

// AllowedDelta is the freshness window, in nanoseconds, of the first nonce
// of a key from a dendrite of version VersionNonceWindow or later; the
// request's timeout (seconds) widens it.
const AllowedDelta = 4_000_000_000

// DefaultNonceCapacity is the number of keys a Nonces holds unless told
// otherwise.
const DefaultNonceCapacity = 1 << 16

// Texts of nonce failures, as a Python axon words them: a request without
// a nonce, and a nonce not above its key's last.
var (
	ErrMissingNonce = errors.New("Missing Nonce")                                    //lint:ignore ST1005 Python's text, verbatim
	ErrNonceReplay  = errors.New("Nonce is too old, a newer one was last processed") //lint:ignore ST1005 Python's text, verbatim
)

// Nonces holds the last accepted nonce of each key (hotkey:uuid) and
// applies bittensor's nonce rules. It is safe for concurrent use.
//
// A Python axon keeps every key forever; Nonces keeps at most its
// capacity and forgets the key stored least recently when full. So that
// forgetting never lets a request through twice, it keeps a floor: the
// largest nonce it has forgotten, capped at the clock when it forgot it.
// A key it does not hold must then carry a nonce above the floor, and, from
// a dendrite of version 7.2.0 or later, one inside the freshness window,
// as any new key must. A replayed nonce is at most its key's last accepted
// one, so once that key is forgotten the floor refuses it, unless that
// last nonce was ahead of the axon's clock when it was forgotten: such a
// nonce can be accepted once more. The floor cannot refuse a fresh key
// whose nonce is newer than the moment of the last eviction.
type Nonces struct {
	mu         sync.Mutex
	capacity   int
	m          map[string]*nonceEntry
	head, tail *nonceEntry // most and least recently stored
	floor      int64
	hasFloor   bool
}

type nonceEntry struct {
	key        string
	nonce      int64
	prev, next *nonceEntry // toward head, toward tail
}

// NewNonces returns an empty store holding at most capacity keys
// (DefaultNonceCapacity if capacity < 1).
func NewNonces(capacity int) *Nonces {
	if capacity < 1 {
		capacity = DefaultNonceCapacity
	}
	return &Nonces{capacity: capacity, m: make(map[string]*nonceEntry)}
}

// NonceRequest is what the nonce rules read from a request.
type NonceRequest struct {
	// Key is "{dendrite hotkey}:{dendrite uuid}", None written "None".
	Key     []byte
	Nonce   int64
	Version Opt[int64]   // the dendrite's version
	Timeout Opt[float64] // the request's timeout, seconds
}

// Check applies the nonce rules at time now (ns since the epoch) without
// storing anything. Its error's text is what a Python axon reports.
func (n *Nonces) Check(r *NonceRequest, now int64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.check(r, now)
}

// Accept is Check followed, when it passes, by storing r's nonce as its
// key's last, in one step.
func (n *Nonces) Accept(r *NonceRequest, now int64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.check(r, now); err != nil {
		return err
	}
	n.store(r.Key, r.Nonce, now)
	return nil
}

func (n *Nonces) check(r *NonceRequest, now int64) error {
	e, held := n.m[string(r.Key)]
	if held && r.Nonce <= e.nonce {
		return ErrNonceReplay
	}
	if held {
		return nil
	}
	if r.Version.OK && r.Version.V >= VersionNonceWindow && tooOld(r.Nonce, r.Timeout, now) {
		return nonceTooOld(r.Nonce, r.Timeout, now)
	}
	if n.hasFloor && r.Nonce <= n.floor {
		return ErrNonceReplay
	}
	return nil
}

// tooOld reports nonce <= now - AllowedDelta - (timeout or 0)·1e9,
// computed as Python computes it: in integers without a timeout, else in
// floats, compared exactly.
func tooOld(nonce int64, timeout Opt[float64], now int64) bool {
	if !timeout.OK || timeout.V == 0 {
		return nonce <= now-AllowedDelta
	}
	w := float64(now-AllowedDelta) - timeout.V*1e9
	switch {
	case math.IsNaN(w):
		return false
	case w >= math.MaxInt64: // 2^63
		return true
	case w < math.MinInt64:
		return false
	}
	return nonce <= int64(math.Floor(w))
}

// nonceTooOld is the error for a first nonce outside the window.
func nonceTooOld(nonce int64, timeout Opt[float64], now int64) error {
	allowed := float64(AllowedDelta) / 1e9
	if timeout.OK && timeout.V != 0 {
		allowed = (AllowedDelta + timeout.V*1e9) / 1e9
	}
	diff := new(big.Int).Sub(big.NewInt(now), big.NewInt(nonce))
	age, _ := new(big.Rat).SetFrac(diff, big.NewInt(1e9)).Float64()
	return errors.New("Nonce is too old: acceptable delta is " + pyFixed2(allowed) +
		" seconds but request was " + pyFixed2(age) + " seconds old")
}

// pyFixed2 formats f as Python's f"{f:.2f}".
func pyFixed2(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// store records nonce as key's last, evicting the least recently stored
// key when full.
func (n *Nonces) store(key []byte, nonce, now int64) {
	if e, ok := n.m[string(key)]; ok {
		e.nonce = nonce
		n.unlink(e)
		n.pushHead(e)
		return
	}
	if len(n.m) >= n.capacity {
		old := n.tail
		n.unlink(old)
		delete(n.m, old.key)
		if f := min(old.nonce, now); !n.hasFloor || f > n.floor {
			n.floor, n.hasFloor = f, true
		}
	}
	e := &nonceEntry{key: string(key), nonce: nonce}
	n.m[e.key] = e
	n.pushHead(e)
}

func (n *Nonces) unlink(e *nonceEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		n.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		n.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (n *Nonces) pushHead(e *nonceEntry) {
	e.next = n.head
	if n.head != nil {
		n.head.prev = e
	}
	n.head = e
	if n.tail == nil {
		n.tail = e
	}
}
