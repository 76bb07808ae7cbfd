package minerbench_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/minerbench/minerbench/minerbench"
)

// TestMain builds and launches the bundled miners when benchmarks run: the
// template and noop, and flaky when -mb.miners names it.
func TestMain(m *testing.M) {
	minerbench.Main(m,
		minerbench.MinerSpec{Name: "template", Package: "./miners/template"},
		minerbench.MinerSpec{Name: "noop", Package: "./miners/noop"},
		minerbench.MinerSpec{Name: "flaky", Package: "./miners/flaky", Optional: true},
	)
}

// BenchmarkStandard is Bittensor 2.0.4's QueryBenchmark's
// run_standard_benchmark. Its batch and block size come from -mb.batch and
// -mb.block, 10 × 10 by default.
func BenchmarkStandard(b *testing.B) {
	minerbench.Bench(b, minerbench.Standard())
}

// BenchmarkCustom is the template's benchmark_custom, batch 15 and block 10.
// Its history is custom-queries.csv, as the template named it.
func BenchmarkCustom(b *testing.B) {
	minerbench.Bench(b, minerbench.Load{Batch: 15, Block: 10, History: "custom-queries"})
}

// BenchmarkShapes sweeps a few batch × block sizes, small enough that the
// default run stays short: at 32 × 32 the template takes about half a
// second a query, so -mb.batch and -mb.block reach larger shapes.
func BenchmarkShapes(b *testing.B) {
	for _, s := range []struct{ batch, block int }{{1, 1}, {1, 64}, {16, 16}} {
		minerbench.Bench(b, minerbench.Load{Batch: s.batch, Block: s.block})
	}
}

// BenchmarkConcurrency sweeps the number of concurrent workers
// (QueryBenchmark's n_processes) at the standard shape.
func BenchmarkConcurrency(b *testing.B) {
	for _, conc := range []int{1, 4, 16} {
		load := minerbench.Standard()
		load.Conc = conc
		minerbench.Bench(b, load)
	}
}

// BenchmarkSynapse queries each miner's HTTP synapse axon, as a bittensor 6
// or later validator does, with the synapse of the -mb.synapse and -mb.body
// flags: the subnet template's Dummy by default, which noop serves. A
// miner that serves no such synapse is skipped.
func BenchmarkSynapse(b *testing.B) {
	minerbench.Bench(b, minerbench.StandardSynapse())
}

// BenchmarkTextEmbedding queries the template's model through its
// TextEmbedding synapse, at the standard shape of 10 sequences of 10 token
// ids: the synapse counterpart of BenchmarkStandard.
func BenchmarkTextEmbedding(b *testing.B) {
	minerbench.BenchMiner(b, "template", minerbench.Load{Synapse: &minerbench.Synapse{
		Name: "TextEmbedding", Body: tokenIDs(10, 10), HashFields: []string{"token_ids"},
	}})
}

// BenchmarkStream reads noop's streaming synapse Tokens, 64 tokens a
// query, as the dendrite of a text-generation subnet reads its miners'
// tokens: time to the first byte, chunks per second and MB/s.
func BenchmarkStream(b *testing.B) {
	minerbench.BenchMiner(b, "noop", minerbench.Load{Synapse: &minerbench.Synapse{
		Name: "Tokens", Body: `{"n": 64}`, Streaming: true,
	}})
}

// tokenIDs returns the body of a TextEmbedding of batch sequences of seq
// distinct, deterministic token ids.
func tokenIDs(batch, seq int) string {
	var b strings.Builder
	b.WriteString(`{"token_ids": [`)
	for i := range batch {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('[')
		for j := range seq {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Itoa((i*seq + j) * 7919 % 50257))
		}
		b.WriteByte(']')
	}
	b.WriteString("]}")
	return b.String()
}
