package axon

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// TestForwardCodeError checks that a handler answers the return code of a
// *CodeError it returns, over real gRPC, with status OK.
func TestForwardCodeError(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		want    wire.ReturnCode
		message string
	}{
		{"nucleus full", &CodeError{Code: wire.ReturnCode_NucleusFull, Message: "busy"}, wire.ReturnCode_NucleusFull, "busy"},
		{"backoff", &CodeError{Code: wire.ReturnCode_Backoff, Message: "slow down"}, wire.ReturnCode_Backoff, "slow down"},
		{"no return", &CodeError{Code: wire.ReturnCode_NoReturn}, wire.ReturnCode_NoReturn, ""},
		{"wrapped", fmt.Errorf("layer 3: %w", &CodeError{Code: wire.ReturnCode_NucleusTimeout, Message: "too slow"}), wire.ReturnCode_NucleusTimeout, "too slow"},
		{"success is no error code", &CodeError{Code: wire.ReturnCode_Success, Message: "fine"}, wire.ReturnCode_UnknownException, "forward handler: return code Success: fine"},
	}
	signer := newSigner(t, "client")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fwd := func(context.Context, tensor.Tensor) (tensor.Tensor, error) { return tensor.Tensor{}, tt.err }
			s := serve(t, Config{}, fwd)
			resp, err := client(t, s.addr).Forward(signed(t, signer), textRequest(t, tokens(2, 3)))
			require.NoError(t, err, "a chosen code is answered with gRPC status OK")
			assert.Equal(t, tt.want, resp.ReturnCode)
			assert.Equal(t, tt.message, resp.Message)
			assert.Empty(t, resp.Tensors)
			assert.Equal(t, s.axon.Hotkey(), resp.Hotkey)
		})
	}
}

func TestCodeErrorMessage(t *testing.T) {
	err := &CodeError{Code: wire.ReturnCode_NucleusFull, Message: "busy"}
	assert.Equal(t, "return code NucleusFull: busy", err.Error())
}
