package miner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/chain"
	"github.com/minerbench/minerbench/minerbench/internal/httpaxon"
	"github.com/minerbench/minerbench/minerbench/internal/settings"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// Running is a started miner. Its axon serves until Stop.
type Running struct {
	// Hotkey is the SS58 address of the hotkey the axon answers as.
	Hotkey string
	// Endpoint is the host:port the axon serves on.
	Endpoint string
	// SynapseEndpoint is the URL (http://host:port) of the HTTP synapse
	// axon of a miner whose Forwarder is a SynapseServer, or "".
	SynapseEndpoint string

	axon      *axon.Axon
	served    chan struct{}
	synapses  *httpaxon.Axon
	synServed chan struct{}
	closer    func() error
	once      sync.Once
	stopErr   error
}

// Start runs m in this process, as the host's start of it does.
//
// It merges overrides into the defaults and refuses an unknown key. It
// calls New, serves the axon, and announces it on the chain when
// subtensor.chain_endpoint is set. It returns once the axon serves and is
// announced. On error nothing is left running, and what New returned is
// closed. log receives the runtime's and the miner's log. A nil log
// discards it.
//
// A miner's main runs it with Serve. Start is for running a miner inside
// another program, and for package minertest.
func Start(ctx context.Context, m Miner, overrides Settings, log *slog.Logger) (*Running, error) {
	r, err := start(ctx, m, overrides, log)
	if err != nil {
		return nil, fmt.Errorf("miner %s: %w", m.Name(), err)
	}
	return r, nil
}

func start(ctx context.Context, m Miner, overrides Settings, log *slog.Logger) (*Running, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	merged, err := settings.Merge(defaults(m), overrides)
	if err != nil {
		return nil, err
	}
	s := Settings(merged)
	cfg, err := parseRuntimeSettings(s)
	if err != nil {
		return nil, err
	}
	fw, err := m.New(ctx, s, log)
	if err != nil {
		return nil, err
	}
	if fw == nil {
		return nil, errors.New("the miner's New returned a nil Forwarder and no error")
	}
	r := &Running{closer: closer(fw)}
	fail := func(err error) (*Running, error) {
		if cerr := r.closer(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close: %w", cerr))
		}
		return nil, err
	}
	r.axon, err = axon.New(cfg.axon, fw.Forward)
	if err != nil {
		return fail(err)
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(cfg.ip, strconv.Itoa(cfg.port)))
	if err != nil {
		return fail(fmt.Errorf("axon listen: %w", err))
	}
	r.served = make(chan struct{})
	go func() {
		defer close(r.served)
		if err := r.axon.Serve(lis); err != nil {
			log.Error("axon stopped", "error", err)
		}
	}()
	port := lis.Addr().(*net.TCPAddr).Port
	r.Hotkey, r.Endpoint = cfg.hotkey.SS58(), net.JoinHostPort(cfg.ip, strconv.Itoa(port))
	log.Info("axon serving", "hotkey", r.Hotkey, "endpoint", r.Endpoint)
	synPort, err := r.serveSynapses(cfg, fw, log)
	if err != nil {
		r.stopAxon()
		return fail(err)
	}
	if cfg.chainEndpoint == "" {
		return r, nil
	}
	a := cfg.axonInfo(r.Hotkey, port, synPort)
	announce := func(ctx context.Context, a AxonInfo) error {
		if err := register(ctx, cfg.chainEndpoint, a); err != nil {
			return err
		}
		log.Info("axon registered", "chain", cfg.chainEndpoint, "ip", a.IP, "port", a.Port)
		return nil
	}
	if registrar, ok := m.(Registrar); ok {
		err = registrar.Register(ctx, announce, a)
	} else {
		err = announce(ctx, a)
	}
	if err != nil {
		r.stopAxon()
		return fail(err)
	}
	return r, nil
}

// axonInfo is what the runtime announces: the gRPC axon on port, or with
// axon.announce=synapse the HTTP synapse axon on synPort.
func (cfg runtimeConfig) axonInfo(hotkey string, port, synPort int) AxonInfo {
	a := AxonInfo{
		Hotkey:   hotkey,
		Coldkey:  cfg.coldkey.SS58(),
		IP:       cfg.externalIP,
		Port:     int32(port),
		IPType:   ipType(cfg.externalIP),
		Modality: wire.Modality_TEXT,
	}
	if cfg.announce == AnnounceSynapse {
		a.Port, a.Protocol = int32(synPort), chain.ProtocolSynapse
	}
	return a
}

// closer returns the Close of fw, or a no-op when fw is not an io.Closer.
func closer(fw Forwarder) func() error {
	if c, ok := fw.(io.Closer); ok {
		return c.Close
	}
	return func() error { return nil }
}

// Stop stops the miner and returns the error of its Close.
//
// The axon stops gracefully, so the calls in flight are answered. Then
// Stop closes what New returned, if it is an io.Closer. It is idempotent.
func (r *Running) Stop() error {
	r.once.Do(func() {
		r.stopAxon()
		r.stopErr = r.closer()
	})
	return r.stopErr
}

func (r *Running) stopAxon() {
	if r.synapses != nil {
		r.synapses.Stop()
		<-r.synServed
	}
	r.axon.Stop()
	<-r.served
}

// serveSynapses starts the HTTP synapse axon when fw is a SynapseServer
// and returns its port; axon.announce=synapse needs one.
func (r *Running) serveSynapses(cfg runtimeConfig, fw Forwarder, log *slog.Logger) (int, error) {
	syns, ok, err := synapsesOf(fw)
	switch {
	case err != nil:
		return 0, err
	case !ok && cfg.announce == AnnounceSynapse:
		return 0, fmt.Errorf("setting %s=%s: the miner serves no synapses (its Forwarder is no miner.SynapseServer); want %s", KeyAxonAnnounce, AnnounceSynapse, AnnounceGRPC)
	case !ok:
		return 0, nil
	}
	c := cfg.synapse
	c.Wallet, c.Synapses = cfg.hotkey, syns
	if b, ok := fw.(SynapseBlacklister); ok {
		c.Blacklist = b.Blacklist
	}
	ax, err := httpaxon.New(c)
	if err != nil {
		return 0, err
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(cfg.ip, strconv.Itoa(cfg.synapsePort)))
	if err != nil {
		return 0, fmt.Errorf("synapse axon listen: %w", err)
	}
	r.synapses, r.synServed = ax, make(chan struct{})
	go func() {
		defer close(r.synServed)
		if err := ax.Serve(lis); err != nil {
			log.Error("synapse axon stopped", "error", err)
		}
	}()
	port := lis.Addr().(*net.TCPAddr).Port
	r.SynapseEndpoint = "http://" + net.JoinHostPort(cfg.ip, strconv.Itoa(port))
	log.Info("synapse axon serving", "hotkey", r.Hotkey, "endpoint", r.SynapseEndpoint)
	return port, nil
}

// register announces reg on the chain at endpoint, as serve_axon did.
func register(ctx context.Context, endpoint string, reg chain.Axon) error {
	c, err := chain.Dial(ctx, endpoint)
	if err != nil {
		return fmt.Errorf("chain %s: %w", endpoint, err)
	}
	defer c.Close()
	if err := c.ServeAxon(ctx, reg); err != nil {
		return fmt.Errorf("serve_axon on chain %s: %w", endpoint, err)
	}
	return nil
}

func ipType(ip string) int32 {
	if a := net.ParseIP(ip); a != nil && a.To4() == nil {
		return 6
	}
	return 4
}

// runtimeConfig is the parsed form of the runtime's settings.
type runtimeConfig struct {
	hotkey, coldkey *wallet.Keypair
	ip, externalIP  string
	port            int
	axon            axon.Config
	chainEndpoint   string
	synapsePort     int
	announce        string
	synapse         httpaxon.Config
}

func parseRuntimeSettings(s Settings) (runtimeConfig, error) {
	var c runtimeConfig
	var err error
	name, hot := s[KeyWalletName], s[KeyWalletHotkey]
	if name == "" || hot == "" {
		return c, fmt.Errorf("settings %s=%q %s=%q: want non-empty wallet and hotkey names", KeyWalletName, name, KeyWalletHotkey, hot)
	}
	if seed := s[KeyWalletSeed]; seed != "" {
		if c.hotkey, err = wallet.FromHexSeed(seed); err != nil {
			return c, fmt.Errorf("setting %s: %w", KeyWalletSeed, err)
		}
	} else {
		c.hotkey = wallet.Mock(name + "/" + hot)
	}
	c.coldkey = wallet.Mock(name)
	c.ip = s[KeyAxonIP]
	if net.ParseIP(c.ip) == nil {
		return c, fmt.Errorf("setting %s=%q: want an IP address such as 127.0.0.1", KeyAxonIP, c.ip)
	}
	c.externalIP = s[KeyAxonExternalIP]
	if c.externalIP == "" {
		c.externalIP = c.ip
	} else if net.ParseIP(c.externalIP) == nil {
		return c, fmt.Errorf("setting %s=%q: want an IP address, or empty for %s", KeyAxonExternalIP, c.externalIP, KeyAxonIP)
	}
	if c.port, err = s.Int(KeyAxonPort, 0, 65535); err != nil {
		return c, err
	}
	if c.axon, err = parseAxonSettings(s); err != nil {
		return c, err
	}
	c.axon.Wallet = c.hotkey
	c.chainEndpoint = s[KeyChainEndpoint]
	if c.synapsePort, err = s.Int(KeyAxonSynapsePort, 0, 65535); err != nil {
		return c, err
	}
	switch c.announce = strings.TrimSpace(s[KeyAxonAnnounce]); c.announce {
	case AnnounceGRPC, AnnounceSynapse:
	default:
		return c, fmt.Errorf("setting %s=%q: want %s or %s", KeyAxonAnnounce, s[KeyAxonAnnounce], AnnounceGRPC, AnnounceSynapse)
	}
	c.synapse, err = parseSynapseSettings(s, c.axon)
	return c, err
}

// parseAxonSettings returns the axon's configuration from the axon.*
// settings. The wallet is not part of it.
func parseAxonSettings(s Settings) (axon.Config, error) {
	var c axon.Config
	c.Compression = strings.TrimSpace(s[KeyAxonCompression])
	if c.Compression == noCompression {
		c.Compression = ""
	}
	if err := wire.CheckCompression("setting "+KeyAxonCompression, c.Compression); err != nil {
		return c, err
	}
	ints := []struct {
		key    string
		lo, hi int
		to     *int
	}{
		{KeyAxonWorkers, 0, 4096, &c.Workers},
		{KeyAxonQueue, 0, 1 << 20, &c.QueueSize},
		{KeyAxonMaxConnections, 1, 1 << 20, &c.MaxConnections},
		{KeyAxonMaxStreams, 1, 1 << 20, &c.MaxStreamsPerConnection},
		{KeyAxonMaxRequestsInFlight, 1, 1 << 20, &c.MaxRequestsInFlight},
	}
	for _, f := range ints {
		v, err := s.Int(f.key, f.lo, f.hi)
		if err != nil {
			return c, err
		}
		*f.to = v
	}
	answerBytes, err := s.Int(KeyAxonMaxAnswerBytes, axon.DefaultMaxMessageSize, 1<<40)
	if err != nil {
		return c, err
	}
	c.MaxAnswerBytes = int64(answerBytes)
	if err := parsePerPeer(s, &c); err != nil {
		return c, err
	}
	durations := []struct {
		key string
		to  *time.Duration
	}{
		{KeyAxonTimeout, &c.ForwardTimeout},
		{KeyAxonHandshakeTimeout, &c.HandshakeTimeout},
		{KeyAxonRequestTimeout, &c.RequestTimeout},
		{KeyAxonWriteTimeout, &c.WriteTimeout},
		{KeyAxonIdleTimeout, &c.IdleTimeout},
		{KeyAxonMaxClockSkew, &c.MaxClockSkew},
	}
	for _, f := range durations {
		v, err := s.Duration(f.key)
		if err != nil {
			return c, err
		}
		*f.to = v
	}
	return c, nil
}

// parsePerPeer sets c's per-peer bounds from the settings, which may not
// exceed the totals they share: c's, whose other bounds are set.
func parsePerPeer(s Settings, c *axon.Config) error {
	workers, queue := cmp.Or(c.Workers, axon.DefaultWorkers), cmp.Or(c.QueueSize, axon.DefaultQueueSize)
	for _, f := range []struct {
		key, total string
		most       int64
		to         func(int64)
	}{
		{KeyAxonMaxConnsPerPeer, KeyAxonMaxConnections, int64(c.MaxConnections), func(v int64) { c.MaxConnectionsPerPeer = int(v) }},
		{KeyAxonMaxCallsPerPeer, KeyAxonWorkers + " + " + KeyAxonQueue, int64(workers + queue), func(v int64) { c.MaxCallsPerPeer = int(v) }},
		{KeyAxonMaxAnswerPerPeer, KeyAxonMaxAnswerBytes, c.MaxAnswerBytes, func(v int64) { c.MaxAnswerBytesPerPeer = v }},
	} {
		v, err := strconv.ParseInt(strings.TrimSpace(s[f.key]), 10, 64)
		if err != nil || v < 0 || v > f.most {
			return fmt.Errorf("setting %s=%q: want an integer from 0 (the default) to %d, %s", f.key, s[f.key], f.most, f.total)
		}
		f.to(v)
	}
	return nil
}

// noCompression is Bittensor 2.0.4's name of no compression
// (--axon.compression NoCompression), taken as "".
const noCompression = "NoCompression"
