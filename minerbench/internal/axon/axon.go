// Package axon is the server side of the wire protocol, which a miner embeds.
//
// It authenticates every call on its headers, validates forward text
// requests, runs the miner's ForwardFunc with bounded concurrency, a bounded
// queue, a budget of answer bytes and a timeout, bounds what a client can
// hold (connections, calls, request size, idle and unread time), and answers
// every outcome with the return code the protocol description
// (minerbench/internal/wire/README.md) names.
package axon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/keepalive"

	"github.com/minerbench/minerbench/minerbench/internal/auth"
	"github.com/minerbench/minerbench/minerbench/internal/fairshare"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// ForwardFunc computes the outputs of a forward text query: inputs is an
// INT64 tensor of shape [batch, seq] (token ids), the result a FLOAT32 tensor
// of shape [batch, seq, wire.NetworkDim]. It runs on the goroutine that
// serves the call, for up to Config.Workers calls at once.
//
// ctx ends when the axon's forward timeout passes or the caller goes away; a
// ForwardFunc should then return at once. The call is answered when the
// ForwardFunc returns: a result that comes after ctx ended is dropped and the
// call answered Timeout. So a ForwardFunc that ignores ctx gets its call
// answered Timeout only when it returns, not when the timeout passes, and
// holds its slot, and Stop, until then.
//
// The axon only reads the result, until the call's answer is encoded, so a
// ForwardFunc may return the same read-only tensor to every call, but must
// not change a tensor it returned.
type ForwardFunc func(ctx context.Context, inputs tensor.Tensor) (tensor.Tensor, error)

// Axon serves the Bittensor gRPC service for one hotkey. Create it with New,
// serve it with Serve, and release it with Stop.
type Axon struct {
	wire.UnimplementedBittensorServer

	cfg         Config
	forward     ForwardFunc
	hotkey      string
	compression string // the answers' grpc-encoding: cfg.Compression or identity
	verifier    *auth.Verifier
	server      *grpc.Server
	buffers     *bufferPool // of encoded outputs, given back by gRPC once sent
	answers     *sync.Map   // answers handed to gRPC, until the codec marshals them

	slots    chan struct{}      // holds one element per call running the ForwardFunc
	budget   *fairshare.Budget  // of cfg.MaxAnswerBytes, by peer
	calls    *fairshare.Budget  // of the calls admitted, by peer
	conns    *fairshare.Tracker // of the connections served
	waiting  atomic.Int32       // calls waiting for admission, at most cfg.QueueSize
	requests atomic.Int64       // calls past the tap whose body has not been read
	quit     chan struct{}

	stopOnce sync.Once
}

// Keepalive of the axon's connections: a client that has not been heard
// from for keepaliveTime is pinged, and its connection closed if the ping is
// not answered within keepaliveTimeout. A client may ping every
// minPingInterval at most, with or without calls in progress (Bittensor
// 2.0.4's receptors ping every 100 s); one that pings more often is sent
// GOAWAY.
const (
	keepaliveTime    = time.Minute
	keepaliveTimeout = 20 * time.Second
	minPingInterval  = 10 * time.Second
)

// New validates cfg, fills in its defaults and returns an Axon that answers
// forward calls with forward. A nil forward answers NotImplemented.
func New(cfg Config, forward ForwardFunc) (*Axon, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{MaxClockSkew: cfg.MaxClockSkew})
	if err != nil {
		return nil, err
	}
	a := &Axon{
		cfg:         cfg,
		forward:     forward,
		hotkey:      cfg.Wallet.SS58(),
		compression: cfg.Compression,
		verifier:    verifier,
		buffers:     &bufferPool{},
		answers:     &sync.Map{},
		slots:       make(chan struct{}, cfg.Workers),
		quit:        make(chan struct{}),
	}
	// The bounds are checked by withDefaults.
	a.budget, _ = fairshare.NewBudget(cfg.MaxAnswerBytes, cfg.MaxAnswerBytesPerPeer)
	a.calls, _ = fairshare.NewElasticBudget(int64(cfg.Workers+cfg.QueueSize), int64(cfg.MaxCallsPerPeer))
	a.conns, _ = fairshare.NewTracker(cfg.MaxConnections, cfg.MaxConnectionsPerPeer)
	if a.compression == "" {
		a.compression = encoding.Identity
	}
	a.server = grpc.NewServer(a.serverOptions()...)
	wire.RegisterBittensorServer(a.server, a)
	return a, nil
}

// serverOptions are the gRPC options of the axon's server.
func (a *Axon) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.InTapHandle(a.tap),
		grpc.MaxRecvMsgSize(maxRequestSize(a.cfg.MaxMessageSize)),
		grpc.MaxSendMsgSize(a.cfg.MaxMessageSize),
		grpc.MaxHeaderListSize(maxHeaderListSize),
		grpc.MaxConcurrentStreams(uint32(a.cfg.MaxStreamsPerConnection)),
		grpc.ConnectionTimeout(a.cfg.HandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: a.cfg.IdleTimeout,
			Time:              keepaliveTime,
			Timeout:           keepaliveTimeout,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             minPingInterval,
			PermitWithoutStream: true,
		}),
		grpc.ForceServerCodecV2(answerCodec{answers: a.answers}),
	}
}

// Hotkey returns the SS58 address the axon answers as.
func (a *Axon) Hotkey() string { return a.hotkey }

// Serve accepts connections on lis, at most MaxConnections at once (closing
// idle ones to make room), until Stop is called; it then returns nil. It returns an error if lis fails or
// the axon was already stopped.
func (a *Axon) Serve(lis net.Listener) error {
	select {
	case <-a.quit:
		lis.Close()
		return errors.New("axon: Serve called after Stop")
	default:
	}
	if err := a.server.Serve(a.listen(lis)); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("axon: serving on %s: %w", lis.Addr(), err)
	}
	return nil
}

// Stop stops accepting calls and waits for the calls in flight to be
// answered: each is answered within the forward timeout, unless its
// ForwardFunc ignores its context, which delays Stop until it returns; a
// call still waiting for its body ends within RequestTimeout, an answer its
// client does not read within WriteTimeout, and a connection whose client
// does not acknowledge the GOAWAY within gRPC's 5 s. Calls made directly on
// a stopped axon answer NotServingNucleus. Stop is safe to call more than
// once and from several goroutines.
func (a *Axon) Stop() {
	a.stopOnce.Do(func() {
		a.server.GracefulStop()
		close(a.quit)
	})
}

// Backward answers NotImplemented: the axon serves inference only, as the
// benchmark needs no gradients.
func (a *Axon) Backward(ctx context.Context, _ *wire.TensorMessage) (*wire.TensorMessage, error) {
	a.begin(ctx)
	return a.reply(wire.ReturnCode_NotImplemented, "backward is not served by this axon"), nil
}

// Forward answers a forward text query. Every outcome is answered with gRPC
// status OK and its code in return_code:
//   - no tensor: EmptyRequest; the inputs are the first tensor, and any
//     others are ignored, as Bittensor 2.0.4 did;
//   - a buffer that does not decode (as the declared serializer and dtype),
//     or a shape that is negative or disagrees with the decoded size:
//     RequestDeserializationException;
//   - batch < 1, seq < 1, an unknown modality or a rank other than 2 for
//     TEXT, 5 for IMAGE, 3 for TENSOR: RequestShapeException;
//   - TEXT inputs whose answer, [batch, seq, wire.NetworkDim] float32, would
//     not fit in Config.MaxMessageSize: RequestShapeException, before the
//     handler runs;
//   - IMAGE or TENSOR inputs, or no ForwardFunc: NotImplemented;
//   - TEXT inputs that are not INT64: InvalidRequest;
//   - axon stopping: NotServingNucleus;
//   - no room for the call: Workers calls running, or too little room in
//     MaxAnswerBytes or the caller's share of it, and QueueSize calls
//     waiting; or MaxCallsPerPeer calls of the caller's address admitted:
//     NucleusFull;
//   - no answer within the forward timeout (queue wait included), or the
//     caller gone: Timeout, as Bittensor's axon answered;
//   - handler error that is a *CodeError: its code (unless Success);
//   - other handler error, or a panic: UnknownException;
//   - handler output without elements: EmptyResponse;
//   - handler output that does not encode: ResponseSerializationException;
//   - otherwise Success with one MSGPACK tensor of modality TENSOR holding
//     the handler's output, with requires_grad set, as 2.0.4 set it.
func (a *Axon) Forward(ctx context.Context, req *wire.TensorMessage) (*wire.TensorMessage, error) {
	a.begin(ctx)
	var shape [5]int64 // room to decode the inputs' shape, of any served rank
	inputs, code, msg := decodeText(req, shape[:])
	if code != wire.ReturnCode_Success {
		return a.reply(code, msg), nil
	}
	n, code, msg := a.answerSize(inputs.Shape[0], inputs.Shape[1])
	if code != wire.ReturnCode_Success {
		return a.reply(code, msg), nil
	}
	if a.forward == nil {
		return a.reply(wire.ReturnCode_NotImplemented, "no forward handler"), nil
	}
	ans, out, code, msg := a.run(ctx, inputs, n)
	if code != wire.ReturnCode_Success {
		return a.reply(code, msg), nil
	}
	if len(out.Data) == 0 {
		ans.release()
		return a.reply(wire.ReturnCode_EmptyResponse, "forward handler returned no elements"), nil
	}
	into := a.buffers.Get(0)
	buf, err := tensor.Encode((*into)[:0], out, tensor.Msgpack)
	if err != nil {
		a.buffers.Put(into)
		ans.release()
		return a.reply(wire.ReturnCode_ResponseSerializationException, "encoding forward output: "+err.Error()), nil
	}
	*into = buf
	resp := &ans.resp
	resp.Version, resp.Hotkey, resp.ReturnCode, resp.Message, resp.RequiresGrad =
		wire.Version, a.hotkey, wire.ReturnCode_Success, "Success", true
	ans.tensor = wire.Tensor{
		Version:      wire.Version,
		Buffer:       buf,
		Shape:        out.Shape,
		Serializer:   wire.Serializer_MSGPACK,
		TensorType:   wire.TensorType_TORCH,
		Dtype:        wire.DataType(out.DType),
		Modality:     wire.Modality_TENSOR,
		RequiresGrad: true,
	}
	ans.tensors[0] = &ans.tensor
	resp.Tensors = ans.tensors[:]
	ans.hand(into)
	return resp, nil
}

// begin is the start of every call's handler, once its request is read: it
// stops the call's RequestTimeout timer, and sets the compression of its
// answer. It does nothing for a call that did not come through gRPC.
func (a *Axon) begin(ctx context.Context) {
	bodyRead(ctx)
	if grpc.ServerTransportStreamFromContext(ctx) != nil {
		// An error means the client does not accept the compression: the
		// answer then goes out uncompressed.
		_ = grpc.SetSendCompressor(ctx, a.compression)
	}
}

// decodeText validates a forward request and decodes its inputs, the first
// tensor; shape is room for the decoded shape, which only the size check
// reads.
func decodeText(req *wire.TensorMessage, shape []int64) (tensor.Tensor, wire.ReturnCode, string) {
	if len(req.GetTensors()) == 0 || req.Tensors[0] == nil {
		return tensor.Tensor{}, wire.ReturnCode_EmptyRequest, fmt.Sprintf("tensors: %d; want the inputs as the first", len(req.GetTensors()))
	}
	t := req.Tensors[0]
	dec, err := tensor.DecodeTo(shape, t.Buffer, tensor.Serializer(t.Serializer), tensor.DType(t.Dtype))
	if err != nil {
		return tensor.Tensor{}, wire.ReturnCode_RequestDeserializationException, "decoding inputs: " + err.Error()
	}
	want, err := tensor.NumElements(t.Shape)
	got, _ := tensor.NumElements(dec.Shape)
	if err != nil || want != got {
		return tensor.Tensor{}, wire.ReturnCode_RequestDeserializationException,
			fmt.Sprintf("shape: %v; want non-negative dimensions with %d elements, as the buffer holds", t.Shape, got)
	}
	rank, known := ranks[t.Modality]
	if !known {
		return tensor.Tensor{}, wire.ReturnCode_RequestShapeException,
			fmt.Sprintf("modality: %d; want TEXT (0), IMAGE (1) or TENSOR (2)", t.Modality)
	}
	if len(t.Shape) != rank || t.Shape[0] < 1 || t.Shape[1] < 1 {
		return tensor.Tensor{}, wire.ReturnCode_RequestShapeException,
			fmt.Sprintf("shape: %v; want rank %d for %s with batch and sequence at least 1", t.Shape, rank, t.Modality)
	}
	if t.Modality != wire.Modality_TEXT {
		return tensor.Tensor{}, wire.ReturnCode_NotImplemented, fmt.Sprintf("modality %s is not served; want TEXT", t.Modality)
	}
	if dec.DType != tensor.Int64 {
		return tensor.Tensor{}, wire.ReturnCode_InvalidRequest, fmt.Sprintf("dtype: %s; want INT64 token ids", wire.DataType(dec.DType))
	}
	return tensor.Tensor{DType: tensor.Int64, Shape: t.Shape, Data: dec.Data}, wire.ReturnCode_Success, ""
}

// answerSize returns the bytes the answer to inputs of shape [batch, seq],
// both at least 1, takes from the budget: [batch, seq, wire.NetworkDim]
// float32 and answerOverhead, or a peer's whole share of the budget when
// that is less. It
// answers RequestShapeException when the answer would exceed MaxMessageSize:
// gRPC would refuse to send it, after the handler had computed it.
func (a *Axon) answerSize(batch, seq int64) (int64, wire.ReturnCode, string) {
	// batch*seq <= most, without computing batch*seq, which could overflow.
	most := maxTokens(a.cfg.MaxMessageSize)
	if batch > most/seq {
		return 0, wire.ReturnCode_RequestShapeException,
			fmt.Sprintf("shape: [%d %d]: the answer, [%d, %d, %d] float32, would exceed the message size limit of %d bytes; want batch × seq at most %d",
				batch, seq, batch, seq, wire.NetworkDim, a.cfg.MaxMessageSize, most)
	}
	return min(batch*seq*wire.NetworkDim*4+answerOverhead, a.budget.Max()), wire.ReturnCode_Success, ""
}

// ranks is the input rank each modality must have.
var ranks = map[wire.Modality]int{
	wire.Modality_TEXT:   2,
	wire.Modality_IMAGE:  5,
	wire.Modality_TENSOR: 3,
}

// reply returns an answer carrying only a code and its message, with
// requires_grad set, as Bittensor 2.0.4's axon set it on every answer.
func (a *Axon) reply(code wire.ReturnCode, msg string) *wire.TensorMessage {
	return &wire.TensorMessage{
		Version:      wire.Version,
		Hotkey:       a.hotkey,
		ReturnCode:   code,
		Message:      msg,
		RequiresGrad: true,
	}
}
