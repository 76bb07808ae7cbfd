package chain_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/minerbench/minerbench/minerbench/internal/chain"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// The host embeds a chain and serves it on loopback; a miner in another
// process dials it and registers its axon; the host then finds the axon.
func Example() {
	ctx := context.Background()
	c, err := chain.New(chain.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Start()()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	stop, err := c.Serve(lis)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	// In the miner's process.
	sub, err := chain.Dial(ctx, lis.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	err = sub.ServeAxon(ctx, chain.Axon{Hotkey: "5Hotkey", Coldkey: "5Coldkey", IP: "127.0.0.1", Port: 8091, IPType: 4, Modality: wire.Modality_TEXT})
	if err != nil {
		log.Fatal(err)
	}

	// In the host.
	n, err := chain.FindEndpoint(ctx, c, "5Hotkey", chain.DefaultMaxBlocks)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.GetUid(), chain.Endpoint(n))
	// Output: 0 127.0.0.1:8091
}
