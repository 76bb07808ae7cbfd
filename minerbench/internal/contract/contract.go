// Package contract is the control channel between the benchmark host and a
// miner plugin: the go-plugin handshake, the Controller interface that
// crosses the process boundary, and the adapter pair that carries it over
// gRPC.
//
// The miner side (package miner) serves a Controller; the host side (package
// launch) dispenses one. Settings cross it as plain string maps.
package contract

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/minerbench/minerbench/minerbench/internal/contract/pluginpb"
)

// Handshake is the go-plugin handshake every miner plugin answers. A plugin in
// another language speaks go-plugin's gRPC protocol with these values.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "MINERBENCH_PLUGIN",
	MagicCookieValue: "miner-v1",
}

// PluginName is the single entry of the plugin map, which the host dispenses.
const PluginName = "miner"

// Info describes a miner: its name and its settings with their defaults.
type Info struct {
	// Name is the miner's name, as benchmark names and the history show it.
	Name string
	// Defaults are every setting the miner accepts, its own and the
	// runtime's, with their default values.
	Defaults map[string]string
}

// Started tells where a running miner serves: its hotkey's SS58 address,
// its axon's host:port, and the URL of its HTTP synapse axon if it has one.
type Started struct {
	// Hotkey is the SS58 address of the hotkey the miner's axon answers as.
	Hotkey string
	// Endpoint is the host:port the miner's axon serves on.
	Endpoint string
	// SynapseEndpoint is the URL (http://host:port) of the miner's HTTP
	// synapse axon, or "" when it serves no synapses.
	SynapseEndpoint string
}

// Controller is what the host can ask of a miner: its name and its
// settings with their defaults, to start with settings, and to stop.
type Controller interface {
	// Info returns the miner's name and its settings with their defaults.
	Info(ctx context.Context) (Info, error)
	// Start starts the miner with s, overrides of its default settings, and
	// returns once its axon serves (and is announced on the chain, when one
	// is set). A miner already running refuses with an error.
	Start(ctx context.Context, s map[string]string) (Started, error)
	// Stop stops the running miner's axon gracefully; it does nothing when
	// the miner is not running.
	Stop(ctx context.Context) error
}

// PluginSet returns the plugin map of both sides; impl is nil on the host.
func PluginSet(impl Controller) goplugin.PluginSet {
	return goplugin.PluginSet{PluginName: &grpcPlugin{impl: impl}}
}

// grpcPlugin binds a Controller to go-plugin's gRPC transport.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl Controller
}

// GRPCServer registers the plugin-side adapter.
func (p *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterMinerServer(s, &grpcServer{impl: p.impl})
	return nil
}

// GRPCClient returns the host-side adapter.
func (p *grpcPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &grpcClient{stub: pluginpb.NewMinerClient(c)}, nil
}

// grpcClient satisfies Controller by calling the plugin over gRPC.
type grpcClient struct{ stub pluginpb.MinerClient }

func (c *grpcClient) Info(ctx context.Context) (Info, error) {
	r, err := c.stub.Info(ctx, &pluginpb.InfoRequest{})
	if err != nil {
		return Info{}, err
	}
	return Info{Name: r.GetName(), Defaults: r.GetDefaults()}, nil
}

func (c *grpcClient) Start(ctx context.Context, s map[string]string) (Started, error) {
	r, err := c.stub.Run(ctx, &pluginpb.RunRequest{Settings: s})
	if err != nil {
		return Started{}, err
	}
	return Started{Hotkey: r.GetHotkey(), Endpoint: r.GetEndpoint(), SynapseEndpoint: r.GetSynapseEndpoint()}, nil
}

func (c *grpcClient) Stop(ctx context.Context) error {
	_, err := c.stub.Stop(ctx, &pluginpb.StopRequest{})
	return err
}

// grpcServer serves a Controller to the host.
type grpcServer struct {
	pluginpb.UnimplementedMinerServer
	impl Controller
}

func (s *grpcServer) Info(ctx context.Context, _ *pluginpb.InfoRequest) (*pluginpb.InfoResponse, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, err
	}
	return &pluginpb.InfoResponse{Name: info.Name, Defaults: info.Defaults}, nil
}

func (s *grpcServer) Run(ctx context.Context, r *pluginpb.RunRequest) (*pluginpb.RunResponse, error) {
	started, err := s.impl.Start(ctx, r.GetSettings())
	if err != nil {
		return nil, err
	}
	return &pluginpb.RunResponse{Hotkey: started.Hotkey, Endpoint: started.Endpoint, SynapseEndpoint: started.SynapseEndpoint}, nil
}

func (s *grpcServer) Stop(ctx context.Context, _ *pluginpb.StopRequest) (*pluginpb.StopResponse, error) {
	return &pluginpb.StopResponse{}, s.impl.Stop(ctx)
}
