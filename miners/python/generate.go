// Package python holds a miner written in Python (miner.py), which proves
// that a plugin in another language can be benchmarked. Its protobuf modules
// (*_pb2.py) are generated from the project's .proto files and committed;
// go generate rebuilds them with protoc.
package python

//go:generate protoc --proto_path=../../minerbench/internal/contract/pluginpb --proto_path=../../minerbench/internal/chain/chainpb --proto_path=../../minerbench/internal/wire --python_out=. miner.proto chain.proto bittensor.proto
