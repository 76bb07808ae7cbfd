package synapse

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sec = int64(1_000_000_000)

func nonceReq(key string, nonce int64, version Opt[int64], timeout Opt[float64]) *NonceRequest {
	return &NonceRequest{Key: []byte(key), Nonce: nonce, Version: version, Timeout: timeout}
}

// TestNonceWindow: a new key from a 7.2.0+ dendrite needs a nonce newer
// than now - 4 s - timeout; the bound itself is too old.
func TestNonceWindow(t *testing.T) {
	now := int64(1767225600) * sec
	v := Some[int64](Version)
	n := NewNonces(0)
	err := n.Check(nonceReq("a:u", now-16*sec, v, Some(12.0)), now)
	assert.EqualError(t, err, "Nonce is too old: acceptable delta is 16.00 seconds but request was 16.00 seconds old")
	assert.NoError(t, n.Check(nonceReq("a:u", now-16*sec+1, v, Some(12.0)), now))

	err = n.Check(nonceReq("a:u", now-4*sec, v, Opt[float64]{}), now)
	assert.EqualError(t, err, "Nonce is too old: acceptable delta is 4.00 seconds but request was 4.00 seconds old")
	err = n.Check(nonceReq("a:u", now-5*sec-123_456_789, v, Some(0.0)), now)
	assert.EqualError(t, err, "Nonce is too old: acceptable delta is 4.00 seconds but request was 5.12 seconds old")
	err = n.Check(nonceReq("a:u", 0, v, Some(0.5)), now)
	assert.EqualError(t, err, "Nonce is too old: acceptable delta is 4.50 seconds but request was 1767225600.00 seconds old")

	// A negative timeout narrows the window, NaN disables it, -inf
	// refuses everything, as Python's arithmetic does.
	assert.Error(t, n.Check(nonceReq("a:u", now-3*sec, v, Some(-1.5)), now))
	assert.NoError(t, n.Check(nonceReq("a:u", 0, v, Some(nan())), now))
	assert.EqualError(t, n.Check(nonceReq("a:u", now, v, Some(negInf())), now),
		"Nonce is too old: acceptable delta is -inf seconds but request was 0.00 seconds old")

	// Older dendrites, or none named, have no window.
	assert.NoError(t, n.Check(nonceReq("a:u", 1, Some[int64](VersionNonceWindow-1), Some(12.0)), now))
	assert.NoError(t, n.Check(nonceReq("a:u", 1, Opt[int64]{}, Some(12.0)), now))
	assert.Zero(t, len(n.m), "Check stores nothing")
}

// TestNonceIncreasing: once a key is held, its nonces must strictly
// increase, and freshness no longer matters.
func TestNonceIncreasing(t *testing.T) {
	now := int64(1767225600) * sec
	v := Some[int64](Version)
	n := NewNonces(0)
	require.NoError(t, n.Accept(nonceReq("a:u", now, v, Some(12.0)), now))
	assert.ErrorIs(t, n.Accept(nonceReq("a:u", now, v, Some(12.0)), now), ErrNonceReplay)
	assert.ErrorIs(t, n.Accept(nonceReq("a:u", now-1, v, Some(12.0)), now), ErrNonceReplay)
	assert.NoError(t, n.Accept(nonceReq("a:u", now+1, v, Some(12.0)), now+100*sec))
	assert.NoError(t, n.Accept(nonceReq("a:v", now, v, Some(12.0)), now), "another uuid is another key")
	assert.Equal(t, "Nonce is too old, a newer one was last processed", ErrNonceReplay.Error())
}

// TestNonceEviction: a full store forgets its least recently stored key,
// and the floor keeps a forgotten key's old nonces refused even where no
// freshness window applies.
func TestNonceEviction(t *testing.T) {
	now := int64(1767225600) * sec
	old := Opt[int64]{} // no version: no window
	n := NewNonces(2)
	require.NoError(t, n.Accept(nonceReq("a:u", 100, old, Opt[float64]{}), now))
	require.NoError(t, n.Accept(nonceReq("b:u", 200, old, Opt[float64]{}), now))
	require.NoError(t, n.Accept(nonceReq("a:u", 300, old, Opt[float64]{}), now)) // a is now the most recent
	require.NoError(t, n.Accept(nonceReq("c:u", 400, old, Opt[float64]{}), now)) // evicts b
	assert.Equal(t, 2, len(n.m))
	assert.ErrorIs(t, n.Accept(nonceReq("b:u", 200, old, Opt[float64]{}), now), ErrNonceReplay, "replay of an evicted key")
	assert.ErrorIs(t, n.Accept(nonceReq("d:u", 150, old, Opt[float64]{}), now), ErrNonceReplay, "at or below the floor")
	assert.NoError(t, n.Accept(nonceReq("b:u", 201, old, Opt[float64]{}), now), "a newer nonce of an evicted key")
	assert.ErrorIs(t, n.Accept(nonceReq("a:u", 300, old, Opt[float64]{}), now), ErrNonceReplay, "a was evicted by b; the floor is 300")

	// A nonce ahead of the clock raises the floor only to the clock.
	f := NewNonces(1)
	require.NoError(t, f.Accept(nonceReq("a:u", now+50*sec, old, Opt[float64]{}), now))
	require.NoError(t, f.Accept(nonceReq("b:u", 1, old, Opt[float64]{}), now))
	assert.NoError(t, f.Accept(nonceReq("c:u", now+1, old, Opt[float64]{}), now))
}

// TestNonceConcurrent: of many requests racing with one nonce, one passes.
func TestNonceConcurrent(t *testing.T) {
	now := int64(1767225600) * sec
	n := NewNonces(0)
	var passed atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if n.Accept(nonceReq("a:u", now, Some[int64](Version), Some(12.0)), now) == nil {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), passed.Load())
}
