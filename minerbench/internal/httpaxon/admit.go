package httpaxon

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/minerbench/minerbench/minerbench/internal/fairshare"
)

// smallAnswer is the size up to which an answer takes nothing from the
// answer budget: a small query's answer never waits behind large ones.
// Such answers are bounded by the connections, one each.
const smallAnswer = 64 << 10

// admission holds the axon's shared limits, shared fairly among peers as
// the gRPC axon's: requests being received; calls admitted (running or
// waiting), at most MaxCallsPerPeer of one peer; workers, served in order;
// and the budget of answer bytes being written, at most
// MaxAnswerBytesPerPeer of one peer. A built answer waits for the budget
// on its worker, and at most half the workers wait so for one peer: a
// peer that does not read its answers holds that, and its further answers
// are refused, so the other peers always find workers.
type admission struct {
	requests    atomic.Int64
	maxRequests int64

	calls          *fairshare.Budget
	workers        *fairshare.Budget
	answers        *fairshare.Budget
	answerWaits    *fairshare.Budget // workers waiting for the answer budget
	waitingWorkers atomic.Int64
	queue          int64
}

func newAdmission(cfg Config) (*admission, error) {
	ad := &admission{maxRequests: int64(cfg.MaxRequestsInFlight), queue: int64(cfg.QueueSize)}
	// Calls are held briefly: a peer alone, a benchmark on loopback, may
	// use every worker and the whole queue, as the gRPC axon allows.
	var err error
	if ad.calls, err = fairshare.NewElasticBudget(int64(cfg.Workers+cfg.QueueSize), int64(cfg.MaxCallsPerPeer)); err != nil {
		return nil, err
	}
	for _, b := range []struct {
		to                *(*fairshare.Budget)
		capacity, perPeer int64
	}{
		{&ad.workers, int64(cfg.Workers), int64(cfg.Workers)},
		{&ad.answers, cfg.AnswerBudget, cfg.MaxAnswerBytesPerPeer},
		{&ad.answerWaits, int64(cfg.Workers), int64(max(cfg.Workers/2, 1))},
	} {
		if *b.to, err = fairshare.NewBudget(b.capacity, b.perPeer); err != nil {
			return nil, err
		}
	}
	return ad, nil
}

// enterRequest counts a request being received, unless MaxRequestsInFlight
// are; exitRequest ends it.
func (ad *admission) enterRequest() bool {
	if ad.requests.Add(1) > ad.maxRequests {
		ad.requests.Add(-1)
		return false
	}
	return true
}

func (ad *admission) exitRequest() { ad.requests.Add(-1) }

// admit takes one of peer's calls and a worker, waiting for the worker
// while at most QueueSize calls wait, until ctx ends. It returns what
// gives back the call (the worker is given back on its own), or the reason
// of a refusal: full (503) or late (408).
func (ad *admission) admit(ctx context.Context, peer string) (release func(), full bool, err error) {
	if !ad.calls.TryAcquire(peer, 1) {
		return nil, true, fmt.Errorf("Service unavailable: %d calls of %s admitted, its share (MaxCallsPerPeer), or all the axon admits", ad.calls.Max(), peer) //lint:ignore ST1005 worded as the protocol's messages
	}
	release = func() { ad.calls.Release(peer, 1) }
	if ad.workers.TryAcquire(peer, 1) {
		return release, false, nil
	}
	if ad.waitingWorkers.Add(1) > ad.queue {
		ad.waitingWorkers.Add(-1)
		release()
		return nil, true, fmt.Errorf("Service unavailable: %d calls waiting, the most the axon queues", ad.queue) //lint:ignore ST1005 worded as the protocol's messages
	}
	defer ad.waitingWorkers.Add(-1)
	if err := ad.workers.Acquire(ctx, peer, 1); err != nil {
		release()
		return nil, false, err
	}
	return release, false, nil
}

// answerBytes takes n bytes of the answer budget for peer, or nothing for
// a small answer, and returns what gives them back. It refuses at once
// (full) when half the workers already wait so for peer.
func (ad *admission) answerBytes(ctx context.Context, peer string, n int64) (release func(), full bool, err error) {
	if n <= smallAnswer {
		return func() {}, false, nil
	}
	if ad.answers.TryAcquire(peer, n) {
		return func() { ad.answers.Release(peer, n) }, false, nil
	}
	if !ad.answerWaits.TryAcquire(peer, 1) {
		return nil, true, fmt.Errorf("Service unavailable: %d answers of %s wait to be sent, its share", ad.answerWaits.Max(), peer) //lint:ignore ST1005 worded as the protocol's messages
	}
	defer ad.answerWaits.Release(peer, 1)
	if err := ad.answers.Acquire(ctx, peer, n); err != nil {
		return nil, false, err
	}
	return func() { ad.answers.Release(peer, n) }, false, nil
}
