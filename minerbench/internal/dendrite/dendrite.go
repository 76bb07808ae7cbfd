// Package dendrite is the client side of the 2.0.x wire protocol.
//
// A Dendrite signs forward text queries and sends them to an axon over one
// reused gRPC connection. It times them, and maps every outcome to the
// return code the protocol description (minerbench/internal/wire/README.md) names.
package dendrite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/status"

	"github.com/minerbench/minerbench/minerbench/internal/auth"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// DefaultMaxMessageSize is the default bound of sent and received messages.
// It is wire.MaxMessageSize, which fits the largest answer the benchmark
// asks for, with room for framing.
const DefaultMaxMessageSize = wire.MaxMessageSize

// flowWindow is the HTTP/2 flow-control window of each connection and call.
//
// 16 MiB is the most grpc-go's dynamic window grows to. A fixed window
// turns grpc-go's bandwidth-delay estimation off. With one call at a time,
// that estimation sends a ping after nearly every answer. The server
// acknowledges it and the dendrite reads it, a frame each way per query
// that measures nothing of the miner. The window only lets the server send
// ahead of the dendrite's reading, and the dendrite reads every answer at
// once.
const flowWindow = 16 << 20

// Option configures Dial.
type Option func(*options) error

type options struct {
	maxMessageSize int
	compression    string
}

// WithMaxMessageSize sets the largest message sent or received, in bytes.
//
// The default is DefaultMaxMessageSize. A larger answer is recorded as
// UnknownException, from gRPC status RESOURCE_EXHAUSTED.
func WithMaxMessageSize(n int) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("dendrite: WithMaxMessageSize: %d; want a positive number of bytes", n)
		}
		o.maxMessageSize = n
		return nil
	}
}

// WithCompression sets the gRPC compression of the dendrite's requests.
//
// As Bittensor's dendrite.compression, it is "" for none (the default),
// wire.Gzip or wire.Deflate. Answers are read in any of them, whatever
// this is.
func WithCompression(name string) Option {
	return func(o *options) error {
		if err := wire.CheckCompression("dendrite: WithCompression", name); err != nil {
			return err
		}
		o.compression = name
		return nil
	}
}

// Dendrite queries one axon endpoint over one connection.
// It is safe for concurrent use.
//
// A sequential caller signs every call with one receptor uid, as
// Bittensor's receptor did. Concurrent calls each borrow a signer with a
// uid of its own. An axon refuses a nonce more than 10 ms older than the
// newest it has seen for the same hotkey and uid. Calls signed at nearly
// the same time may be verified in another order. So sharing one uid
// between calls in flight would turn scheduling delays into spurious
// Unauthenticated answers. The dendrite holds at most as many uids as
// calls were ever in flight at once.
type Dendrite struct {
	conn   *grpc.ClientConn
	key    *wallet.Keypair
	hotkey string
	reqs   sync.Pool // of *request

	// Idle signers, each with its own receptor uid: one in idle, taken and
	// given back without a lock (all a sequential caller needs), the others
	// in signers.
	idle      atomic.Pointer[auth.Signer]
	signersMu sync.Mutex
	signers   []*auth.Signer
}

// request is a forward request and its reply, reused from call to call.
//
// It holds the request message with its tensor and buffer, and the reply
// with room to decode its shape. Reuse is safe because gRPC has marshaled
// the request by the time the call returns.
type request struct {
	msg      wire.TensorMessage
	tensor   wire.Tensor
	tensors  [1]*wire.Tensor
	reply    reply
	outShape [3]int64 // room to decode the answer's shape
}

// Dial connects to endpoint, a host:port, without TLS.
// Every call is signed with w. Dial returns once the connection is ready,
// or with an error when ctx ends first.
func Dial(ctx context.Context, endpoint string, w *wallet.Keypair, opts ...Option) (*Dendrite, error) {
	if endpoint == "" {
		return nil, errors.New("dendrite: endpoint: empty; want host:port")
	}
	o := options{maxMessageSize: DefaultMaxMessageSize}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	signer, err := auth.NewSigner(w)
	if err != nil {
		return nil, fmt.Errorf("dendrite: %w", err)
	}
	callOpts := []grpc.CallOption{
		grpc.MaxCallRecvMsgSize(o.maxMessageSize),
		grpc.MaxCallSendMsgSize(o.maxMessageSize),
		grpc.ForceCodecV2(replyCodec{}),
	}
	if o.compression != "" {
		callOpts = append(callOpts, grpc.UseCompressor(o.compression))
	}
	conn, err := grpc.NewClient("passthrough:///"+endpoint,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		experimental.WithBufferPool(&buffers),
		grpc.WithInitialWindowSize(flowWindow),
		grpc.WithInitialConnWindowSize(flowWindow),
		grpc.WithDefaultCallOptions(callOpts...),
	)
	if err != nil {
		return nil, fmt.Errorf("dendrite: endpoint %q: %w", endpoint, err)
	}
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			break
		}
		if !conn.WaitForStateChange(ctx, s) {
			conn.Close()
			return nil, fmt.Errorf("dendrite: connecting to %s (last state %v): %w", endpoint, s, ctx.Err())
		}
	}
	d := &Dendrite{
		conn:   conn,
		key:    w,
		hotkey: signer.SS58(),
	}
	d.idle.Store(signer)
	return d, nil
}

// signer takes an idle signer, or makes one with a new receptor uid.
func (d *Dendrite) signer() *auth.Signer {
	if s := d.idle.Swap(nil); s != nil {
		return s
	}
	d.signersMu.Lock()
	defer d.signersMu.Unlock()
	if n := len(d.signers); n > 0 {
		s := d.signers[n-1]
		d.signers = d.signers[:n-1]
		return s
	}
	s, _ := auth.NewSigner(d.key) // d.key is not nil: Dial checked it.
	return s
}

func (d *Dendrite) release(s *auth.Signer) {
	if d.idle.CompareAndSwap(nil, s) {
		return
	}
	d.signersMu.Lock()
	d.signers = append(d.signers, s)
	d.signersMu.Unlock()
}

// Close closes the connection.
// Calls in flight fail with Unavailable or UnknownException.
func (d *Dendrite) Close() error {
	return d.conn.Close()
}

// Hotkey returns the SS58 address the dendrite signs as.
func (d *Dendrite) Hotkey() string { return d.hotkey }

// ForwardText sends a forward text query and returns the outputs, the
// return code and the time.
//
// inputs is an INT64 tensor of shape [batch, seq]. ctx bounds the call.
// The time runs from the start of the call to the end of decoding. Only
// with Success are there outputs, a FLOAT32 tensor of shape
// [batch, seq, wire.NetworkDim], which the caller owns.
//
// Some codes are recorded before sending. EmptyRequest is for inputs
// without elements, and RequestShapeException for a rank other than 2.
// InvalidRequest is for a dtype other than INT64.
// RequestSerializationException is for inputs that do not encode.
//
// After sending, codes follow the protocol description:
//   - gRPC DEADLINE_EXCEEDED → Timeout. So is a call cut by ctx being
//     cancelled with cause context.DeadlineExceeded, a timeout kept on the
//     client's side.
//   - UNAVAILABLE → Unavailable, UNAUTHENTICATED → Unauthenticated.
//   - Any other gRPC error → UnknownException.
//   - A return_code other than Success → that code.
//   - Success without a tensor → EmptyResponse.
//   - A tensor that does not decode, is not FLOAT32 or whose size
//     disagrees with its shape → ResponseDeserializationException.
//   - A shape other than [batch, seq, wire.NetworkDim] →
//     ResponseShapeException.
func (d *Dendrite) ForwardText(ctx context.Context, inputs tensor.Tensor) (tensor.Tensor, wire.ReturnCode, time.Duration) {
	start := time.Now()
	out, code := d.forwardText(ctx, inputs, true)
	return out, code, time.Since(start)
}

// Measure sends a forward text query and returns its code and time.
//
// It checks the answer as ForwardText does, but keeps no outputs. The
// answer is received into a buffer that the next call reuses. So a query
// leaves no garbage the size of its answer.
func (d *Dendrite) Measure(ctx context.Context, inputs tensor.Tensor) (wire.ReturnCode, time.Duration) {
	start := time.Now()
	_, code := d.forwardText(ctx, inputs, false)
	return code, time.Since(start)
}

// forwardText sends a forward text query.
// Only when keep is set are the outputs returned, in a buffer of their own.
func (d *Dendrite) forwardText(ctx context.Context, inputs tensor.Tensor, keep bool) (tensor.Tensor, wire.ReturnCode) {
	if len(inputs.Data) == 0 {
		return tensor.Tensor{}, wire.ReturnCode_EmptyRequest
	}
	if len(inputs.Shape) != 2 {
		return tensor.Tensor{}, wire.ReturnCode_RequestShapeException
	}
	if inputs.DType != tensor.Int64 {
		return tensor.Tensor{}, wire.ReturnCode_InvalidRequest
	}
	req, _ := d.reqs.Get().(*request)
	if req == nil {
		req = &request{}
		req.tensors[0] = &req.tensor
	}
	defer d.reqs.Put(req)
	buf, err := tensor.Encode(req.tensor.Buffer[:0], inputs, tensor.Msgpack)
	if err != nil {
		return tensor.Tensor{}, wire.ReturnCode_RequestSerializationException
	}
	req.tensor.Version = wire.Version
	req.tensor.Buffer = buf
	req.tensor.Shape = append(req.tensor.Shape[:0], inputs.Shape...)
	req.tensor.Serializer = wire.Serializer_MSGPACK
	req.tensor.TensorType = wire.TensorType_TORCH
	req.tensor.Dtype = wire.DataType_INT64
	req.tensor.Modality = wire.Modality_TEXT
	req.tensor.RequiresGrad = false
	req.msg.Version = wire.Version
	req.msg.Hotkey = d.hotkey
	req.msg.Tensors = req.tensors[:]
	req.msg.RequiresGrad = true

	signer := d.signer()
	defer d.release(signer)
	ctx, err = signer.AppendToOutgoingContext(ctx, wire.RequestType_FORWARD)
	if err != nil {
		return tensor.Tensor{}, wire.ReturnCode_UnknownException
	}
	a := &req.reply
	a.keep = keep
	err = d.conn.Invoke(ctx, wire.Bittensor_Forward_FullMethodName, &req.msg, a)
	if a.msg != nil {
		defer func() {
			if !keep {
				recycle(a.msg)
			}
			a.msg, a.buffer = nil, nil
		}()
	}
	if err != nil {
		return tensor.Tensor{}, codeOf(ctx, err)
	}
	out, code := decodeOutputs(a, inputs.Shape[0], inputs.Shape[1], req.outShape[:])
	if keep && code == wire.ReturnCode_Success {
		out.Shape = slices.Clone(out.Shape)
	}
	return out, code
}

// codeOf returns the code the dendrite records for a call's gRPC error.
func codeOf(ctx context.Context, err error) wire.ReturnCode {
	switch status.Code(err) {
	case codes.DeadlineExceeded:
		return wire.ReturnCode_Timeout
	case codes.Canceled:
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			return wire.ReturnCode_Timeout
		}
		return wire.ReturnCode_UnknownException
	case codes.Unavailable:
		return wire.ReturnCode_Unavailable
	case codes.Unauthenticated:
		return wire.ReturnCode_Unauthenticated
	default:
		return wire.ReturnCode_UnknownException
	}
}

// decodeOutputs checks and decodes a forward answer to inputs of shape
// [batch, seq].
//
// shape is room for the decoded shape, which only the size check reads.
// The outputs' Shape is a's, and their Data a view of a's buffer.
func decodeOutputs(a *reply, batch, seq int64, shape []int64) (tensor.Tensor, wire.ReturnCode) {
	if a.code != wire.ReturnCode_Success {
		return tensor.Tensor{}, a.code
	}
	if a.tensors == 0 {
		return tensor.Tensor{}, wire.ReturnCode_EmptyResponse
	}
	dec, err := tensor.DecodeTo(shape, a.buffer, tensor.Serializer(a.serializer), tensor.DType(a.dtype))
	if err != nil || dec.DType != tensor.Float32 {
		return tensor.Tensor{}, wire.ReturnCode_ResponseDeserializationException
	}
	if want, err := tensor.NumElements(a.shape); err != nil || want != int64(len(dec.Data)/4) {
		return tensor.Tensor{}, wire.ReturnCode_ResponseDeserializationException
	}
	if len(a.shape) != 3 || a.shape[0] != batch || a.shape[1] != seq || a.shape[2] != wire.NetworkDim {
		return tensor.Tensor{}, wire.ReturnCode_ResponseShapeException
	}
	return tensor.Tensor{DType: tensor.Float32, Shape: a.shape, Data: dec.Data}, wire.ReturnCode_Success
}
