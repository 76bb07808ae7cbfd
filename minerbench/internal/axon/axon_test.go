package axon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/minerbench/minerbench/minerbench/internal/auth"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

func TestConfigValidation(t *testing.T) {
	w := wallet.Mock("axon")
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"no wallet", Config{}, []string{"Config.Wallet: nil"}},
		{"negative timeout", Config{Wallet: w, ForwardTimeout: -time.Second}, []string{"Config.ForwardTimeout: -1s"}},
		{"negative workers", Config{Wallet: w, Workers: -1}, []string{"Config.Workers: -1"}},
		{"negative queue", Config{Wallet: w, QueueSize: -3}, []string{"Config.QueueSize: -3"}},
		{"negative message size", Config{Wallet: w, MaxMessageSize: -4}, []string{"Config.MaxMessageSize: -4"}},
		{"all at once", Config{Workers: -1, QueueSize: -1}, []string{"Config.Wallet", "Config.Workers", "Config.QueueSize"}},
		{"connections per peer over the total", Config{Wallet: w, MaxConnections: 8, MaxConnectionsPerPeer: 9},
			[]string{"Config.MaxConnectionsPerPeer: 9; want 0 (default 8) to MaxConnections (8)"}},
		{"calls per peer over the total", Config{Wallet: w, Workers: 2, QueueSize: 3, MaxCallsPerPeer: 6},
			[]string{"Config.MaxCallsPerPeer: 6; want 0 (default 4) to Workers + QueueSize (5)"}},
		{"negative answer bytes per peer", Config{Wallet: w, MaxAnswerBytes: 400, MaxAnswerBytesPerPeer: -1},
			[]string{"Config.MaxAnswerBytesPerPeer: -1; want 0 (default 300) to MaxAnswerBytes (400)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.cfg, zeros)
			require.Error(t, err)
			assert.Nil(t, a)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	a, err := New(Config{Wallet: wallet.Mock("axon")}, nil)
	require.NoError(t, err)
	defer a.Stop()
	assert.Equal(t, DefaultForwardTimeout, a.cfg.ForwardTimeout)
	assert.Equal(t, DefaultWorkers, a.cfg.Workers)
	assert.Equal(t, DefaultWorkers, cap(a.slots))
	assert.Equal(t, DefaultQueueSize, a.cfg.QueueSize)
	assert.GreaterOrEqual(t, a.cfg.MaxMessageSize, 64*256*wire.NetworkDim*4+1024)
	assert.Equal(t, DefaultMaxConnections, a.cfg.MaxConnectionsPerPeer, "one address may open every connection")
	assert.Equal(t, DefaultWorkers+DefaultQueueSize/2, a.cfg.MaxCallsPerPeer)
	assert.Equal(t, a.cfg.MaxAnswerBytes/4*3, a.cfg.MaxAnswerBytesPerPeer)
	assert.Equal(t, wallet.Mock("axon").SS58(), a.Hotkey())
}

// TestForwardCodes reaches every return code the axon answers, over real gRPC
// with raw requests.
func TestForwardCodes(t *testing.T) {
	slow := func(ctx context.Context, _ tensor.Tensor) (tensor.Tensor, error) {
		<-ctx.Done()
		return tensor.Tensor{}, ctx.Err()
	}
	failing := func(context.Context, tensor.Tensor) (tensor.Tensor, error) {
		return tensor.Tensor{}, errors.New("nucleus on fire")
	}
	panicking := func(context.Context, tensor.Tensor) (tensor.Tensor, error) { panic("nucleus exploded") }
	empty := func(context.Context, tensor.Tensor) (tensor.Tensor, error) { return tensor.Tensor{}, nil }
	malformed := func(context.Context, tensor.Tensor) (tensor.Tensor, error) {
		return tensor.Tensor{DType: tensor.Float32, Shape: []int64{1, 1, wire.NetworkDim}, Data: make([]byte, 3)}, nil
	}

	valid := func(t *testing.T) *wire.TensorMessage { return textRequest(t, tokens(2, 3)) }
	edit := func(f func(*wire.TensorMessage)) func(*testing.T) *wire.TensorMessage {
		return func(t *testing.T) *wire.TensorMessage {
			m := valid(t)
			f(m)
			return m
		}
	}
	withTensor := func(in tensor.Tensor, modality wire.Modality) func(*testing.T) *wire.TensorMessage {
		return func(t *testing.T) *wire.TensorMessage {
			m := textRequest(t, in)
			m.Tensors[0].Modality = modality
			return m
		}
	}

	// One batch more than the largest the benchmark asks for: the answer
	// (65 MiB) does not fit in the default message size limit.
	valid65x256 := func(t *testing.T) *wire.TensorMessage { return textRequest(t, tokens(65, 256)) }

	tests := []struct {
		name    string
		fwd     ForwardFunc
		req     func(*testing.T) *wire.TensorMessage
		backend bool // whether the handler must have run
		want    wire.ReturnCode
		message string
	}{
		{"success", zeros, valid, true, wire.ReturnCode_Success, "Success"},
		{"no tensors", zeros, edit(func(m *wire.TensorMessage) { m.Tensors = nil }), false, wire.ReturnCode_EmptyRequest, "tensors: 0"},
		{"two tensors, the first used", zeros, edit(func(m *wire.TensorMessage) {
			m.Tensors = append(m.Tensors, &wire.Tensor{Buffer: []byte("not msgpack"), Shape: []int64{7}})
		}), true, wire.ReturnCode_Success, "Success"},
		{"garbage buffer", zeros, edit(func(m *wire.TensorMessage) { m.Tensors[0].Buffer = []byte("not msgpack") }), false, wire.ReturnCode_RequestDeserializationException, "decoding inputs"},
		{"unknown serializer", zeros, edit(func(m *wire.TensorMessage) { m.Tensors[0].Serializer = 7 }), false, wire.ReturnCode_RequestDeserializationException, "serializer"},
		{"declared dtype differs", zeros, edit(func(m *wire.TensorMessage) { m.Tensors[0].Dtype = wire.DataType_FLOAT32 }), false, wire.ReturnCode_RequestDeserializationException, "decoding inputs"},
		{"shape disagrees with size", zeros, edit(func(m *wire.TensorMessage) { m.Tensors[0].Shape = []int64{2, 2} }), false, wire.ReturnCode_RequestDeserializationException, "shape: [2 2]"},
		{"negative shape", zeros, edit(func(m *wire.TensorMessage) { m.Tensors[0].Shape = []int64{-2, -3} }), false, wire.ReturnCode_RequestDeserializationException, "shape: [-2 -3]"},
		{"reshape keeps size", zeros, edit(func(m *wire.TensorMessage) { m.Tensors[0].Shape = []int64{3, 2} }), true, wire.ReturnCode_Success, "Success"},
		{"batch 0", zeros, withTensor(tensor.FromInt64([]int64{0, 3}, nil), wire.Modality_TEXT), false, wire.ReturnCode_RequestShapeException, "shape: [0 3]"},
		{"seq 0", zeros, withTensor(tensor.FromInt64([]int64{2, 0}, nil), wire.Modality_TEXT), false, wire.ReturnCode_RequestShapeException, "shape: [2 0]"},
		{"text rank 3", zeros, withTensor(tensor.FromInt64([]int64{1, 2, 3}, make([]int64, 6)), wire.Modality_TEXT), false, wire.ReturnCode_RequestShapeException, "rank 2"},
		{"text rank 1", zeros, withTensor(tensor.FromInt64([]int64{6}, make([]int64, 6)), wire.Modality_TEXT), false, wire.ReturnCode_RequestShapeException, "rank 2"},
		{"image rank 2", zeros, withTensor(tokens(2, 3), wire.Modality_IMAGE), false, wire.ReturnCode_RequestShapeException, "rank 5"},
		{"tensor rank 2", zeros, withTensor(tokens(2, 3), wire.Modality_TENSOR), false, wire.ReturnCode_RequestShapeException, "rank 3"},
		{"unknown modality", zeros, withTensor(tokens(2, 3), 9), false, wire.ReturnCode_RequestShapeException, "modality: 9"},
		{"answer over the message size limit", zeros, valid65x256, false, wire.ReturnCode_RequestShapeException, "shape: [65 256]: the answer, [65, 256, 1024] float32, would exceed the message size limit of 68157440 bytes"},
		{"image not served", zeros, withTensor(tensor.FromInt64([]int64{1, 1, 1, 1, 1}, []int64{0}), wire.Modality_IMAGE), false, wire.ReturnCode_NotImplemented, "IMAGE"},
		{"tensor not served", zeros, withTensor(tensor.FromInt64([]int64{1, 1, 1}, []int64{0}), wire.Modality_TENSOR), false, wire.ReturnCode_NotImplemented, "TENSOR"},
		{"no handler", nil, valid, false, wire.ReturnCode_NotImplemented, "no forward handler"},
		{"float text", zeros, withTensor(tensor.FromFloat32([]int64{1, 2}, []float32{1, 2}), wire.Modality_TEXT), false, wire.ReturnCode_InvalidRequest, "want INT64"},
		{"slow handler", slow, valid, true, wire.ReturnCode_Timeout, "forward timeout"},
		{"handler error", failing, valid, true, wire.ReturnCode_UnknownException, "nucleus on fire"},
		{"handler panic", panicking, valid, true, wire.ReturnCode_UnknownException, "nucleus exploded"},
		{"handler returns nothing", empty, valid, true, wire.ReturnCode_EmptyResponse, "no elements"},
		{"handler returns malformed tensor", malformed, valid, true, wire.ReturnCode_ResponseSerializationException, "encoding forward output"},
	}
	signer := newSigner(t, "client")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			var fwd ForwardFunc
			if tt.fwd != nil {
				fwd = func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
					calls.Add(1)
					return tt.fwd(ctx, in)
				}
			}
			s := serve(t, Config{ForwardTimeout: 50 * time.Millisecond}, fwd)
			resp, err := client(t, s.addr).Forward(signed(t, signer), tt.req(t))
			require.NoError(t, err, "every outcome is gRPC status OK")
			assert.Equal(t, tt.want, resp.ReturnCode, resp.Message)
			assert.Contains(t, resp.Message, tt.message)
			assert.Equal(t, int32(wire.Version), resp.Version)
			assert.Equal(t, s.axon.Hotkey(), resp.Hotkey)
			if tt.backend {
				assert.Equal(t, int32(1), calls.Load(), "handler ran")
			} else {
				assert.Zero(t, calls.Load(), "handler did not run")
			}
			if tt.want != wire.ReturnCode_Success {
				assert.Empty(t, resp.Tensors)
			}
			assert.True(t, resp.RequiresGrad, "every answer, as 2.0.4's axon set it")
		})
	}
}

func TestForwardSuccessResponse(t *testing.T) {
	var got []int64
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		got = append([]int64(nil), in.Int64s()...)
		assert.Equal(t, []int64{2, 3}, in.Shape)
		vals := make([]float32, 2*3*wire.NetworkDim)
		for i := range vals {
			vals[i] = float32(i)
		}
		return tensor.FromFloat32([]int64{2, 3, wire.NetworkDim}, vals), nil
	}
	s := serve(t, Config{}, fwd)
	resp, err := client(t, s.addr).Forward(signed(t, newSigner(t, "client")), textRequest(t, tokens(2, 3)))
	require.NoError(t, err)
	require.Equal(t, wire.ReturnCode_Success, resp.ReturnCode)
	assert.Equal(t, []int64{0, 1, 2, 3, 4, 5}, got)
	assert.Equal(t, wallet.Mock("axon").SS58(), resp.Hotkey)
	assert.Equal(t, int32(wire.Version), resp.Version)
	require.Len(t, resp.Tensors, 1)
	rt := resp.Tensors[0]
	assert.Equal(t, wire.DataType_FLOAT32, rt.Dtype)
	assert.Equal(t, wire.Modality_TENSOR, rt.Modality)
	assert.Equal(t, wire.Serializer_MSGPACK, rt.Serializer)
	assert.Equal(t, int32(wire.Version), rt.Version)
	assert.True(t, resp.RequiresGrad, "as 2.0.4's axon set it")
	assert.True(t, rt.RequiresGrad, "as 2.0.4's axon set it")
	assert.Equal(t, []int64{2, 3, wire.NetworkDim}, rt.Shape)
	out, err := tensor.Decode(rt.Buffer, tensor.Msgpack, tensor.Float32)
	require.NoError(t, err)
	vals := out.Float32s()
	require.Len(t, vals, 2*3*wire.NetworkDim)
	assert.Equal(t, float32(0), vals[0])
	assert.Equal(t, float32(len(vals)-1), vals[len(vals)-1])
}

// TestMaxClockSkew checks that the axon refuses nonces further from its
// clock than its Config's MaxClockSkew, either way.
func TestMaxClockSkew(t *testing.T) {
	s := serve(t, Config{MaxClockSkew: time.Second}, zeros)
	c := client(t, s.addr)
	signer := newSigner(t, "client")
	for _, tt := range []struct {
		offset time.Duration
		want   codes.Code
	}{{-3 * time.Second, codes.Unauthenticated}, {3 * time.Second, codes.Unauthenticated}, {0, codes.OK}} {
		kv, err := signer.Pairs(time.Now().Add(tt.offset).UnixMilli(), wire.RequestType_FORWARD)
		require.NoError(t, err)
		_, err = c.Forward(withMetadata(kv...), textRequest(t, tokens(1, 1)))
		assert.Equal(t, tt.want, status.Code(err), "nonce %v from the axon's clock: %v", tt.offset, err)
	}
}

func TestBackwardNotImplemented(t *testing.T) {
	s := serve(t, Config{}, zeros)
	resp, err := client(t, s.addr).Backward(signed(t, newSigner(t, "client")), textRequest(t, tokens(1, 1)))
	require.NoError(t, err)
	assert.Equal(t, wire.ReturnCode_NotImplemented, resp.ReturnCode)
	assert.Equal(t, s.axon.Hotkey(), resp.Hotkey)
}

// TestAuthRefusals checks that every authentication failure is refused with
// UNAUTHENTICATED before the handler runs.
func TestAuthRefusals(t *testing.T) {
	signer := newSigner(t, "client")
	good, err := signer.Sign(time.Now().UnixMilli())
	require.NoError(t, err)
	forged := good
	raw, err := wallet.Mock("mallory").Sign(forged.AppendMessage(nil))
	require.NoError(t, err)
	copy(forged.Sig[:], raw)
	flipped := good
	flipped.Sig[0] ^= 0x80
	sigValue := good.String()
	fields := strings.Split(sigValue, auth.Separator)

	md := func(header, sig string) context.Context {
		return withMetadata(auth.KeyAuthHeader, header, auth.KeySignature, sig, auth.KeyVersion, "204", auth.KeyRequestType, "1")
	}
	tests := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"no metadata", context.Background(), "rpc-auth-header"},
		{"wrong auth header", md("Bitcoin", sigValue), "wrong auth header"},
		{"no signature", withMetadata(auth.KeyAuthHeader, auth.AuthHeader), "bittensor-signature"},
		{"bad signature", md(auth.AuthHeader, flipped.String()), "does not verify"},
		{"signed by another key", md(auth.AuthHeader, forged.String()), "does not verify"},
		{"three fields", md(auth.AuthHeader, strings.Join(fields[:3], auth.Separator)), "number of fields"},
		{"unparsable nonce", md(auth.AuthHeader, strings.Join(append([]string{"soon"}, fields[1:]...), auth.Separator)), "nonce"},
		{"bad ss58", md(auth.AuthHeader, strings.Join([]string{fields[0], "5NotAnAddress", fields[2], fields[3]}, auth.Separator)), "SS58"},
		{"bad hex", md(auth.AuthHeader, strings.Join([]string{fields[0], fields[1], "0xzz", fields[3]}, auth.Separator)), "hex"},
		{"short signature", md(auth.AuthHeader, strings.Join([]string{fields[0], fields[1], fields[2][:64], fields[3]}, auth.Separator)), "length"},
	}
	var calls atomic.Int32
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		calls.Add(1)
		return zeros(ctx, in)
	}
	s := serve(t, Config{}, fwd)
	c := client(t, s.addr)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Forward(tt.ctx, textRequest(t, tokens(1, 1)))
			require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
			assert.Contains(t, status.Convert(err).Message(), tt.want)
			_, err = c.Backward(tt.ctx, textRequest(t, tokens(1, 1)))
			require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
		})
	}
	assert.Zero(t, calls.Load(), "handler never ran")

	t.Run("replay", func(t *testing.T) {
		now := time.Now().UnixMilli()
		send := func(nonce int64) error {
			kv, err := signer.Pairs(nonce, wire.RequestType_FORWARD)
			require.NoError(t, err)
			_, err = c.Forward(withMetadata(kv...), textRequest(t, tokens(1, 1)))
			return err
		}
		require.NoError(t, send(now))
		require.Equal(t, int32(1), calls.Load())
		err := send(now - 11)
		require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
		assert.Contains(t, status.Convert(err).Message(), "replayed nonce")
		assert.Equal(t, int32(1), calls.Load(), "handler did not run for the stale nonce")
	})
}

func TestMaxMessageSize(t *testing.T) {
	var calls atomic.Int32
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		calls.Add(1)
		return zeros(ctx, in)
	}
	s := serve(t, Config{MaxMessageSize: 4096}, fwd)
	_, err := client(t, s.addr).Forward(signed(t, newSigner(t, "client")), textRequest(t, tokens(16, 64)))
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	assert.Zero(t, calls.Load())

	// A request whose answer would exceed the limit is answered
	// RequestShapeException before the handler runs.
	resp, err := client(t, s.addr).Forward(signed(t, newSigner(t, "client")), textRequest(t, tokens(1, 2)))
	require.NoError(t, err)
	assert.Equal(t, wire.ReturnCode_RequestShapeException, resp.ReturnCode)
	assert.Contains(t, resp.Message, "shape: [1 2]: the answer, [1, 2, 1024] float32, would exceed the message size limit of 4096 bytes; want batch × seq at most 0")
	assert.Zero(t, calls.Load())

	// An answer over the limit that the request's shape did not announce
	// is refused too.
	larger := func(context.Context, tensor.Tensor) (tensor.Tensor, error) {
		calls.Add(1)
		return tensor.FromFloat32([]int64{4, 2, wire.NetworkDim}, make([]float32, 4*2*wire.NetworkDim)), nil
	}
	s = serve(t, Config{MaxMessageSize: 16 << 10}, larger)
	resp, err = client(t, s.addr).Forward(signed(t, newSigner(t, "client")), textRequest(t, tokens(1, 2)))
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	assert.Nil(t, resp)
	assert.Equal(t, int32(1), calls.Load(), "the handler ran")
}

func TestNucleusFull(t *testing.T) {
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		started <- struct{}{}
		<-release
		return zeros(ctx, in)
	}
	s := serve(t, Config{Workers: 1, QueueSize: 1}, fwd)
	c := client(t, s.addr)
	signer := newSigner(t, "client")

	results := make(chan wire.ReturnCode, 2)
	call := func() {
		resp, err := c.Forward(signed(t, signer), textRequest(t, tokens(1, 1)))
		if assert.NoError(t, err) {
			results <- resp.ReturnCode
		} else {
			results <- wire.ReturnCode_NoReturn
		}
	}
	go call()
	<-started // the one slot is taken
	go call()
	require.Eventually(t, func() bool { return s.axon.waiting.Load() == 1 }, 10*time.Second, time.Millisecond, "second call queued")

	resp, err := c.Forward(signed(t, signer), textRequest(t, tokens(1, 1)))
	require.NoError(t, err)
	assert.Equal(t, wire.ReturnCode_NucleusFull, resp.ReturnCode)
	assert.Contains(t, resp.Message, "queue full")

	close(release)
	assert.Equal(t, wire.ReturnCode_Success, <-results)
	assert.Equal(t, wire.ReturnCode_Success, <-results)
}

func TestStopFinishesInFlightCall(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		close(started)
		<-release
		return zeros(ctx, in)
	}
	a, err := New(Config{Wallet: wallet.Mock("axon")}, fwd)
	require.NoError(t, err)
	lis, err := netListen(t)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- a.Serve(lis) }()
	c := client(t, lis.Addr().String())
	signer := newSigner(t, "client")

	result := make(chan *wire.TensorMessage, 1)
	go func() {
		resp, err := c.Forward(signed(t, signer), textRequest(t, tokens(1, 2)))
		assert.NoError(t, err)
		result <- resp
	}()
	<-started
	stopped := make(chan struct{})
	go func() {
		a.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a call was in flight")
	case resp := <-result:
		t.Fatalf("call answered before its handler was released: %v", resp)
	default:
	}
	close(release)
	resp := <-result
	require.NotNil(t, resp)
	assert.Equal(t, wire.ReturnCode_Success, resp.ReturnCode)
	<-stopped
	require.NoError(t, <-served)

	a.Stop() // idempotent
	_, err = c.Forward(signed(t, signer), textRequest(t, tokens(1, 2)))
	assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)

	lis2, err := netListen(t)
	require.NoError(t, err)
	assert.ErrorContains(t, a.Serve(lis2), "after Stop")
}

func TestStopConcurrentAndWithoutServe(t *testing.T) {
	a, err := New(Config{Wallet: wallet.Mock("axon")}, zeros)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(a.Stop)
	}
	wg.Wait()
	resp, err := a.Forward(context.Background(), textRequest(t, tokens(1, 1)))
	require.NoError(t, err)
	assert.Equal(t, wire.ReturnCode_NotServingNucleus, resp.ReturnCode, "a direct call after Stop")
}

func TestTimedOutHandlerSeesContextEnd(t *testing.T) {
	done := make(chan error, 1)
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		<-ctx.Done()
		done <- ctx.Err()
		return tensor.Tensor{}, ctx.Err()
	}
	s := serve(t, Config{ForwardTimeout: 20 * time.Millisecond}, fwd)
	resp, err := client(t, s.addr).Forward(signed(t, newSigner(t, "client")), textRequest(t, tokens(1, 1)))
	require.NoError(t, err)
	assert.Equal(t, wire.ReturnCode_Timeout, resp.ReturnCode)
	assert.ErrorIs(t, <-done, context.DeadlineExceeded, "the handler's context ended")
}

// TestUncooperativeHandlerAnsweredWhenItReturns checks the documented
// answer to a handler that ignores its context: the call is not answered
// while the handler runs, even past the forward timeout, and once it
// returns, its result is dropped and the call answered Timeout.
func TestUncooperativeHandlerAnsweredWhenItReturns(t *testing.T) {
	started := make(chan context.Context, 1)
	release := make(chan struct{})
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		started <- ctx
		<-release
		return zeros(ctx, in)
	}
	s := serve(t, Config{ForwardTimeout: 20 * time.Millisecond}, fwd)
	result := make(chan *wire.TensorMessage, 1)
	go func() {
		resp, err := client(t, s.addr).Forward(signed(t, newSigner(t, "client")), textRequest(t, tokens(1, 1)))
		assert.NoError(t, err)
		result <- resp
	}()
	ctx := <-started
	<-ctx.Done() // the forward timeout has passed
	assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	select {
	case resp := <-result:
		t.Fatalf("call answered while its handler ran: %v", resp)
	default:
	}
	close(release)
	resp := <-result
	require.NotNil(t, resp)
	assert.Equal(t, wire.ReturnCode_Timeout, resp.ReturnCode, resp.Message)
	assert.Contains(t, resp.Message, "forward timeout")
	assert.Empty(t, resp.Tensors, "the late result is dropped")
}

// TestQueueWaitTimesOut checks that the forward timeout counts the wait for
// a slot: a call queued behind a handler that never returns in time is
// answered Timeout while that handler still runs, and its own handler never
// runs.
func TestQueueWaitTimesOut(t *testing.T) {
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	var calls atomic.Int32
	fwd := func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		calls.Add(1)
		started <- struct{}{}
		<-release
		return zeros(ctx, in)
	}
	s := serve(t, Config{Workers: 1, QueueSize: 1, ForwardTimeout: 50 * time.Millisecond}, fwd)
	c := client(t, s.addr)
	first := make(chan *wire.TensorMessage, 1)
	go func() {
		resp, err := c.Forward(signed(t, newSigner(t, "first")), textRequest(t, tokens(1, 1)))
		assert.NoError(t, err)
		first <- resp
	}()
	<-started // the one slot is taken until release

	resp, err := c.Forward(signed(t, newSigner(t, "second")), textRequest(t, tokens(1, 1)))
	require.NoError(t, err)
	assert.Equal(t, wire.ReturnCode_Timeout, resp.ReturnCode, resp.Message)
	assert.Contains(t, resp.Message, "forward timeout")
	assert.Equal(t, int32(1), calls.Load(), "the queued call's handler never ran")
	assert.Zero(t, s.axon.waiting.Load(), "the timed-out call left the queue")
	select {
	case resp := <-first:
		t.Fatalf("the first call was answered while its handler ran: %v", resp)
	default:
	}

	close(release)
	assert.Equal(t, wire.ReturnCode_Timeout, (<-first).ReturnCode, "its handler returned after the timeout")
	resp, err = c.Forward(signed(t, newSigner(t, "third")), textRequest(t, tokens(1, 1)))
	require.NoError(t, err)
	assert.Equal(t, wire.ReturnCode_Success, resp.ReturnCode, "the slot is free again")
}

func ExampleNew() {
	a, err := New(Config{Wallet: wallet.Mock("miner"), Workers: 2}, func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		b, s := in.Shape[0], in.Shape[1]
		return tensor.FromFloat32([]int64{b, s, wire.NetworkDim}, make([]float32, b*s*wire.NetworkDim)), nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Stop()
	fmt.Println(a.Hotkey() == wallet.Mock("miner").SS58())
	// Output: true
}

// answerEncoding records the compression of the answers a client reads.
type answerEncoding struct {
	mu  sync.Mutex
	got []string
}

func (c *answerEncoding) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (c *answerEncoding) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (c *answerEncoding) HandleConn(context.Context, stats.ConnStats) {}

func (c *answerEncoding) HandleRPC(_ context.Context, s stats.RPCStats) {
	if h, ok := s.(*stats.InHeader); ok {
		c.mu.Lock()
		c.got = append(c.got, h.Compression)
		c.mu.Unlock()
	}
}

// TestCompression queries axons that compress their answers in no way, in
// gzip and in deflate, with requests in each of these: every request is
// read, and every answer is compressed as the axon's Config says ("identity"
// for none), whatever the request's compression.
func TestCompression(t *testing.T) {
	for _, comp := range []string{"", wire.Gzip, wire.Deflate} {
		s := serve(t, Config{Compression: comp}, zeros)
		for _, send := range []string{"", wire.Gzip, wire.Deflate} {
			rec := &answerEncoding{}
			opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithStatsHandler(rec)}
			if send != "" {
				opts = append(opts, grpc.WithDefaultCallOptions(grpc.UseCompressor(send)))
			}
			conn, err := grpc.NewClient("passthrough:///"+s.addr, opts...)
			require.NoError(t, err)
			resp, err := wire.NewBittensorClient(conn).Forward(signed(t, newSigner(t, "client")), textRequest(t, tokens(2, 3)))
			require.NoError(t, err, "axon %q, request %q", comp, send)
			assert.Equal(t, wire.ReturnCode_Success, resp.ReturnCode)
			want := comp
			if want == "" {
				want = "identity"
			}
			assert.Equal(t, []string{want}, rec.got, "axon %q, request %q", comp, send)
			require.NoError(t, conn.Close())
		}
	}
}

// TestCompressionNotAccepted asks a gzip axon, over raw HTTP/2, with a
// client that accepts only identity: the answer goes out uncompressed.
func TestCompressionNotAccepted(t *testing.T) {
	s := serve(t, Config{Compression: wire.Gzip}, zeros)
	kv, err := newSigner(t, "client").Pairs(time.Now().UnixMilli(), wire.RequestType_FORWARD)
	require.NoError(t, err)
	c := dialH2(t, s.addr)
	id := c.call(append(kv, "grpc-accept-encoding", "identity")...)
	c.send(id, request(t, 1, 1), 0)
	for {
		f, err := c.fr.ReadFrame()
		require.NoError(t, err)
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				require.NoError(t, c.fr.WriteSettingsAck())
			}
		case *http2.MetaHeadersFrame:
			assert.NotEqual(t, wire.Gzip, header(f, "grpc-encoding"))
		case *http2.DataFrame:
			require.Equal(t, id, f.StreamID)
			assert.Equal(t, byte(0), f.Data()[0], "the answer's message is not compressed")
			code, msg := c.status(id)
			assert.Equal(t, codes.OK, code, msg)
			return
		}
	}
}
