package axon

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/minerbench/minerbench/minerbench/internal/auth"
	"github.com/minerbench/minerbench/minerbench/internal/heaptest"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// Generous bounds for things that must happen; the machine is shared.
const (
	mustHappen = time.Minute
	poll       = time.Millisecond
)

// clients returns n raw clients, each on its own connection.
func clients(t *testing.T, addr string, n int) []wire.BittensorClient {
	t.Helper()
	out := make([]wire.BittensorClient, n)
	for i := range out {
		out[i] = client(t, addr)
	}
	return out
}

// TestQueueBoundedUnderLoad floods an axon of one slot and a queue of two,
// whose handler is blocked, with 200 concurrent callers over several
// connections: exactly three calls are taken (one running, two queued), the
// other 197 answer NucleusFull at once, and the server holds no more than
// those three requests while the handler stays blocked.
func TestQueueBoundedUnderLoad(t *testing.T) {
	const (
		callers = 200
		conns   = 4
		queue   = 2
	)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	var calls atomic.Int32
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		if calls.Add(1) == 1 {
			started <- struct{}{}
		}
		<-release
		return zeros(ctx, tokens(1, 1)) // a small answer: the client's receive limit is 4 MiB
	}
	// The request's announced answer, [32, 1024, wire.NetworkDim] float32
	// (128 MiB), must fit the message size limit for the calls to be
	// admitted; the handler answers small. A connection's reader verifies
	// the headers of its calls one after another, so on a busy machine a
	// body can wait behind many verifications: no RequestTimeout here.
	s := serve(t, Config{Workers: 1, QueueSize: queue, ForwardTimeout: time.Hour, MaxMessageSize: 256 << 20, RequestTimeout: time.Hour}, fwd)
	// Registered after serve, so it runs before the axon's Stop waits for
	// the blocked calls.
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	cs := clients(t, s.addr, conns)

	// One request of 256 KiB of token ids, shared by every caller: the
	// client side holds one copy, and each call the server keeps costs it
	// at least one more.
	req := textRequest(t, tokens(32, 1024))
	reqSize := len(req.Tensors[0].Buffer)

	var wg sync.WaitGroup
	tally := forwardTally{got: map[wire.ReturnCode]int{}}
	// One receptor uid per caller, as concurrent callers sharing one could
	// be refused as replays.
	signers := make([]*auth.Signer, callers)
	for i := range signers {
		signers[i] = newSigner(t, "client"+strconv.Itoa(i))
	}

	wg.Go(func() { tally.call(t, cs[0], signers[0], req) })
	<-started // the one slot is taken from here on
	before := heaptest.Live()
	for i := 1; i < callers; i++ {
		wg.Go(func() { tally.call(t, cs[i%conns], signers[i], req) })
	}
	require.Eventually(t, func() bool { return tally.answered.Load() >= callers-1-queue }, mustHappen, poll,
		"the calls beyond the queue are answered while the handler is blocked")

	grown := heaptest.Live() - before
	t.Logf("live heap grew by %d bytes with %d calls refused", grown, tally.answered.Load())
	assert.Equal(t, int32(queue), s.axon.waiting.Load(), "the queue is full")
	assert.Equal(t, int32(1), calls.Load(), "only the first call reached the handler")
	// Were the refused calls kept, the server would hold at least
	// (callers-3) × reqSize = 49 MiB; a quarter of callers × reqSize is far
	// above the three calls it does hold and far below that.
	assert.Less(t, grown, int64(callers*reqSize/4),
		"live heap grew by %d bytes with %d calls refused; requests are %d bytes", grown, tally.answered.Load(), reqSize)

	releaseOnce.Do(func() { close(release) })
	wg.Wait()
	require.Empty(t, tally.errs)
	assert.Equal(t, map[wire.ReturnCode]int{
		wire.ReturnCode_NucleusFull: callers - 1 - queue,
		wire.ReturnCode_Success:     1 + queue,
	}, tally.got)
	assert.Equal(t, int32(1+queue), calls.Load())
}

// forwardTally counts the answers of concurrent Forward calls by return
// code, and keeps their errors.
type forwardTally struct {
	answered atomic.Int32
	mu       sync.Mutex
	got      map[wire.ReturnCode]int
	errs     []error
}

// call sends req on c signed by signer and tallies the answer.
func (f *forwardTally) call(t *testing.T, c wire.BittensorClient, signer *auth.Signer, req *wire.TensorMessage) {
	resp, err := c.Forward(signed(t, signer), req)
	f.mu.Lock()
	if err != nil {
		f.errs = append(f.errs, err)
	} else {
		f.got[resp.ReturnCode]++
	}
	f.mu.Unlock()
	f.answered.Add(1)
}

// TestStopUnderLoadLeaksNothing stops an axon while 50 callers on several
// connections keep it busy (a full queue, handlers running, some handlers
// stuck until their forward timeout): Stop returns, every caller then gets
// UNAVAILABLE, and once the connections are closed no goroutine is left.
func TestStopUnderLoadLeaksNothing(t *testing.T) {
	const (
		callers = 50
		conns   = 5
		stuck   = 7 // first token id of the requests whose handler waits for its context to end
	)
	var successes atomic.Int32
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		if in.Int64s()[0] == stuck {
			<-ctx.Done()
			return tensor.Tensor{}, ctx.Err()
		}
		return zeros(ctx, in)
	}
	a, err := New(Config{Wallet: wallet.Mock("axon"), Workers: 2, QueueSize: 4, ForwardTimeout: 20 * time.Millisecond}, fwd)
	require.NoError(t, err)
	lis, err := netListen(t)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- a.Serve(lis) }()

	var grpcConns []*grpc.ClientConn
	for range conns {
		conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		grpcConns = append(grpcConns, conn)
	}
	normal := textRequest(t, tokens(2, 3))
	stuckReq := textRequest(t, tensor.FromInt64([]int64{1, 2}, []int64{stuck, 1}))

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		got  = map[wire.ReturnCode]int{}
		last = map[codes.Code]int{}
	)
	for i := range callers {
		signer := newSigner(t, "client"+strconv.Itoa(i))
		c := wire.NewBittensorClient(grpcConns[i%conns])
		req := normal
		if i%5 == 0 {
			req = stuckReq
		}
		wg.Go(func() {
			for {
				resp, err := c.Forward(signed(t, signer), req)
				mu.Lock()
				if err != nil {
					last[status.Code(err)]++
					mu.Unlock()
					return
				}
				got[resp.ReturnCode]++
				mu.Unlock()
				if resp.ReturnCode == wire.ReturnCode_Success {
					successes.Add(1)
				}
			}
		})
	}
	require.Eventually(t, func() bool { return successes.Load() >= 2*callers }, mustHappen, poll, "the axon answers under load")

	a.Stop()
	require.NoError(t, <-served)
	wg.Wait()
	assert.Equal(t, map[codes.Code]int{codes.Unavailable: callers}, last, "every caller ends on UNAVAILABLE")
	for code := range got {
		assert.Contains(t, []wire.ReturnCode{wire.ReturnCode_Success, wire.ReturnCode_NucleusFull, wire.ReturnCode_Timeout, wire.ReturnCode_NotServingNucleus}, code)
	}
	for _, conn := range grpcConns {
		require.NoError(t, conn.Close())
	}
	goleak.VerifyNone(t)
}

// TestOversizedRequestNotRead announces, over a raw HTTP/2 stream, a request
// message of 1 GiB against a limit of 64 KiB and sends only its 5-byte
// length prefix. The server answers RESOURCE_EXHAUSTED without waiting for
// the body, and without allocating it: grpc-go's parser.recvMsg
// (rpc_util.go) compares the prefix's length with the server's
// MaxRecvMsgSize and returns ResourceExhausted ("grpc: received message
// larger than max") before it reads or allocates the message.
func TestOversizedRequestNotRead(t *testing.T) {
	const (
		limit    = 64 << 10
		announce = 1 << 30
	)
	var calls atomic.Int32
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		calls.Add(1)
		return zeros(ctx, in)
	}
	s := serve(t, Config{MaxMessageSize: limit}, fwd)
	kv, err := newSigner(t, "client").Pairs(time.Now().UnixMilli(), wire.RequestType_FORWARD)
	require.NoError(t, err)

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocated := ms.TotalAlloc
	c := dialH2(t, s.addr)
	id := c.call(kv...)
	c.send(id, nil, announce)
	code, msg := c.status(id)
	runtime.ReadMemStats(&ms)
	assert.Equal(t, codes.ResourceExhausted, code, msg)
	assert.Contains(t, msg, "larger than max")
	assert.Zero(t, calls.Load(), "handler never ran")
	assert.Less(t, ms.TotalAlloc-allocated, uint64(announce/64),
		"bytes allocated by the whole process while the server refused a %d-byte message", announce)
}

// TestAuthRefusalsUnderLoad sends, from 200 concurrent callers over several
// connections, a mix of signed calls and refused ones: unsigned, signed by
// another key than the one they claim, and the exact metadata of an earlier
// call replayed after its sender moved on. Every refused call is
// UNAUTHENTICATED, every signed one is answered, and the handler runs once
// per signed call only.
func TestAuthRefusalsUnderLoad(t *testing.T) {
	const (
		callers = 200
		conns   = 4
	)
	var calls atomic.Int32
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		calls.Add(1)
		return zeros(ctx, in)
	}
	s := serve(t, Config{Workers: 4, QueueSize: callers, RequestTimeout: time.Hour}, fwd) // as in TestQueueBoundedUnderLoad
	cs := clients(t, s.addr, conns)
	req := textRequest(t, tokens(1, 2))

	victim := newSigner(t, "victim")
	captured := staleCapture(t, cs[0], victim, req)
	calls.Store(0)
	forged := forgedPairs(t, victim)

	kinds := []string{"signed", "unsigned", "forged", "replayed"}
	type outcome struct {
		kind string
		code codes.Code
		rc   wire.ReturnCode
	}
	outcomes := make(chan outcome, callers)
	var wg sync.WaitGroup
	for i := range callers {
		kind := kinds[i%len(kinds)]
		var signer *auth.Signer
		if kind == "signed" {
			signer = newSigner(t, "client"+strconv.Itoa(i))
		}
		wg.Go(func() {
			ctx := context.Background()
			switch kind {
			case "signed":
				ctx = signed(t, signer)
			case "forged":
				ctx = metadata.AppendToOutgoingContext(ctx, forged...)
			case "replayed":
				ctx = metadata.AppendToOutgoingContext(ctx, captured...)
			}
			resp, err := cs[i%conns].Forward(ctx, req)
			o := outcome{kind: kind, code: status.Code(err)}
			if err == nil {
				o.rc = resp.ReturnCode
			}
			outcomes <- o
		})
	}
	wg.Wait()
	close(outcomes)
	count := map[string]int{}
	for o := range outcomes {
		count[o.kind]++
		if o.kind == "signed" {
			assert.Equal(t, codes.OK, o.code)
			assert.Equal(t, wire.ReturnCode_Success, o.rc)
		} else {
			assert.Equal(t, codes.Unauthenticated, o.code, o.kind)
		}
	}
	assert.Equal(t, map[string]int{"signed": 50, "unsigned": 50, "forged": 50, "replayed": 50}, count)
	assert.Equal(t, int32(callers/len(kinds)), calls.Load(), "the handler ran for the signed calls only")
}

// staleCapture returns the metadata of a call victim sent on c, answered,
// after which victim sent a newer nonce: replayed, the metadata is stale.
func staleCapture(t *testing.T, c wire.BittensorClient, victim *auth.Signer, req *wire.TensorMessage) []string {
	now := time.Now().UnixMilli()
	captured, err := victim.Pairs(now, wire.RequestType_FORWARD)
	require.NoError(t, err)
	resp, err := c.Forward(metadata.AppendToOutgoingContext(context.Background(), captured...), req)
	require.NoError(t, err)
	require.Equal(t, wire.ReturnCode_Success, resp.ReturnCode)
	newer, err := victim.Pairs(now+1000, wire.RequestType_FORWARD)
	require.NoError(t, err)
	resp, err = c.Forward(metadata.AppendToOutgoingContext(context.Background(), newer...), req)
	require.NoError(t, err)
	require.Equal(t, wire.ReturnCode_Success, resp.ReturnCode)
	return captured
}

// forgedPairs returns the metadata of a forgery: the claimed sender is
// victim, the signature mallory's.
func forgedPairs(t *testing.T, victim *auth.Signer) []string {
	sig, err := victim.Sign(time.Now().UnixMilli())
	require.NoError(t, err)
	raw, err := wallet.Mock("mallory").Sign(sig.AppendMessage(nil))
	require.NoError(t, err)
	copy(sig.Sig[:], raw)
	return []string{auth.KeyAuthHeader, auth.AuthHeader, auth.KeySignature, sig.String(), auth.KeyVersion, "204", auth.KeyRequestType, "1"}
}
