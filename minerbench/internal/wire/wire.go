// Package wire holds the Bittensor 2.0.x protocol: the protobuf messages, the
// Bittensor gRPC service, the protocol constants and the gRPC compressions.
// The Go code is generated from bittensor.proto and committed, so building
// needs no protoc. README.md beside this file describes the protocol: what a
// request and an answer hold, the signature, the return codes, the
// msgpack-numpy layout and the limits minerbench's axon adds.
package wire

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --plugin=protoc-gen-go-grpc=$(go tool -n protoc-gen-go-grpc) --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative bittensor.proto"

// Protocol constants of Bittensor 2.0.4.
const (
	// Version is the protocol version sent in every message and header (2.0.4).
	Version = 204
	// NetworkDim is the width of every forward response's last dimension.
	NetworkDim = 1024
	// VocabSize bounds the token ids of a text request: [0, VocabSize).
	VocabSize = 50378
)

// MaxMessageSize is the default bound, in bytes, on the answers an axon
// sends and a dendrite receives: large enough for a [64, 256, 1024] float32
// answer (64 MiB) plus framing. An axon receives no request larger than the
// largest whose answer fits.
const MaxMessageSize = 64<<20 + 1<<20
