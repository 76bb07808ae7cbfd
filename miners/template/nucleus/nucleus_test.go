package nucleus

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/minerbench/minerbench/minerbench/wire"
)

// randomTokens returns n token ids drawn from seed, the first and last of the
// vocabulary included when n allows.
func randomTokens(seed uint64, n int) []int64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	tokens := make([]int64, n)
	for i := range tokens {
		tokens[i] = rng.Int64N(wire.VocabSize)
	}
	tokens[0] = 0
	if n > 1 {
		tokens[n-1] = wire.VocabSize - 1
	}
	return tokens
}

func mustNew(t testing.TB, cfg Config) *Nucleus {
	t.Helper()
	n, err := New(cfg)
	require.NoError(t, err)
	return n
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	n, err := New(Config{NHid: 1, NHead: 3, NLayers: 1, Width: 4})
	require.EqualError(t, err, "nucleus.nhead=3: want a divisor of nucleus.width=4")
	assert.Nil(t, n)
}

func TestForwardShape(t *testing.T) {
	n := mustNew(t, DefaultConfig())
	assert.Equal(t, DefaultConfig(), n.Config())
	for _, sh := range []struct{ batch, seq int }{{1, 1}, {1, 7}, {3, 1}, {2, 65}, {10, 10}} {
		t.Run(fmt.Sprintf("%dx%d", sh.batch, sh.seq), func(t *testing.T) {
			tokens := randomTokens(uint64(sh.batch*100+sh.seq), sh.batch*sh.seq)
			out, err := n.Forward(tokens, sh.batch, sh.seq)
			require.NoError(t, err)
			require.Len(t, out, sh.batch*sh.seq*wire.NetworkDim)

			into := make([]float32, len(out))
			require.NoError(t, n.ForwardInto(into, tokens, sh.batch, sh.seq))
			assert.Equal(t, out, into)
		})
	}
}

func TestDeterminism(t *testing.T) {
	tokens := randomTokens(3, 4*6)
	forward := func(seed uint64) []float32 {
		cfg := DefaultConfig()
		cfg.Seed = seed
		out, err := mustNew(t, cfg).Forward(tokens, 4, 6)
		require.NoError(t, err)
		return out
	}
	a, b, c := forward(42), forward(42), forward(43)
	assert.Equal(t, a, b, "same seed, same output")
	assert.NotEqual(t, a, c, "different seed, different output")
	differing := 0
	for i := range a {
		if a[i] != c[i] {
			differing++
		}
	}
	assert.Greater(t, differing, len(a)*9/10, "a new seed should change nearly every value")

	// Scratch memory reused from a larger call must not leak into a smaller one.
	n := mustNew(t, Config{NHid: 200, NHead: 2, NLayers: 2, Width: 64, Seed: 42})
	_, err := n.Forward(randomTokens(9, 3*70), 3, 70)
	require.NoError(t, err)
	again, err := n.Forward(tokens, 4, 6)
	require.NoError(t, err)
	assert.Equal(t, a, again)
}

func TestOutputFinite(t *testing.T) {
	for _, cfg := range []Config{
		DefaultConfig(),
		{NHid: 8, NHead: 4, NLayers: 3, Width: 256, Seed: 7},
		{NHid: 1, NHead: 1, NLayers: 1, Width: 1, Seed: 1},
		{NHid: 5, NHead: 3, NLayers: 2, Width: 9, Seed: 2},
	} {
		t.Run(fmt.Sprintf("width=%d", cfg.Width), func(t *testing.T) {
			n := mustNew(t, cfg)
			// All-equal tokens and a long sequence push attention scores to
			// their extremes.
			for _, tokens := range [][]int64{randomTokens(5, 2*130), make([]int64, 2*130)} {
				out, err := n.Forward(tokens, 2, 130)
				require.NoError(t, err)
				for i, v := range out {
					require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0), "value %d is %v", i, v)
				}
			}
		})
	}
}

func TestBatchRowsIndependent(t *testing.T) {
	const batch, seq, d = 3, 5, wire.NetworkDim
	n := mustNew(t, DefaultConfig())
	tokens := randomTokens(11, batch*seq)
	before, err := n.Forward(tokens, batch, seq)
	require.NoError(t, err)

	changed := append([]int64(nil), tokens...)
	for i := seq; i < 2*seq; i++ {
		changed[i] = (changed[i] + 1000) % wire.VocabSize
	}
	after, err := n.Forward(changed, batch, seq)
	require.NoError(t, err)

	row := func(out []float32, b int) []float32 { return out[b*seq*d : (b+1)*seq*d] }
	assert.Equal(t, row(before, 0), row(after, 0), "row 0 must not see row 1")
	assert.Equal(t, row(before, 2), row(after, 2), "row 2 must not see row 1")
	assert.NotEqual(t, row(before, 1), row(after, 1))

	// The same row alone gives the same output as inside the batch.
	alone, err := n.Forward(tokens[2*seq:], 1, seq)
	require.NoError(t, err)
	assert.InDeltaSlice(t, row(before, 2), alone, 1e-6)
}

func TestPositionsDistinguishEqualTokens(t *testing.T) {
	const seq, d = 4, wire.NetworkDim
	n := mustNew(t, DefaultConfig())
	tokens := []int64{500, 500, 500, 500}
	out, err := n.Forward(tokens, 1, seq)
	require.NoError(t, err)
	for p := 1; p < seq; p++ {
		assert.NotEqual(t, out[:d], out[p*d:(p+1)*d], "position %d", p)
	}
}

func TestForwardErrors(t *testing.T) {
	n := mustNew(t, DefaultConfig())
	tests := []struct {
		name       string
		tokens     []int64
		batch, seq int
		dst        []float32 // for ForwardInto; nil means the right length
		want       string
	}{
		{"batch zero", []int64{1}, 0, 1, nil, "batch=0: want at least 1"},
		{"seq negative", []int64{1}, 1, -2, nil, "seq=-2: want at least 1"},
		{"too few tokens", []int64{1, 2, 3}, 2, 2, nil, "3 tokens: want batch×seq = 2×2 = 4"},
		{"too many tokens", []int64{1, 2, 3}, 1, 2, nil, "3 tokens: want batch×seq = 1×2 = 2"},
		{"no tokens", nil, 1, 1, nil, "0 tokens: want batch×seq = 1×1 = 1"},
		{"shape overflows", []int64{1}, math.MaxInt / 2, 4, nil,
			fmt.Sprintf("batch=%d, seq=4: want batch×seq×1024 at most %d", math.MaxInt/2, math.MaxInt)},
		{"negative id", []int64{1, 2, 3, -1}, 2, 2, nil, "token id -1 at [1, 1]: want 0 to 50377"},
		{"id past vocabulary", []int64{50378, 2}, 1, 2, nil, "token id 50378 at [0, 0]: want 0 to 50377"},
		{"short output", []int64{1, 2}, 1, 2, make([]float32, 2047), "output length 2047: want batch×seq×1024 = 2048"},
		{"long output", []int64{1}, 1, 1, make([]float32, 1025), "output length 1025: want batch×seq×1024 = 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.dst == nil {
				out, err := n.Forward(tt.tokens, tt.batch, tt.seq)
				require.EqualError(t, err, tt.want)
				assert.Nil(t, out)
				dst := make([]float32, max(0, len(tt.tokens))*wire.NetworkDim)
				require.EqualError(t, n.ForwardInto(dst, tt.tokens, tt.batch, tt.seq), tt.want)
				return
			}
			require.EqualError(t, n.ForwardInto(tt.dst, tt.tokens, tt.batch, tt.seq), tt.want)
		})
	}
}

func TestEmbedding(t *testing.T) {
	const width = 256
	a := mustNew(t, Config{NHid: 1, NHead: 1, NLayers: 1, Width: width, Seed: 1})
	b := mustNew(t, Config{NHid: 1, NHead: 1, NLayers: 1, Width: width, Seed: 2})
	row := func(n *Nucleus, tok int64) []float64 {
		r := make([]float64, width)
		n.embed(tok, r)
		return r
	}
	bound := 0.1 * math.Sqrt(width)
	for _, tok := range []int64{0, 1, 2, 1000, wire.VocabSize - 1} {
		r := row(a, tok)
		assert.Equal(t, r, row(a, tok), "token %d: same row every time", tok)
		assert.NotEqual(t, r, row(b, tok), "token %d: seed changes the row", tok)
		var sum, sq float64
		for _, v := range r {
			require.LessOrEqual(t, math.Abs(v), bound)
			sum += v
			sq += v * v
		}
		// Uniform on ±bound: mean 0, variance bound²/3 = 0.01·width/3.
		assert.InDelta(t, 0, sum/width, 0.15, "token %d mean", tok)
		assert.InDelta(t, 0.01*width/3, sq/width, 0.01*width/3*0.25, "token %d variance", tok)
	}
	assert.NotEqual(t, row(a, 1), row(a, 2))
}

func TestLayerNorm(t *testing.T) {
	const width, rows = 37, 5
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, width*rows)
	for i := range x {
		x[i] = 100*rng.NormFloat64() + 40
	}
	ln := newLayerNorm(width)
	ln.apply(x)
	for r := range rows {
		var mean, variance float64
		for _, v := range x[r*width : (r+1)*width] {
			mean += v
		}
		mean /= width
		for _, v := range x[r*width : (r+1)*width] {
			variance += (v - mean) * (v - mean)
		}
		variance /= width
		assert.InDelta(t, 0, mean, 1e-12, "row %d mean", r)
		assert.InDelta(t, 1, variance, 1e-6, "row %d variance", r)
	}
}

// With Width 1024 there is no projection: the output is the last layer norm's,
// so each output row has mean 0 and variance 1.
func TestOutputIsNormalisedWithoutProjection(t *testing.T) {
	const seq = 3
	n := mustNew(t, Config{NHid: 16, NHead: 4, NLayers: 2, Width: 1024, Seed: 3})
	require.Nil(t, n.proj)
	out, err := n.Forward(randomTokens(4, 2*seq), 2, seq)
	require.NoError(t, err)
	for r := 0; r < 2*seq; r++ {
		var mean, variance float64
		for _, v := range out[r*1024 : (r+1)*1024] {
			mean += float64(v)
		}
		mean /= 1024
		for _, v := range out[r*1024 : (r+1)*1024] {
			variance += (float64(v) - mean) * (float64(v) - mean)
		}
		variance /= 1024
		assert.InDelta(t, 0, mean, 1e-5, "row %d mean", r)
		assert.InDelta(t, 1, variance, 1e-4, "row %d variance", r)
	}
}

// fill sets every weight, bias and layer-norm parameter of n from seed so a
// comparison also covers the parameters New sets to zero or one.
func fill(n *Nucleus, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	set := func(s []float64, lo, hi float64) {
		for i := range s {
			s[i] = lo + (hi-lo)*rng.Float64()
		}
	}
	for i := range n.layers {
		l := &n.layers[i]
		for _, lin := range []*linear{&l.qkv, &l.out, &l.ff1, &l.ff2} {
			set(lin.w.Data, -0.8, 0.8)
			set(lin.b, -0.3, 0.3)
		}
		for _, ln := range []*layerNorm{&l.norm1, &l.norm2} {
			set(ln.gamma, 0.5, 1.5)
			set(ln.beta, -0.3, 0.3)
		}
	}
}

// reference is a direct, loop-by-loop forward pass over n's weights, written
// from the model's definition and sharing no code with compute but embed.
func reference(n *Nucleus, tokens []int64, batch, seq int) []float64 {
	w, heads := n.cfg.Width, n.cfg.NHead
	dh := w / heads
	lin := func(v []float64, l linear) []float64 {
		out := make([]float64, len(l.b))
		for j := range out {
			out[j] = l.b[j]
			for i := range v {
				out[j] += v[i] * l.w.Data[i*len(l.b)+j]
			}
		}
		return out
	}
	norm := func(v []float64, ln layerNorm) []float64 {
		var mean, variance float64
		for _, x := range v {
			mean += x
		}
		mean /= float64(len(v))
		for _, x := range v {
			variance += (x - mean) * (x - mean)
		}
		variance /= float64(len(v))
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = (x-mean)/math.Sqrt(variance+1e-5)*ln.gamma[i] + ln.beta[i]
		}
		return out
	}

	var result []float64
	for b := range batch {
		x := make([][]float64, seq)
		for p := range seq {
			x[p] = make([]float64, w)
			n.embed(tokens[b*seq+p], x[p])
			for c := range w {
				f := math.Pow(10000, -float64(c-c%2)/float64(w))
				if c%2 == 0 {
					x[p][c] += math.Sin(float64(p) * f)
				} else {
					x[p][c] += math.Cos(float64(p) * f)
				}
			}
		}
		for _, l := range n.layers {
			qkv := make([][]float64, seq)
			for p := range seq {
				qkv[p] = lin(x[p], l.qkv)
			}
			for p := range seq {
				ctx := make([]float64, w)
				for h := range heads {
					scores := make([]float64, seq)
					top := math.Inf(-1)
					for k := range seq {
						for d := h * dh; d < (h+1)*dh; d++ {
							scores[k] += qkv[p][d] * qkv[k][w+d]
						}
						scores[k] /= math.Sqrt(float64(dh))
						top = math.Max(top, scores[k])
					}
					var sum float64
					for k := range seq {
						scores[k] = math.Exp(scores[k] - top)
						sum += scores[k]
					}
					for k := range seq {
						for d := h * dh; d < (h+1)*dh; d++ {
							ctx[d] += scores[k] / sum * qkv[k][2*w+d]
						}
					}
				}
				attn := lin(ctx, l.out)
				for c := range w {
					attn[c] += x[p][c]
				}
				x[p] = norm(attn, l.norm1)
			}
			for p := range seq {
				hid := lin(x[p], l.ff1)
				for i := range hid {
					hid[i] = math.Max(hid[i], 0)
				}
				ff := lin(hid, l.ff2)
				for c := range w {
					ff[c] += x[p][c]
				}
				x[p] = norm(ff, l.norm2)
			}
		}
		for p := range seq {
			if n.proj != nil {
				x[p] = lin(x[p], *n.proj)
			}
			result = append(result, x[p]...)
		}
	}
	return result
}

func TestMatchesReference(t *testing.T) {
	tests := []struct {
		cfg        Config
		batch, seq int
	}{
		{Config{NHid: 3, NHead: 2, NLayers: 2, Width: 4, Seed: 5}, 2, 3},
		{Config{NHid: 3, NHead: 1, NLayers: 1, Width: 4, Seed: 6}, 1, 1},
		// More queries than one scores block holds.
		{Config{NHid: 7, NHead: 3, NLayers: 2, Width: 6, Seed: 7}, 2, queryBlock + 6},
		{Config{NHid: 4, NHead: 2, NLayers: 1, Width: 5 * 2, Seed: 8}, 3, 2},
		{Config{NHid: 4, NHead: 8, NLayers: 1, Width: 1024, Seed: 9}, 1, 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v/%dx%d", tt.cfg, tt.batch, tt.seq), func(t *testing.T) {
			n := mustNew(t, tt.cfg)
			fill(n, tt.cfg.Seed)
			tokens := randomTokens(tt.cfg.Seed, tt.batch*tt.seq)
			got, err := n.Forward(tokens, tt.batch, tt.seq)
			require.NoError(t, err)
			want := reference(n, tokens, tt.batch, tt.seq)
			require.Len(t, got, len(want))
			for i := range want {
				require.InDelta(t, want[i], got[i], 1e-5*math.Max(1, math.Abs(want[i])), "value %d", i)
			}
		})
	}
}

// TestHandComputed checks a three-token model of width 4 with two heads
// against values worked out step by step outside Go by testdata/handworked.py
// (integer arithmetic for the embedding's PCG stream, then plain float
// arithmetic for each layer).
func TestHandComputed(t *testing.T) {
	const width = 4
	cfg := Config{NHid: 2, NHead: 2, NLayers: 1, Width: width, Seed: 0}
	// Weights follow simple patterns so they can be written down anywhere:
	// w[i][j] = ((a·i + b·j + c) mod 11 − 5)/10, b[j] = ((a·j + c) mod 7 − 3)/20.
	lin := func(in, out, a, b, c, ba, bc int) linear {
		l := linear{
			w: blas64.General{Rows: in, Cols: out, Stride: out, Data: make([]float64, in*out)},
			b: make([]float64, out),
		}
		for i := range in {
			for j := range out {
				l.w.Data[i*out+j] = float64((a*i+b*j+c)%11-5) / 10
			}
		}
		for j := range out {
			l.b[j] = float64((ba*j+bc)%7-3) / 20
		}
		return l
	}
	l := layer{
		qkv:   lin(width, 3*width, 7, 3, 1, 2, 1),
		out:   lin(width, width, 5, 2, 3, 3, 2),
		ff1:   lin(width, 2, 3, 5, 4, 1, 0),
		ff2:   lin(2, width, 2, 7, 5, 4, 3),
		norm1: layerNorm{gamma: []float64{1.5, 0.5, 1.0, 0.8}, beta: []float64{0.2, -0.1, 0, 0.3}},
		norm2: layerNorm{gamma: []float64{2.0, 0.5, 1.2, 0.7}, beta: []float64{0.1, -0.3, 0.05, 0}},
	}
	proj := linear{
		w: blas64.General{Rows: width, Cols: 1024, Stride: 1024, Data: make([]float64, width*1024)},
		b: make([]float64, 1024),
	}
	for i := range proj.w.Data {
		proj.w.Data[i] = float64(i%7-3) * 0.01
	}
	for j := range proj.b {
		proj.b[j] = float64(j%5-2) * 0.001
	}
	n := assemble(cfg, []layer{l}, &proj)
	tokens := []int64{7, 50377, 123}

	wantEmbed := [][]float64{
		{0.06065842020081367, -0.0010003852053297457, -0.04477617383824831, 0.18061412193025125},
		{0.13696733967260752, 0.14198019972325487, 0.03791039548143163, -0.19721168583428997},
		{0.1293986908795826, 0.12621825721550103, 0.19559740255319957, -0.015464530992580494},
	}
	for i, tok := range tokens {
		got := make([]float64, width)
		n.embed(tok, got)
		assert.InDeltaSlice(t, wantEmbed[i], got, 1e-15, "embedding of %d", tok)
	}

	// Along the way, head 0 of token 2 attends with weights 0.2567, 0.3082,
	// 0.4351 and head 1 with 0.4020, 0.3067, 0.2912; the ReLU zeroes both
	// hidden units of token 0 and the first of tokens 1 and 2. The last layer
	// norm gives these rows:
	final := [][]float64{
		{-2.4899684816375305, -0.21735466455353247, -0.36463048910617246, 1.0326532842600153},
		{1.5349026161048278, -0.7018885527355965, -1.3270204156551832, 0.8636899673253355},
		{1.752492046057849, -1.1036812943310468, -0.03683417446753735, 0.5974348643826152},
	}
	out, err := n.Forward(tokens, 1, len(tokens))
	require.NoError(t, err)
	for p, y := range final {
		for j := range 1024 {
			want := proj.b[j]
			for i, v := range y {
				want += v * proj.w.Data[i*1024+j]
			}
			require.InDelta(t, want, out[p*1024+j], 1e-5, "position %d value %d", p, j)
		}
	}
}

func TestConcurrentForward(t *testing.T) {
	n := mustNew(t, DefaultConfig())
	shapes := []struct{ batch, seq int }{{1, 1}, {2, 3}, {4, 70}, {10, 10}}
	inputs := make([][]int64, len(shapes))
	want := make([][]float32, len(shapes))
	for i, sh := range shapes {
		inputs[i] = randomTokens(uint64(i), sh.batch*sh.seq)
		out, err := n.Forward(inputs[i], sh.batch, sh.seq)
		require.NoError(t, err)
		want[i] = out
	}

	const workers, rounds = 6, 5
	errs := make(chan error, workers*rounds)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for r := range rounds {
				i := (g + r) % len(shapes)
				sh := shapes[i]
				var got []float32
				var err error
				if g%2 == 0 {
					got, err = n.Forward(inputs[i], sh.batch, sh.seq)
				} else {
					got = make([]float32, len(want[i]))
					err = n.ForwardInto(got, inputs[i], sh.batch, sh.seq)
				}
				if err != nil {
					errs <- err
					continue
				}
				if !assert.ObjectsAreEqual(want[i], got) {
					errs <- fmt.Errorf("worker %d round %d shape %dx%d: output differs from the sequential run", g, r, sh.batch, sh.seq)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkForward(b *testing.B) {
	n := mustNew(b, DefaultConfig())
	for _, sh := range []struct{ batch, seq int }{{1, 1}, {10, 10}} {
		tokens := randomTokens(1, sh.batch*sh.seq)
		b.Run(fmt.Sprintf("batch=%d/seq=%d", sh.batch, sh.seq), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tokens) * wire.NetworkDim * 4))
			for b.Loop() {
				if _, err := n.Forward(tokens, sh.batch, sh.seq); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkForwardInto(b *testing.B) {
	n := mustNew(b, DefaultConfig())
	for _, sh := range []struct{ batch, seq int }{{1, 1}, {10, 10}} {
		tokens := randomTokens(1, sh.batch*sh.seq)
		dst := make([]float32, len(tokens)*wire.NetworkDim)
		b.Run(fmt.Sprintf("batch=%d/seq=%d", sh.batch, sh.seq), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(dst) * 4))
			for b.Loop() {
				if err := n.ForwardInto(dst, tokens, sh.batch, sh.seq); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
