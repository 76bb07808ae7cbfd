package chain

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/minerbench/minerbench/minerbench/internal/chain/chainpb"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// Serve serves the chain's Subtensor gRPC service on lis until stop.
//
// Miners in other processes reach the chain through it. stop is
// idempotent. It waits for the calls in flight and closes lis. It returns
// the error that ended serving early, or nil.
func (c *Chain) Serve(lis net.Listener) (stop func() error, err error) {
	if lis == nil {
		return nil, errors.New(`chain: Serve listener is nil; want an open listener, e.g. net.Listen("tcp", "127.0.0.1:0")`)
	}
	srv := grpc.NewServer()
	c.Register(srv)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	return sync.OnceValue(func() error {
		srv.GracefulStop()
		// A stop before the goroutine began serving makes Serve close lis
		// and return ErrServerStopped: nothing ended early.
		if err := <-served; !errors.Is(err, grpc.ErrServerStopped) {
			return err
		}
		return nil
	}), nil
}

// Register adds the chain's Subtensor gRPC service to s.
// s is a server the caller owns, such as one from go-plugin's broker.
// Serve does the same on a server of its own.
func (c *Chain) Register(s grpc.ServiceRegistrar) {
	chainpb.RegisterSubtensorServer(s, server{c: c})
}

// server adapts a *Chain to the generated gRPC service.
type server struct {
	chainpb.UnimplementedSubtensorServer
	c *Chain
}

func (s server) ServeAxon(ctx context.Context, req *chainpb.ServeAxonRequest) (*chainpb.ServeAxonResponse, error) {
	err := s.c.ServeAxon(ctx, Axon{
		Hotkey:   req.GetHotkey(),
		Coldkey:  req.GetColdkey(),
		IP:       req.GetIp(),
		Port:     req.GetPort(),
		IPType:   req.GetIpType(),
		Modality: req.GetModality(),
		Protocol: Protocol(req.GetProtocol()),
	})
	if err != nil {
		return nil, statusError(err)
	}
	return &chainpb.ServeAxonResponse{}, nil
}

func (s server) Metagraph(ctx context.Context, _ *chainpb.MetagraphRequest) (*chainpb.MetagraphResponse, error) {
	neurons, err := s.c.Metagraph(ctx)
	if err != nil {
		return nil, statusError(err)
	}
	protocols, err := s.c.Protocols(ctx)
	if err != nil {
		return nil, statusError(err)
	}
	resp := &chainpb.MetagraphResponse{Neurons: neurons, Protocols: make([]chainpb.AxonProtocol, len(protocols))}
	for i, p := range protocols {
		resp.Protocols[i] = chainpb.AxonProtocol(p)
	}
	return resp, nil
}

func (s server) Block(ctx context.Context, _ *chainpb.BlockRequest) (*chainpb.BlockResponse, error) {
	block, err := s.c.Block(ctx)
	if err != nil {
		return nil, statusError(err)
	}
	return &chainpb.BlockResponse{Block: block, BlockTimeNs: int64(s.c.BlockTime())}, nil
}

// statusError gives a context error its gRPC code.
// An *AxonError carries its own status.
func statusError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return err
}

// Client is a Subtensor reached over gRPC.
// It is how a miner in another process sees the host's chain. Its methods
// are safe for concurrent use.
type Client struct {
	endpoint  string
	owned     *grpc.ClientConn // closed by Close; nil when the caller owns the connection
	rpc       chainpb.SubtensorClient
	blockTime time.Duration
}

var _ Subtensor = (*Client)(nil)

// Dial connects to the chain served at endpoint, a "host:port".
//
// It asks the chain for its block time, so an unreachable chain is
// reported here and not at the first registration. Close the client when
// done.
func Dial(ctx context.Context, endpoint string) (*Client, error) {
	if endpoint == "" {
		return nil, errors.New(`chain: Dial endpoint "" is empty; want the chain's "host:port", e.g. "127.0.0.1:40123"`)
	}
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("chain: Dial endpoint %q: %w", endpoint, err)
	}
	c, err := NewClient(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c.owned = conn
	return c, nil
}

// NewClient is Dial over a connection the caller owns.
// Such a connection may come from go-plugin's broker. Close leaves it open.
func NewClient(ctx context.Context, conn *grpc.ClientConn) (*Client, error) {
	if conn == nil {
		return nil, errors.New("chain: NewClient conn is nil; want a connection to a served chain")
	}
	c := &Client{endpoint: conn.Target(), rpc: chainpb.NewSubtensorClient(conn)}
	resp, err := c.rpc.Block(ctx, &chainpb.BlockRequest{})
	if err != nil {
		return nil, c.callError(ctx, "Dial", err)
	}
	if resp.GetBlockTimeNs() <= 0 {
		return nil, fmt.Errorf("chain: Dial on %q: the chain's block time %v is not positive; want a chain served by this package", c.endpoint, time.Duration(resp.GetBlockTimeNs()))
	}
	c.blockTime = time.Duration(resp.GetBlockTimeNs())
	return c, nil
}

// Close closes the connection Dial opened.
// A Client from NewClient has nothing to close.
func (c *Client) Close() error {
	if c.owned == nil {
		return nil
	}
	return c.owned.Close()
}

// BlockTime returns the chain's block time, learned when dialing.
func (c *Client) BlockTime() time.Duration { return c.blockTime }

// ServeAxon queues a's registration, which takes effect at the next block.
// An invalid axon is refused with the *AxonError the chain sent.
func (c *Client) ServeAxon(ctx context.Context, a Axon) error {
	_, err := c.rpc.ServeAxon(ctx, &chainpb.ServeAxonRequest{
		Hotkey:   a.Hotkey,
		Coldkey:  a.Coldkey,
		Ip:       a.IP,
		Port:     a.Port,
		IpType:   a.IPType,
		Modality: a.Modality,
		Protocol: chainpb.AxonProtocol(a.Protocol),
	})
	if err != nil {
		if st, ok := status.FromError(err); ok {
			if ae, ok := axonErrorFromStatus(st); ok {
				return ae
			}
		}
		return c.callError(ctx, "ServeAxon", err)
	}
	return nil
}

// Metagraph returns the registered neurons sorted by uid.
func (c *Client) Metagraph(ctx context.Context) ([]*wire.Neuron, error) {
	resp, err := c.rpc.Metagraph(ctx, &chainpb.MetagraphRequest{})
	if err != nil {
		return nil, c.callError(ctx, "Metagraph", err)
	}
	return resp.GetNeurons(), nil
}

// Protocols returns the wire protocol of each registered neuron's axon,
// indexed by uid as Metagraph's neurons. A chain that sends none (an older
// minerbench) has only gRPC axons.
func (c *Client) Protocols(ctx context.Context) ([]Protocol, error) {
	resp, err := c.rpc.Metagraph(ctx, &chainpb.MetagraphRequest{})
	if err != nil {
		return nil, c.callError(ctx, "Metagraph", err)
	}
	out := make([]Protocol, len(resp.GetNeurons()))
	for i, p := range resp.GetProtocols() {
		if i < len(out) {
			out[i] = Protocol(p)
		}
	}
	return out, nil
}

// Block returns the chain's current block number.
func (c *Client) Block(ctx context.Context) (uint64, error) {
	resp, err := c.rpc.Block(ctx, &chainpb.BlockRequest{})
	if err != nil {
		return 0, c.callError(ctx, "Block", err)
	}
	return resp.GetBlock(), nil
}

// callError names the call and the chain in err.
// When the context ended, it reports the context's own error. A caller
// then tests it with errors.Is, as with an in-process *Chain.
func (c *Client) callError(ctx context.Context, call string, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	} else if deadline, ok := ctx.Deadline(); ok && status.Code(err) == codes.DeadlineExceeded && !time.Now().Before(deadline) {
		// The deadline passed, but the server's copy of it ended the call
		// before the context's own timer fired.
		err = context.DeadlineExceeded
	}
	return fmt.Errorf("chain: %s on %q: %w", call, c.endpoint, err)
}
