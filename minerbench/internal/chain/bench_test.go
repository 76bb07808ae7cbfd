package chain

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkMetagraph reads a metagraph of 256 neurons, in process and over
// loopback gRPC: the cost of one FindEndpoint poll.
func BenchmarkMetagraph(b *testing.B) {
	for _, be := range backends {
		b.Run("via="+be.name, func(b *testing.B) {
			ctx := context.Background()
			c := newChain(b, time.Millisecond)
			s := be.connect(b, c)
			for i := range 256 {
				if err := c.ServeAxon(ctx, axon(fmt.Sprintf("hotkey-%d", i), "127.0.0.1", int32(1000+i))); err != nil {
					b.Fatal(err)
				}
			}
			c.Advance()
			for b.Loop() {
				mg, err := s.Metagraph(ctx)
				if err != nil || len(mg) != 256 {
					b.Fatalf("Metagraph: %d neurons, %v", len(mg), err)
				}
			}
		})
	}
}
