package fairshare

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newBudget(t *testing.T, capacity, perPeer int64) *Budget {
	t.Helper()
	b, err := NewBudget(capacity, perPeer)
	require.NoError(t, err)
	return b
}

// acquireAsync starts Acquire and returns the channel of its result.
func acquireAsync(ctx context.Context, b *Budget, peer string, n int64) <-chan error {
	done := make(chan error, 1)
	go func() { done <- b.Acquire(ctx, peer, n) }()
	return done
}

// waiting waits until b has n waiters.
func waiting(t *testing.T, b *Budget, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.waiters) == n
	}, 5*time.Second, time.Millisecond)
}

func TestNewBudgetRefusesBadSizes(t *testing.T) {
	for _, c := range [][2]int64{{0, 1}, {1, 0}, {-1, 5}} {
		_, err := NewBudget(c[0], c[1])
		assert.ErrorContains(t, err, "want both at least 1", "capacity %d, per peer %d", c[0], c[1])
	}
	b := newBudget(t, 10, 20)
	assert.Equal(t, int64(10), b.Max(), "a share above the capacity is the capacity")
}

// A peer may not take more than its share even while the capacity has room,
// which is left to the other peers.
func TestBudgetPerPeerShare(t *testing.T) {
	b := newBudget(t, 100, 75)
	require.True(t, b.TryAcquire("a", 70))
	assert.False(t, b.TryAcquire("a", 10), "a would hold 80 of its share of 75")
	assert.True(t, b.TryAcquire("b", 30), "the rest is b's")
	assert.False(t, b.TryAcquire("c", 1), "the capacity is full")
	assert.Equal(t, int64(70), b.Held("a"))
	assert.Equal(t, int64(100), b.Used())
	b.Release("a", 70)
	b.Release("b", 30)
	assert.Equal(t, int64(0), b.Used())
	assert.Panics(t, func() { b.Release("a", 1) })
}

// A small request is granted as soon as it fits, while a larger one that
// came first still waits: the budget is not a queue.
func TestBudgetSmallDoesNotWaitBehindLarge(t *testing.T) {
	b := newBudget(t, 100, 100)
	require.True(t, b.TryAcquire("hog", 90))
	large := acquireAsync(t.Context(), b, "a", 50)
	waiting(t, b, 1)
	assert.True(t, b.TryAcquire("b", 10), "10 fit beside the 90, whatever waits")
	b.Release("b", 10)
	small := acquireAsync(t.Context(), b, "c", 5)
	require.NoError(t, <-small, "5 fit at once")
	b.Release("hog", 90)
	require.NoError(t, <-large, "50 fit once the hog released")
	assert.Equal(t, int64(55), b.Used())
}

// Waiters that fit are granted in the order they began to wait; one that
// does not fit is passed over, not waited for.
func TestBudgetGrantsWaitersThatFitInOrder(t *testing.T) {
	b := newBudget(t, 100, 60)
	require.True(t, b.TryAcquire("a", 60))
	require.True(t, b.TryAcquire("b", 40))
	overShare := acquireAsync(t.Context(), b, "a", 10)
	waiting(t, b, 1)
	first := acquireAsync(t.Context(), b, "c", 30)
	waiting(t, b, 2)
	second := acquireAsync(t.Context(), b, "d", 20)
	waiting(t, b, 3)
	b.Release("b", 40)
	require.NoError(t, <-first)
	select {
	case err := <-second:
		t.Fatalf("20 granted beside 60 and 30 of 100: %v", err)
	case err := <-overShare:
		t.Fatalf("a granted beyond its share of 60: %v", err)
	default:
	}
	b.Release("a", 60)
	require.NoError(t, <-overShare, "a holds nothing now; 10 fit")
	require.NoError(t, <-second)
	assert.Equal(t, int64(60), b.Used())
}

// An Acquire whose context ends holds nothing; one larger than a share
// fails at once.
func TestBudgetAcquireEnds(t *testing.T) {
	b := newBudget(t, 100, 50)
	assert.ErrorContains(t, b.Acquire(t.Context(), "a", 51), "exceeds the most a peer may hold, 50")
	require.True(t, b.TryAcquire("a", 50))
	ctx, cancel := context.WithCancel(t.Context())
	done := acquireAsync(ctx, b, "a", 1)
	waiting(t, b, 1)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	waiting(t, b, 0)
	b.Release("a", 50)
	assert.Equal(t, int64(0), b.Used())
}

// An elastic budget lets a peer alone take beyond its share; once another
// peer holds units, each is held to its share again.
func TestElasticBudget(t *testing.T) {
	b, err := NewElasticBudget(10, 4)
	require.NoError(t, err)
	assert.Equal(t, int64(10), b.Max())
	require.True(t, b.TryAcquire("a", 6), "a is alone")
	require.True(t, b.TryAcquire("b", 1))
	assert.False(t, b.TryAcquire("a", 1), "a holds 6 beyond its share of 4 while b holds units")
	assert.True(t, b.TryAcquire("b", 3), "b takes up to its share")
	assert.False(t, b.TryAcquire("b", 1))
	b.Release("b", 4)
	assert.True(t, b.TryAcquire("a", 4), "a is alone again")
	assert.False(t, b.TryAcquire("a", 1), "the capacity is full")
	_, err = NewElasticBudget(0, 1)
	assert.Error(t, err)
}
