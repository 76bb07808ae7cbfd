// Package pluginpb holds the generated Go of miner.proto, the control channel
// between the benchmark host and a miner plugin.
package pluginpb

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --plugin=protoc-gen-go-grpc=$(go tool -n protoc-gen-go-grpc) --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative miner.proto"
