package chain

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/minerbench/minerbench/minerbench/internal/chain/chainpb"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newChain returns a chain that is not started: blocks come from Advance.
func newChain(t testing.TB, blockTime time.Duration) *Chain {
	t.Helper()
	c, err := New(Config{BlockTime: blockTime})
	require.NoError(t, err)
	return c
}

// serve serves c on a loopback port until the test ends and returns its
// endpoint.
func serve(t testing.TB, c *Chain) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stop, err := c.Serve(lis)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, stop()) })
	return lis.Addr().String()
}

// dial returns a Client of the chain at endpoint, closed when the test ends.
func dial(t testing.TB, endpoint string) *Client {
	t.Helper()
	cl, err := Dial(context.Background(), endpoint)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, cl.Close()) })
	return cl
}

// backends are the two ways of holding a chain: in process, and over gRPC.
var backends = []struct {
	name    string
	connect func(t testing.TB, c *Chain) Subtensor
}{
	{"chain", func(_ testing.TB, c *Chain) Subtensor { return c }},
	{"grpc", func(t testing.TB, c *Chain) Subtensor { return dial(t, serve(t, c)) }},
}

func axon(hotkey, ip string, port int32) Axon {
	ipType := int32(4)
	if addr, err := netip.ParseAddr(ip); err == nil && addr.Is6() {
		ipType = 6
	}
	return Axon{Hotkey: hotkey, Coldkey: "cold-" + hotkey, IP: ip, Port: port, IPType: ipType, Modality: wire.Modality_TEXT}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		in      time.Duration
		want    time.Duration
		wantErr []string
	}{
		{name: "zero means default", in: 0, want: DefaultBlockTime},
		{name: "explicit", in: time.Millisecond, want: time.Millisecond},
		{name: "real", in: RealBlockTime, want: 12 * time.Second},
		{name: "negative", in: -time.Millisecond, wantErr: []string{"Config.BlockTime", "-1ms", "positive", "DefaultBlockTime"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{BlockTime: tt.in})
			if tt.wantErr != nil {
				require.Error(t, err)
				assert.Nil(t, c)
				for _, s := range tt.wantErr {
					assert.Contains(t, err.Error(), s)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.BlockTime())
			block, err := c.Block(context.Background())
			require.NoError(t, err)
			assert.Zero(t, block)
		})
	}
}

func TestRegistrationTakesEffectAtNextBlock(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			c := newChain(t, time.Millisecond)
			s := be.connect(t, c)

			require.NoError(t, s.ServeAxon(ctx, axon("alice", "127.0.0.1", 8091)))
			mg, err := s.Metagraph(ctx)
			require.NoError(t, err)
			assert.Empty(t, mg, "registration visible before the next block")

			assert.Equal(t, uint64(1), c.Advance())
			block, err := s.Block(ctx)
			require.NoError(t, err)
			assert.Equal(t, uint64(1), block)
			mg, err = s.Metagraph(ctx)
			require.NoError(t, err)
			require.Len(t, mg, 1)
			assert.Equal(t, int32(wire.Version), mg[0].GetVersion())
			assert.Equal(t, int64(0), mg[0].GetUid())
			assert.Equal(t, "alice", mg[0].GetHotkey())
			assert.Equal(t, "cold-alice", mg[0].GetColdkey())
			assert.Equal(t, "127.0.0.1", mg[0].GetIp())
			assert.Equal(t, int32(8091), mg[0].GetPort())
			assert.Equal(t, int32(4), mg[0].GetIpType())
			assert.Equal(t, wire.Modality_TEXT, mg[0].GetModality())
		})
	}
}

func TestUIDsAssignedInOrderAndKept(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			c := newChain(t, time.Millisecond)
			s := be.connect(t, c)

			require.NoError(t, s.ServeAxon(ctx, axon("alice", "0.0.0.0", 0)))
			require.NoError(t, s.ServeAxon(ctx, axon("bob", "127.0.0.1", 1001)))
			require.NoError(t, s.ServeAxon(ctx, axon("alice", "127.0.0.1", 1000))) // same block: an update
			c.Advance()

			require.NoError(t, s.ServeAxon(ctx, axon("carol", "::1", 1002)))
			bob := axon("bob", "2001:DB8::7", 2001)
			bob.Modality = wire.Modality_TENSOR
			require.NoError(t, s.ServeAxon(ctx, bob))

			type entry struct {
				uid    int64
				hotkey string
				ip     string
				port   int32
			}
			read := func() []entry {
				mg, err := s.Metagraph(ctx)
				require.NoError(t, err)
				var out []entry
				for _, n := range mg {
					out = append(out, entry{n.GetUid(), n.GetHotkey(), n.GetIp(), n.GetPort()})
				}
				return out
			}
			assert.Equal(t, []entry{
				{0, "alice", "127.0.0.1", 1000},
				{1, "bob", "127.0.0.1", 1001},
			}, read(), "before the second block")

			c.Advance()
			assert.Equal(t, []entry{
				{0, "alice", "127.0.0.1", 1000},
				{1, "bob", "2001:db8::7", 2001}, // keeps uid 1, ip in canonical form
				{2, "carol", "::1", 1002},
			}, read())
			mg, err := s.Metagraph(ctx)
			require.NoError(t, err)
			assert.Equal(t, wire.Modality_TENSOR, mg[1].GetModality())
			assert.Equal(t, int32(6), mg[1].GetIpType())
		})
	}
}

func TestMetagraphReturnsACopy(t *testing.T) {
	ctx := context.Background()
	c := newChain(t, time.Millisecond)
	require.NoError(t, c.ServeAxon(ctx, axon("alice", "127.0.0.1", 8091)))
	c.Advance()
	mg, err := c.Metagraph(ctx)
	require.NoError(t, err)
	require.Len(t, mg, 1)
	mg[0].Port = 1
	mg[0].Hotkey = "mallory"
	mg, err = c.Metagraph(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(8091), mg[0].GetPort())
	assert.Equal(t, "alice", mg[0].GetHotkey())
}

func TestServeAxonValidation(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(a *Axon)
		field string
		msg   string
	}{
		{"empty hotkey", func(a *Axon) { a.Hotkey = "" }, "hotkey",
			`chain: axon hotkey "" is invalid; want a non-empty ss58 address`},
		{"ip does not parse", func(a *Axon) { a.IP = "1.2.3" }, "ip",
			`chain: axon ip "1.2.3" is invalid; want an IPv4 or IPv6 address without a zone`},
		{"ip is a host name", func(a *Axon) { a.IP = "localhost" }, "ip",
			`chain: axon ip "localhost" is invalid; want an IPv4 or IPv6 address without a zone`},
		{"empty ip", func(a *Axon) { a.IP = "" }, "ip",
			`chain: axon ip "" is invalid; want an IPv4 or IPv6 address without a zone`},
		{"ip with zone", func(a *Axon) { a.IP, a.IPType = "fe80::1%eth0", 6 }, "ip",
			`chain: axon ip "fe80::1%eth0" is invalid; want an IPv4 or IPv6 address without a zone`},
		{"negative port", func(a *Axon) { a.Port = -1 }, "port",
			`chain: axon port -1 is invalid; want 0..65535 (0 is accepted but unroutable)`},
		{"port too large", func(a *Axon) { a.Port = 65536 }, "port",
			`chain: axon port 65536 is invalid; want 0..65535 (0 is accepted but unroutable)`},
		{"ip_type 0", func(a *Axon) { a.IPType = 0 }, "ip_type",
			`chain: axon ip_type 0 is invalid; want 4 or 6`},
		{"ip_type 6 for IPv4", func(a *Axon) { a.IPType = 6 }, "ip_type",
			`chain: axon ip_type 6 is invalid; want 4 for the IPv4 address "127.0.0.1"`},
		{"ip_type 4 for IPv6", func(a *Axon) { a.IP = "::1" }, "ip_type",
			`chain: axon ip_type 4 is invalid; want 6 for the IPv6 address "::1"`},
		{"unknown modality", func(a *Axon) { a.Modality = 3 }, "modality",
			`chain: axon modality 3 is invalid; want TEXT (0), IMAGE (1) or TENSOR (2)`},
		{"unknown protocol", func(a *Axon) { a.Protocol = 2 }, "protocol",
			`chain: axon protocol 2 is invalid; want grpc (0) or synapse (1)`},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			c := newChain(t, time.Millisecond)
			s := be.connect(t, c)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					a := axon("alice", "127.0.0.1", 8091)
					tt.edit(&a)
					err := s.ServeAxon(ctx, a)
					var ae *AxonError
					require.ErrorAs(t, err, &ae)
					assert.Equal(t, tt.field, ae.Field)
					assert.Equal(t, tt.msg, err.Error())
					assert.Equal(t, codes.InvalidArgument, status.Code(err))
				})
			}
			c.Advance()
			mg, err := s.Metagraph(ctx)
			require.NoError(t, err)
			assert.Empty(t, mg, "a refused axon was registered")
		})
	}
}

func TestServeAxonAccepts(t *testing.T) {
	tests := []struct {
		name   string
		axon   Axon
		wantIP string
	}{
		{"loopback", axon("a", "127.0.0.1", 8091), "127.0.0.1"},
		{"unspecified, port 0", axon("a", "0.0.0.0", 0), "0.0.0.0"},
		{"highest port", axon("a", "10.0.0.1", 65535), "10.0.0.1"},
		{"ipv6 canonical form", axon("a", "2001:0DB8:0::1", 1), "2001:db8::1"},
		{"ipv4-mapped ipv6", axon("a", "::ffff:127.0.0.1", 1), "::ffff:127.0.0.1"},
		{"unspecified ipv6", axon("a", "::", 1), "::"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := newChain(t, time.Millisecond)
			require.NoError(t, c.ServeAxon(ctx, tt.axon))
			c.Advance()
			mg, err := c.Metagraph(ctx)
			require.NoError(t, err)
			require.Len(t, mg, 1)
			assert.Equal(t, tt.wantIP, mg[0].GetIp())
		})
	}
}

// TestProtocolsRecorded records each axon's protocol, in process and over
// gRPC, in uid order; a 2.0.x registration, which says none, is gRPC.
func TestProtocolsRecorded(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			c := newChain(t, time.Millisecond)
			s := be.connect(t, c)
			synapseAxon := axon("bob", "127.0.0.1", 8092)
			synapseAxon.Protocol = ProtocolSynapse
			require.NoError(t, s.ServeAxon(ctx, axon("alice", "127.0.0.1", 8091)))
			require.NoError(t, s.ServeAxon(ctx, synapseAxon))
			c.Advance()
			protocols, err := s.(interface {
				Protocols(context.Context) ([]Protocol, error)
			}).Protocols(ctx)
			require.NoError(t, err)
			assert.Equal(t, []Protocol{ProtocolGRPC, ProtocolSynapse}, protocols)
			assert.Equal(t, "grpc synapse", ProtocolGRPC.String()+" "+ProtocolSynapse.String())
		})
	}
}

// TestInvalidArgumentOverTheWire checks the raw gRPC status a foreign client
// sees: InvalidArgument with the in-process message.
func TestInvalidArgumentOverTheWire(t *testing.T) {
	c := newChain(t, time.Millisecond)
	conn, err := grpc.NewClient(serve(t, c), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()

	_, err = chainpb.NewSubtensorClient(conn).ServeAxon(context.Background(),
		&chainpb.ServeAxonRequest{Hotkey: "alice", Ip: "127.0.0.1", Port: 70000, IpType: 4})
	st, ok := status.FromError(err)
	require.True(t, ok, "not a gRPC status: %v", err)
	assert.Equal(t, codes.InvalidArgument, st.Code())
	local := c.ServeAxon(context.Background(), axon("alice", "127.0.0.1", 70000))
	require.Error(t, local)
	assert.Equal(t, local.Error(), st.Message())
}

func TestCanceledContext(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			c := newChain(t, time.Millisecond)
			s := be.connect(t, c)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			assert.ErrorIs(t, s.ServeAxon(ctx, axon("alice", "127.0.0.1", 1)), context.Canceled)
			_, err := s.Metagraph(ctx)
			assert.ErrorIs(t, err, context.Canceled)
			_, err = s.Block(ctx)
			assert.ErrorIs(t, err, context.Canceled)
			c.Advance()
			mg, err := c.Metagraph(context.Background())
			require.NoError(t, err)
			assert.Empty(t, mg)
		})
	}
}

// waitBlock waits until c reaches block n, or fails the test after a
// generous bound meant only to stop a hung test.
func waitBlock(t *testing.T, c *Chain, n uint64) {
	t.Helper()
	require.Eventually(t, func() bool {
		b, err := c.Block(context.Background())
		return err == nil && b >= n
	}, 30*time.Second, time.Millisecond, "chain never reached block %d", n)
}

func TestStartStop(t *testing.T) {
	c := newChain(t, time.Millisecond)
	stop := c.Start()
	assert.Equal(t, fmt.Sprintf("%p", stop), fmt.Sprintf("%p", c.Start()), "Start while running returns the running stop")
	waitBlock(t, c, 3)
	stop()
	stop() // idempotent
	goleak.VerifyNone(t)
	stopped, err := c.Block(context.Background())
	require.NoError(t, err)

	// A registration on a stopped chain stays queued until blocks resume.
	require.NoError(t, c.ServeAxon(context.Background(), axon("alice", "127.0.0.1", 1)))
	mg, err := c.Metagraph(context.Background())
	require.NoError(t, err)
	assert.Empty(t, mg)

	restart := c.Start()
	stop() // an old stop does not stop the new producer
	waitBlock(t, c, stopped+2)
	mg, err = c.Metagraph(context.Background())
	require.NoError(t, err)
	assert.Len(t, mg, 1)
	restart()
	restart()
	goleak.VerifyNone(t)
}

func TestServeStop(t *testing.T) {
	_, err := newChain(t, time.Millisecond).Serve(nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listener is nil")

	c := newChain(t, time.Millisecond)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stop, err := c.Serve(lis)
	require.NoError(t, err)
	cl, err := Dial(context.Background(), lis.Addr().String())
	require.NoError(t, err)
	assert.Equal(t, time.Millisecond, cl.BlockTime())
	require.NoError(t, cl.Close())
	require.NoError(t, stop())
	require.NoError(t, stop()) // idempotent
	goleak.VerifyNone(t)

	_, err = Dial(context.Background(), lis.Addr().String())
	require.Error(t, err, "dialed a stopped chain")
	assert.Equal(t, codes.Unavailable, status.Code(err))
	assert.Contains(t, err.Error(), lis.Addr().String())

	// A stop at once, before the serving goroutine may have begun, is as
	// clean, and closes the listener too.
	for range 20 {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		stop, err := c.Serve(lis)
		require.NoError(t, err)
		require.NoError(t, stop())
		_, err = lis.Accept()
		require.ErrorIs(t, err, net.ErrClosed)
	}
}

func TestDialErrors(t *testing.T) {
	_, err := Dial(context.Background(), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `endpoint ""`)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := newChain(t, time.Millisecond)
	_, err = Dial(ctx, serve(t, c))
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
}

// TestRegisterAndNewClient serves the chain on a caller's gRPC server and
// reads it over a caller's connection, as through go-plugin's broker.
func TestRegisterAndNewClient(t *testing.T) {
	_, err := NewClient(context.Background(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "conn is nil")

	c := newChain(t, 7*time.Millisecond)
	srv := grpc.NewServer()
	c.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		srv.GracefulStop()
		assert.NoError(t, <-served)
	}()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()

	cl, err := NewClient(context.Background(), conn)
	require.NoError(t, err)
	assert.Equal(t, 7*time.Millisecond, cl.BlockTime())
	require.NoError(t, cl.ServeAxon(context.Background(), axon("alice", "127.0.0.1", 8091)))
	c.Advance()
	n, err := FindEndpoint(context.Background(), cl, "alice", 1)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8091", Endpoint(n))

	require.NoError(t, cl.Close())
	_, err = cl.Block(context.Background())
	assert.NoError(t, err, "Close closed a connection the caller owns")
}
