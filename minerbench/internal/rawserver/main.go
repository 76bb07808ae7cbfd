// Command rawserver is the server of BenchmarkOverhead and
// BenchmarkSynapseOverhead: a Bittensor 2.0.x server that answers every
// Forward with zeros of the asked shape from a response it marshaled once
// per shape, and an HTTP synapse server that answers every request with one
// prebuilt Dummy answer. Neither checks anything.
//
// It listens on two free loopback ports, prints the gRPC address and then
// the HTTP URL on stdout, a line each, and exits when its stdin closes (when
// the benchmark that started it ends, or dies). Doing no work of its own
// beyond gRPC's and net/http's, it lets the client's cost per query show in
// the client's process.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rawserver:", err)
		os.Exit(1)
	}
}

// run serves until stdin closes.
func run(stdin io.Reader, stdout io.Writer) error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer(
		grpc.ForceServerCodecV2(codec{}),
		grpc.MaxRecvMsgSize(wire.MaxMessageSize),
		grpc.MaxSendMsgSize(wire.MaxMessageSize),
	)
	srv.RegisterService(&serviceDesc, &answers{})
	httpLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: http.HandlerFunc(answerSynapse)}
	if _, err := fmt.Fprintf(stdout, "%s\nhttp://%s\n", lis.Addr(), httpLis.Addr()); err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(stdin))
		srv.Stop()
		_ = httpSrv.Close()
	}()
	go func() { _ = httpSrv.Serve(httpLis) }()
	return srv.Serve(lis)
}

// dummyAnswer is the body of every synapse answer: a Dummy whose output is
// twice its input, as the subnet template's miner answers.
var dummyAnswer = []byte(`{"name":"Dummy","timeout":12.0,"total_size":0,"header_size":0,` +
	`"axon":{"status_code":200,"status_message":"Success","process_time":0.0001},` +
	`"computed_body_hash":"","dummy_input":3,"dummy_output":6}`)

// dummyHeaders are the headers of every synapse answer, lowercase as a
// Python axon writes them.
var dummyHeaders = map[string][]string{
	"Content-Type":                  {"application/json"},
	"Content-Length":                {strconv.Itoa(len(dummyAnswer))},
	"name":                          {"Dummy"},
	"bt_header_axon_status_code":    {"200"},
	"bt_header_axon_status_message": {"Success"},
	"bt_header_axon_process_time":   {"0.0001"},
}

// answerSynapse reads the request's body and answers dummyAnswer.
func answerSynapse(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	h := w.Header()
	for k, v := range dummyHeaders {
		h[k] = v
	}
	_, _ = w.Write(dummyAnswer)
}

// serviceDesc is the Bittensor service with a Forward whose handler answers
// marshaled responses.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: wire.Bittensor_ServiceDesc.ServiceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Forward",
		Handler: func(srv any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req wire.TensorMessage
			if err := dec(&req); err != nil {
				return nil, err
			}
			return srv.(*answers).forward(&req)
		},
	}},
	Metadata: wire.Bittensor_ServiceDesc.Metadata,
}

// marshaled is a response already marshaled; codec writes it as it is.
type marshaled []byte

// answers holds the marshaled response of each shape asked for so far.
type answers struct {
	mu     sync.Mutex
	shapes map[[2]int64]marshaled
}

// forward returns the marshaled Success response to req: zeros of shape
// [batch, seq, wire.NetworkDim] for an input of shape [batch, seq].
func (a *answers) forward(req *wire.TensorMessage) (marshaled, error) {
	if len(req.Tensors) != 1 {
		return nil, fmt.Errorf("request tensors: %d; want 1", len(req.Tensors))
	}
	if s := req.Tensors[0].GetShape(); len(s) != 2 {
		return nil, fmt.Errorf("request tensor shape %v: want rank 2", s)
	}
	shape := [2]int64{req.Tensors[0].Shape[0], req.Tensors[0].Shape[1]}
	a.mu.Lock()
	defer a.mu.Unlock()
	if m, ok := a.shapes[shape]; ok {
		return m, nil
	}
	full := []int64{shape[0], shape[1], wire.NetworkDim}
	buf, err := tensor.Encode(nil, tensor.FromFloat32(full, make([]float32, shape[0]*shape[1]*wire.NetworkDim)), tensor.Msgpack)
	if err != nil {
		return nil, err
	}
	m, err := proto.Marshal(&wire.TensorMessage{
		Version:    wire.Version,
		ReturnCode: wire.ReturnCode_Success,
		Tensors: []*wire.Tensor{{
			Version: wire.Version, Buffer: buf, Shape: full,
			Serializer: wire.Serializer_MSGPACK, Dtype: wire.DataType_FLOAT32, Modality: wire.Modality_TEXT,
		}},
	})
	if err != nil {
		return nil, err
	}
	if a.shapes == nil {
		a.shapes = map[[2]int64]marshaled{}
	}
	a.shapes[shape] = m
	return m, nil
}

// codec is the proto codec, except that a marshaled response is written
// without copying.
type codec struct{}

var protoCodec = encoding.GetCodecV2("proto")

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(marshaled); ok {
		return mem.BufferSlice{mem.SliceBuffer(m)}, nil
	}
	return protoCodec.Marshal(v)
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error { return protoCodec.Unmarshal(data, v) }

func (codec) Name() string { return protoCodec.Name() }
