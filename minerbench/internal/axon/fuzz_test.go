package axon

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// invalidRequestCodes are the codes the protocol and Forward's documentation
// allow for a forward request that the axon refuses before any handler runs.
var invalidRequestCodes = []wire.ReturnCode{
	wire.ReturnCode_EmptyRequest,
	wire.ReturnCode_RequestDeserializationException,
	wire.ReturnCode_RequestShapeException,
	wire.ReturnCode_NotImplemented,
	wire.ReturnCode_InvalidRequest,
}

// fuzzShape reads a shape from b as consecutive signed varints, so that small
// dimensions take one byte and any int64 can be reached; it stops at the
// first malformed varint and after tensor.MaxRank+2 dimensions.
func fuzzShape(b []byte) []int64 {
	var shape []int64
	for len(b) > 0 && len(shape) < tensor.MaxRank+2 {
		d, n := binary.Varint(b)
		if n <= 0 {
			break
		}
		shape = append(shape, d)
		b = b[n:]
	}
	return shape
}

// FuzzValidate builds a forward request from fuzzed fields (how many tensors,
// whether the first is nil, and the tensor's shape, dtype, modality,
// serializer and buffer) and runs the axon's validation and decoding of it.
// It must not panic or change the request; a refusal must carry a code that
// is allowed for invalid requests and a message; an acceptance must be a
// TEXT request whose first tensor is decoded as INT64 [batch, seq] with both
// at least 1 and exactly the elements its buffer holds. The seed corpus, one
// request per outcome, is in testdata/fuzz/FuzzValidate.
func FuzzValidate(f *testing.F) {
	f.Fuzz(func(t *testing.T, count uint8, nilFirst bool, shape []byte, dtype, modality, serializer int32, buffer []byte) {
		in := &wire.Tensor{
			Version:    wire.Version,
			Buffer:     buffer,
			Shape:      fuzzShape(shape),
			Serializer: wire.Serializer(serializer),
			Dtype:      wire.DataType(dtype),
			Modality:   wire.Modality(modality),
		}
		req := &wire.TensorMessage{Version: wire.Version}
		for i := range int(count % 4) {
			if i == 0 && nilFirst {
				req.Tensors = append(req.Tensors, nil)
			} else {
				req.Tensors = append(req.Tensors, in)
			}
		}
		origBuffer, origShape := bytes.Clone(buffer), slices.Clone(in.Shape)

		got, code, msg := decodeText(req, make([]int64, 5)) // the room a job has

		require.Equal(t, origBuffer, in.Buffer, "the request's buffer is left as it was")
		require.Equal(t, origShape, in.Shape, "the request's shape is left as it was")
		if len(req.Tensors) == 0 || nilFirst {
			require.Equal(t, wire.ReturnCode_EmptyRequest, code, msg)
		}
		if code != wire.ReturnCode_Success {
			require.Contains(t, invalidRequestCodes, code, msg)
			require.NotEmpty(t, msg)
			require.Equal(t, tensor.Tensor{}, got)
			return
		}
		require.Empty(t, msg)
		require.Equal(t, wire.Modality_TEXT, in.Modality)
		require.Equal(t, tensor.Int64, got.DType)
		require.Len(t, got.Shape, 2)
		require.GreaterOrEqual(t, got.Shape[0], int64(1))
		require.GreaterOrEqual(t, got.Shape[1], int64(1))
		require.Equal(t, origShape, got.Shape, "the inputs have the shape the request declares")
		require.NoError(t, got.Validate())
		dec, err := tensor.Decode(buffer, tensor.Serializer(serializer), tensor.DType(dtype))
		require.NoError(t, err)
		require.True(t, bytes.Equal(dec.Data, got.Data), "the inputs are the elements the buffer holds")
	})
}
