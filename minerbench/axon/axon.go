// Package axon is the server side of the wire protocol that a miner embeds:
// it authenticates every call, validates forward text requests, runs the
// miner's ForwardFunc with bounded concurrency, a bounded queue and a
// timeout, and answers every outcome with the return code WIRE.md names.
package axon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/minerbench/minerbench/minerbench/auth"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wire"
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

	cfg      Config
	forward  ForwardFunc
	hotkey   string
	verifier *auth.Verifier
	server   *grpc.Server
	pool     *sync.Pool  // of *wire.TensorMessage, recycled by the codec
	buffers  *bufferPool // of encoded outputs, recycled by gRPC once sent

	slots   chan struct{} // holds one element per call running the ForwardFunc
	waiting atomic.Int32  // calls waiting for a slot, at most cfg.QueueSize
	quit    chan struct{}

	stopOnce sync.Once
}

// New validates cfg, fills in its defaults and returns an Axon that answers
// forward calls with forward. A nil forward answers NotImplemented.
func New(cfg Config, forward ForwardFunc) (*Axon, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{})
	if err != nil {
		return nil, err
	}
	a := &Axon{
		cfg:      cfg,
		forward:  forward,
		hotkey:   cfg.Wallet.SS58(),
		verifier: verifier,
		pool:     &sync.Pool{},
		buffers:  &bufferPool{},
		slots:    make(chan struct{}, cfg.Workers),
		quit:     make(chan struct{}),
	}
	a.server = grpc.NewServer(
		grpc.UnaryInterceptor(a.authenticate),
		grpc.MaxRecvMsgSize(cfg.MaxMessageSize),
		grpc.MaxSendMsgSize(cfg.MaxMessageSize),
		grpc.ForceServerCodecV2(recyclingCodec{responses: a.pool, buffers: a.buffers}),
	)
	wire.RegisterBittensorServer(a.server, a)
	return a, nil
}

// Hotkey returns the SS58 address the axon answers as.
func (a *Axon) Hotkey() string { return a.hotkey }

// Serve accepts connections on lis until Stop is called; it then returns nil.
// It returns an error if lis fails or the axon was already stopped.
func (a *Axon) Serve(lis net.Listener) error {
	select {
	case <-a.quit:
		lis.Close()
		return errors.New("axon: Serve called after Stop")
	default:
	}
	if err := a.server.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("axon: serving on %s: %w", lis.Addr(), err)
	}
	return nil
}

// Stop stops accepting calls and waits for the calls in flight to be
// answered: each is answered within the forward timeout, unless its
// ForwardFunc ignores its context, which delays Stop until it returns. Calls
// made directly on a stopped axon answer NotServingNucleus. Stop is safe to
// call more than once and from several goroutines.
func (a *Axon) Stop() {
	a.stopOnce.Do(func() {
		a.server.GracefulStop()
		close(a.quit)
	})
}

// authenticate refuses a call whose metadata does not authenticate before
// its handler runs.
func (a *Axon) authenticate(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if _, err := a.verifier.VerifyMetadata(md); err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	return handler(ctx, req)
}

// Backward answers NotImplemented: the axon serves inference only, as the
// benchmark needs no gradients.
func (a *Axon) Backward(context.Context, *wire.TensorMessage) (*wire.TensorMessage, error) {
	return a.reply(wire.ReturnCode_NotImplemented, "backward is not served by this axon"), nil
}

// Forward answers a forward text query. Every outcome is answered with gRPC
// status OK and its code in return_code:
//   - not exactly one tensor: EmptyRequest;
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
//   - Workers calls running and QueueSize waiting: NucleusFull;
//   - no answer within the forward timeout (queue wait included), or the
//     caller gone: Timeout, as Bittensor's axon answered;
//   - handler error that is a *CodeError: its code (unless Success);
//   - other handler error, or a panic: UnknownException;
//   - handler output without elements: EmptyResponse;
//   - handler output that does not encode: ResponseSerializationException;
//   - otherwise Success with one MSGPACK tensor of modality TENSOR holding
//     the handler's output.
func (a *Axon) Forward(ctx context.Context, req *wire.TensorMessage) (*wire.TensorMessage, error) {
	var shape [5]int64 // room to decode the inputs' shape, of any served rank
	inputs, code, msg := decodeText(req, shape[:])
	if code != wire.ReturnCode_Success {
		return a.reply(code, msg), nil
	}
	if code, msg := a.checkAnswerSize(inputs.Shape[0], inputs.Shape[1]); code != wire.ReturnCode_Success {
		return a.reply(code, msg), nil
	}
	if a.forward == nil {
		return a.reply(wire.ReturnCode_NotImplemented, "no forward handler"), nil
	}
	out, code, msg := a.run(ctx, inputs)
	if code != wire.ReturnCode_Success {
		return a.reply(code, msg), nil
	}
	if len(out.Data) == 0 {
		return a.reply(wire.ReturnCode_EmptyResponse, "forward handler returned no elements"), nil
	}
	into := a.buffers.Get(0)
	buf, err := tensor.Encode((*into)[:0], out, tensor.Msgpack)
	if err != nil {
		a.buffers.Put(into)
		return a.reply(wire.ReturnCode_ResponseSerializationException, "encoding forward output: "+err.Error()), nil
	}
	resp := a.response()
	t := resp.Tensors[:1][0]
	a.fill(resp, wire.ReturnCode_Success, "Success")
	resp.Tensors = resp.Tensors[:1]
	t.Version = wire.Version
	t.Buffer = buf
	t.Shape = append(t.Shape[:0], out.Shape...)
	t.Serializer = wire.Serializer_MSGPACK
	t.TensorType = wire.TensorType_TORCH
	t.Dtype = wire.DataType(out.DType)
	t.Modality = wire.Modality_TENSOR
	t.RequiresGrad = false
	return resp, nil
}

// decodeText validates a forward request and decodes its inputs; shape is
// room for the decoded shape, which only the size check reads.
func decodeText(req *wire.TensorMessage, shape []int64) (tensor.Tensor, wire.ReturnCode, string) {
	if n := len(req.GetTensors()); n != 1 || req.Tensors[0] == nil {
		return tensor.Tensor{}, wire.ReturnCode_EmptyRequest, fmt.Sprintf("tensors: %d; want exactly one", n)
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

// answerOverhead bounds the bytes of a forward answer besides its float32
// data: the message's fields, the tensor's and the msgpack header (about 140
// bytes), with room to spare.
const answerOverhead = 1 << 10

// checkAnswerSize answers RequestShapeException for inputs of shape
// [batch, seq], both at least 1, whose answer, [batch, seq, wire.NetworkDim]
// float32 and answerOverhead, would exceed MaxMessageSize: gRPC would refuse
// to send it, after the handler had computed it. It answers Success
// otherwise.
func (a *Axon) checkAnswerSize(batch, seq int64) (wire.ReturnCode, string) {
	// batch*seq <= maxTokens, without computing batch*seq, which could overflow.
	maxTokens := max((int64(a.cfg.MaxMessageSize)-answerOverhead)/(wire.NetworkDim*4), 0)
	if batch <= maxTokens/seq {
		return wire.ReturnCode_Success, ""
	}
	return wire.ReturnCode_RequestShapeException,
		fmt.Sprintf("shape: [%d %d]: the answer, [%d, %d, %d] float32, would exceed the message size limit of %d bytes; want batch × seq at most %d",
			batch, seq, batch, seq, wire.NetworkDim, a.cfg.MaxMessageSize, maxTokens)
}

// ranks is the input rank each modality must have.
var ranks = map[wire.Modality]int{
	wire.Modality_TEXT:   2,
	wire.Modality_IMAGE:  5,
	wire.Modality_TENSOR: 3,
}

// reply returns a response carrying only a code and its message.
func (a *Axon) reply(code wire.ReturnCode, msg string) *wire.TensorMessage {
	resp := a.response()
	a.fill(resp, code, msg)
	return resp
}

func (a *Axon) fill(resp *wire.TensorMessage, code wire.ReturnCode, msg string) {
	resp.Version = wire.Version
	resp.Hotkey = a.hotkey
	resp.Tensors = resp.Tensors[:0]
	resp.ReturnCode = code
	resp.Message = msg
	resp.RequiresGrad = false
}

// response takes a response message from the pool. Its Tensors slice has
// length 0 and capacity 1, and its one backing element, without a buffer,
// keeps the shape slice of an earlier response for reuse.
func (a *Axon) response() *wire.TensorMessage {
	if m, ok := a.pool.Get().(*wire.TensorMessage); ok {
		return m
	}
	return &wire.TensorMessage{Tensors: []*wire.Tensor{{}}[:0]}
}
