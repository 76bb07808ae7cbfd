package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// TestRun serves a synapse's answer, answers zeros of the asked shape twice (the second from
// the marshaled response), refuses requests it cannot answer, and stops
// when stdin closes.
func TestRun(t *testing.T) {
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	served := make(chan error, 1)
	go func() { served <- run(stdinR, stdoutW) }()
	out := bufio.NewReader(stdoutR)
	addr, err := out.ReadString('\n')
	require.NoError(t, err)
	url, err := out.ReadString('\n')
	require.NoError(t, err)
	resp, err := http.Post(strings.TrimSpace(url)+"/Dummy", "application/json", strings.NewReader(`{"dummy_input": 3}`))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "200", resp.Header.Get("bt_header_axon_status_code"))
	assert.JSONEq(t, string(dummyAnswer), string(body))

	conn, err := grpc.NewClient("passthrough:///"+strings.TrimSpace(addr),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	client := wire.NewBittensorClient(conn)
	req := &wire.TensorMessage{Tensors: []*wire.Tensor{{Shape: []int64{2, 3}}}}
	for range 2 {
		resp, err := client.Forward(context.Background(), req)
		require.NoError(t, err)
		assert.Equal(t, wire.ReturnCode_Success, resp.ReturnCode)
		require.Len(t, resp.Tensors, 1)
		assert.Equal(t, []int64{2, 3, wire.NetworkDim}, resp.Tensors[0].Shape)
		out, err := tensor.Decode(resp.Tensors[0].Buffer, tensor.Msgpack, tensor.Float32)
		require.NoError(t, err)
		assert.Equal(t, make([]float32, 2*3*wire.NetworkDim), out.Float32s())
	}
	_, err = client.Forward(context.Background(), &wire.TensorMessage{})
	assert.ErrorContains(t, err, "request tensors: 0; want 1")
	_, err = client.Forward(context.Background(), &wire.TensorMessage{Tensors: []*wire.Tensor{{Shape: []int64{6}}}})
	assert.ErrorContains(t, err, "request tensor shape [6]: want rank 2")

	require.NoError(t, stdinW.Close())
	assert.NoError(t, <-served)
}
