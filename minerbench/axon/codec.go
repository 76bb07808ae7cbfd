package axon

import (
	"sync"

	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec
	"google.golang.org/grpc/mem"

	"github.com/minerbench/minerbench/minerbench/wire"
)

// recyclingCodec is the proto codec with one addition: once a response has
// been marshaled into gRPC's own buffers, it goes back to the axon's pool, so
// the next response reuses its tensor buffer (up to 64 MiB) instead of
// allocating one. The axon's server marshals nothing but its own responses
// and installs no stats handler, so no one holds a response after Marshal.
type recyclingCodec struct {
	pool *sync.Pool
}

var protoCodec = encoding.GetCodecV2("proto")

// Marshal marshals v and recycles it when it is a response.
func (c recyclingCodec) Marshal(v any) (mem.BufferSlice, error) {
	out, err := protoCodec.Marshal(v)
	if m, ok := v.(*wire.TensorMessage); ok {
		m.Tensors = m.Tensors[:0]
		m.Message = ""
		c.pool.Put(m)
	}
	return out, err
}

// Unmarshal is the proto codec's.
func (c recyclingCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return protoCodec.Unmarshal(data, v)
}

// Name is the proto codec's.
func (c recyclingCodec) Name() string { return protoCodec.Name() }
