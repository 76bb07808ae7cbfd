// Package chainpb holds the gRPC control channel of the mock chain, generated
// from chain.proto and committed, so building needs no protoc. It imports the
// wire protocol's bittensor.proto for Neuron and Modality.
package chainpb

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --plugin=protoc-gen-go-grpc=$(go tool -n protoc-gen-go-grpc) --proto_path=. --proto_path=../../wire --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative chain.proto"
