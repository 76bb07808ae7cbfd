package nucleus

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/miner"
)

// randomTokens returns n token ids drawn from seed, the first and last of the
// vocabulary included when n allows.
func randomTokens(seed uint64, n int) []int64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	tokens := make([]int64, n)
	for i := range tokens {
		tokens[i] = rng.Int64N(miner.VocabSize)
	}
	tokens[0] = 0
	if n > 1 {
		tokens[n-1] = miner.VocabSize - 1
	}
	return tokens
}

func mustNew(t testing.TB, cfg Config) *Nucleus {
	t.Helper()
	n, err := New(cfg)
	require.NoError(t, err)
	return n
}

// small returns a valid Config of width w with the given heads and layers.
func small(w, heads, nhid, studentHeads, studentNHid, studentLayers int) Config {
	c := DefaultConfig()
	c.Width = w
	c.Routing.NHead, c.Routing.NHid = heads, nhid
	c.Student.NHead, c.Student.NHid, c.Student.NLayers = studentHeads, studentNHid, studentLayers
	return c
}

// tableEmbedding is an embedding with stored rows, for the tests.
type tableEmbedding map[int64][]float32

func (e tableEmbedding) embed(t int64, row []float32) { copy(row, e[t]) }

// torchFixture is testdata/torch.json: what scripts/template-torch.py
// exported from torch.
type torchFixture struct {
	Torch  string
	Config struct {
		D              int
		NHead          int
		NHid           int
		Dropout        float64
		StudentNHead   int     `json:"student_nhead"`
		StudentNHid    int     `json:"student_nhid"`
		StudentNLayers int     `json:"student_nlayers"`
		StudentDropout float64 `json:"student_dropout"`
	}
	Batch, Seq   int
	Tokens       []int64
	EmbeddingIDs []int64 `json:"embedding_ids"`
	Tensors      map[string]struct {
		Shape  []int
		Offset int
	}
}

// loadTorch reads the fixture: the Config and parameters it describes, its
// tokens and torch's output.
func loadTorch(t *testing.T) (Config, params, torchFixture, []float32) {
	raw, err := os.ReadFile(filepath.Join("testdata", "torch.json"))
	require.NoError(t, err)
	var f torchFixture
	require.NoError(t, json.Unmarshal(raw, &f))
	blob, err := os.ReadFile(filepath.Join("testdata", "torch.bin"))
	require.NoError(t, err)
	tensor := func(name string, shape ...int) []float32 {
		info, ok := f.Tensors[name]
		require.True(t, ok, "fixture has no tensor %s", name)
		require.Equal(t, shape, info.Shape, "shape of %s", name)
		n := 1
		for _, d := range shape {
			n *= d
		}
		out := make([]float32, n)
		_, err := binary.Decode(blob[4*info.Offset:4*(info.Offset+n)], binary.LittleEndian, out)
		require.NoError(t, err)
		return out
	}

	c := f.Config
	cfg := small(c.D, c.NHead, c.NHid, c.StudentNHead, c.StudentNHid, c.StudentNLayers)
	cfg.Routing.Dropout, cfg.Student.Dropout = c.Dropout, c.StudentDropout
	require.NoError(t, cfg.Validate())
	w := c.D
	layers := func(prefix string, n int, e Encoder) []layerParams {
		var ls []layerParams
		for i := range n {
			name := func(s string) string { return fmt.Sprintf("%s.layers.%d.%s", prefix, i, s) }
			ls = append(ls, layerParams{
				heads:    e.NHead,
				inProjW:  tensor(name("self_attn.in_proj_weight"), 3*w, w),
				inProjB:  tensor(name("self_attn.in_proj_bias"), 3*w),
				outProjW: tensor(name("self_attn.out_proj.weight"), w, w),
				outProjB: tensor(name("self_attn.out_proj.bias"), w),
				linear1W: tensor(name("linear1.weight"), e.NHid, w),
				linear1B: tensor(name("linear1.bias"), e.NHid),
				linear2W: tensor(name("linear2.weight"), w, e.NHid),
				linear2B: tensor(name("linear2.bias"), w),
				norm1W:   tensor(name("norm1.weight"), w),
				norm1B:   tensor(name("norm1.bias"), w),
				norm2W:   tensor(name("norm2.weight"), w),
				norm2B:   tensor(name("norm2.bias"), w),
			})
		}
		return ls
	}
	emb := tableEmbedding{}
	rows := tensor("embedding", len(f.EmbeddingIDs), w)
	for i, id := range f.EmbeddingIDs {
		emb[id] = rows[i*w : (i+1)*w]
	}
	p := params{
		routing: layers("routing_encoder", 1, cfg.Routing),
		student: layers("student", cfg.Student.NLayers, cfg.Student),
		embed:   emb,
	}
	return cfg, p, f, tensor("output", f.Batch, f.Seq, w)
}

// TestMatchesTorch loads the weights torch drew for a small model of the
// Python nucleus's serving path (scripts/template-torch.py). It checks that
// the nucleus computes torch's outputs.
func TestMatchesTorch(t *testing.T) {
	cfg, p, f, want := loadTorch(t)
	n := build(cfg, p)
	got, err := n.Forward(f.Tokens, f.Batch, f.Seq)
	require.NoError(t, err)
	require.Len(t, got, len(want))
	var worst float64
	for i := range want {
		d := math.Abs(float64(got[i]-want[i])) / math.Max(1, math.Abs(float64(want[i])))
		worst = math.Max(worst, d)
		require.LessOrEqual(t, d, 1e-4, "value %d: got %v, torch %v", i, got[i], want[i])
	}
	t.Logf("largest difference from torch %s, relative to max(1, |value|): %.2g", f.Torch, worst)
}

// randomParams draws every parameter of cfg's model from seed, biases and
// layer norms included, and every layer apart, so that a comparison covers
// what New sets to zero, one, or equal values.
func randomParams(cfg Config, seed uint64) params {
	rng := rand.New(rand.NewPCG(seed, 3))
	w := cfg.Width
	u := func(n int, lo, hi float64) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(lo + (hi-lo)*rng.Float64())
		}
		return s
	}
	layer := func(e Encoder) layerParams {
		b := 1.5 / math.Sqrt(float64(w))
		bh := 1.5 / math.Sqrt(float64(e.NHid))
		return layerParams{
			heads:   e.NHead,
			inProjW: u(3*w*w, -b, b), inProjB: u(3*w, -0.2, 0.2),
			outProjW: u(w*w, -b, b), outProjB: u(w, -0.2, 0.2),
			linear1W: u(e.NHid*w, -b, b), linear1B: u(e.NHid, -0.2, 0.2),
			linear2W: u(w*e.NHid, -bh, bh), linear2B: u(w, -0.2, 0.2),
			norm1W: u(w, 0.5, 1.5), norm1B: u(w, -0.2, 0.2),
			norm2W: u(w, 0.5, 1.5), norm2B: u(w, -0.2, 0.2),
		}
	}
	p := params{embed: newDrawnEmbedding(seed, w)}
	for range cfg.Routing.NLayers {
		p.routing = append(p.routing, layer(cfg.Routing))
	}
	for range cfg.Student.NLayers {
		p.student = append(p.student, layer(cfg.Student))
	}
	return p
}

// reference is the serving path computed loop by loop in float64 from
// torch-layout parameters, written from the model's definition and sharing
// no code with compute but the embedding.
func reference(cfg Config, p params, tokens []int64, batch, seq int) []float64 {
	w := cfg.Width
	scale := math.Sqrt(float64(w))
	var result []float64
	row := make([]float32, w)
	for b := range batch {
		x := make([][]float64, seq)
		for q := range seq {
			p.embed.embed(tokens[b*seq+q], row)
			x[q] = make([]float64, w)
			for c := range w {
				f := math.Exp(-math.Log(10000) * float64(c-c%2) / float64(w))
				pe := math.Sin(float64(q) * f)
				if c%2 == 1 {
					pe = math.Cos(float64(q) * f)
				}
				x[q][c] = float64(row[c])*scale + pe
			}
		}
		for _, l := range p.routing {
			x = refLayer(x, l, w, seq)
		}
		for _, l := range p.student {
			x = refLayer(x, l, w, seq)
		}
		for q := range seq {
			for _, v := range x[q] {
				result = append(result, v*scale)
			}
		}
	}
	return result
}

// refLinear is torch's Linear of v, in float64.
func refLinear(v []float64, weight, bias []float32) []float64 {
	out := make([]float64, len(bias))
	for j := range out {
		out[j] = float64(bias[j])
		for i := range v {
			out[j] += v[i] * float64(weight[j*len(v)+i])
		}
	}
	return out
}

// refNorm is torch's LayerNorm of v, in float64.
func refNorm(v []float64, gamma, beta []float32) []float64 {
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
		out[i] = (x-mean)/math.Sqrt(variance+1e-5)*float64(gamma[i]) + float64(beta[i])
	}
	return out
}

// refLayer is a causal post-norm TransformerEncoderLayer of width w over
// the seq rows of x, in float64.
func refLayer(x [][]float64, l layerParams, w, seq int) [][]float64 {
	dh := w / l.heads
	qkv := make([][]float64, seq)
	for q := range seq {
		qkv[q] = refLinear(x[q], l.inProjW, l.inProjB)
	}
	out := make([][]float64, seq)
	for q := range seq {
		ctx := make([]float64, w)
		for h := range l.heads {
			scores := make([]float64, q+1) // the causal mask: keys 0 to q
			top := math.Inf(-1)
			for k := range scores {
				for d := h * dh; d < (h+1)*dh; d++ {
					scores[k] += qkv[q][d] * qkv[k][w+d]
				}
				scores[k] /= math.Sqrt(float64(dh))
				top = math.Max(top, scores[k])
			}
			var sum float64
			for k := range scores {
				scores[k] = math.Exp(scores[k] - top)
				sum += scores[k]
			}
			for k := range scores {
				for d := h * dh; d < (h+1)*dh; d++ {
					ctx[d] += scores[k] / sum * qkv[k][2*w+d]
				}
			}
		}
		attn := refLinear(ctx, l.outProjW, l.outProjB)
		for c := range w {
			attn[c] += x[q][c]
		}
		y := refNorm(attn, l.norm1W, l.norm1B)
		hid := refLinear(y, l.linear1W, l.linear1B)
		for i := range hid {
			hid[i] = math.Max(hid[i], 0)
		}
		ff := refLinear(hid, l.linear2W, l.linear2B)
		for c := range w {
			ff[c] += y[c]
		}
		out[q] = refNorm(ff, l.norm2W, l.norm2B)
	}
	return out
}

func TestMatchesReference(t *testing.T) {
	tests := []struct {
		cfg        Config
		batch, seq int
		drawn      bool // New's parameters rather than randomParams
	}{
		{small(4, 2, 3, 1, 5, 2), 2, 3, false},
		{small(4, 1, 3, 4, 2, 1), 1, 1, false},
		{small(6, 3, 7, 2, 4, 3), 3, 5, false},
		{small(6, 2, 5, 3, 3, 0), 2, 4, false}, // no student layers
		// Longer than the cached positional encodings.
		{small(8, 2, 4, 2, 6, 1), 1, cachedPositions + 5, false},
		// Wider than the sgemm tiles and deeper than one block of them.
		{small(300, 3, 33, 5, 70, 2), 2, 9, false},
		// The Python nucleus's model with New's weights.
		{DefaultConfig(), 1, 3, true},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("width=%d/%dx%d", tt.cfg.Width, tt.batch, tt.seq), func(t *testing.T) {
			p := randomParams(tt.cfg, uint64(i))
			if tt.drawn {
				p = drawParams(tt.cfg)
			}
			tokens := randomTokens(uint64(i), tt.batch*tt.seq)
			got, err := build(tt.cfg, p).Forward(tokens, tt.batch, tt.seq)
			require.NoError(t, err)
			want := reference(tt.cfg, p, tokens, tt.batch, tt.seq)
			require.Len(t, got, len(want))
			for i := range want {
				require.InDelta(t, want[i], got[i], 1e-4*math.Max(1, math.Abs(want[i])), "value %d", i)
			}
		})
	}
}

// New draws each tensor within its bound, as the Python nucleus initialises
// it, and clones each encoder's layer.
func TestDrawParams(t *testing.T) {
	cfg := small(64, 2, 48, 4, 40, 3)
	cfg.Routing.NLayers = 2
	p := drawParams(cfg)
	require.Len(t, p.routing, 2)
	require.Len(t, p.student, 3)
	assert.Equal(t, p.routing[0], p.routing[1])
	assert.Equal(t, p.student[0], p.student[2])
	assert.NotEqual(t, p.routing[0].inProjW, p.student[0].inProjW)

	glorot := func(in, out int) float64 { return math.Sqrt(6 / float64(in+out)) }
	fanIn := func(in int) float64 { return 1 / math.Sqrt(float64(in)) }
	w := cfg.Width
	check := func(name string, s []float32, bound float64) {
		var top float64
		for _, v := range s {
			top = math.Max(top, math.Abs(float64(v)))
		}
		assert.LessOrEqual(t, top, bound, "%s within its bound", name)
		assert.Greater(t, top, 0.9*bound, "%s fills its bound", name)
	}
	zero := func(name string, s []float32) {
		assert.Equal(t, make([]float32, len(s)), s, "%s is zero", name)
	}
	for _, l := range []struct {
		name   string
		p      layerParams
		e      Encoder
		xavier bool
	}{{"routing", p.routing[0], cfg.Routing, true}, {"student", p.student[0], cfg.Student, false}} {
		h := l.e.NHid
		assert.Equal(t, l.e.NHead, l.p.heads)
		check(l.name+" in_proj_weight", l.p.inProjW, glorot(w, 3*w))
		zero(l.name+" in_proj_bias", l.p.inProjB)
		zero(l.name+" out_proj.bias", l.p.outProjB)
		check(l.name+" linear1.bias", l.p.linear1B, fanIn(w))
		check(l.name+" linear2.bias", l.p.linear2B, fanIn(h))
		if l.xavier {
			check(l.name+" out_proj.weight", l.p.outProjW, glorot(w, w))
			check(l.name+" linear1.weight", l.p.linear1W, glorot(w, h))
			check(l.name+" linear2.weight", l.p.linear2W, glorot(h, w))
		} else {
			check(l.name+" out_proj.weight", l.p.outProjW, fanIn(w))
			check(l.name+" linear1.weight", l.p.linear1W, fanIn(w))
			check(l.name+" linear2.weight", l.p.linear2W, fanIn(h))
		}
		ones := make([]float32, w)
		for i := range ones {
			ones[i] = 1
		}
		assert.Equal(t, ones, l.p.norm1W)
		assert.Equal(t, ones, l.p.norm2W)
		zero(l.name+" norm1.bias", l.p.norm1B)
		zero(l.name+" norm2.bias", l.p.norm2B)
	}

	again := drawParams(cfg)
	assert.Equal(t, p.routing, again.routing, "same seed, same weights")
	cfg.Seed = 1
	other := drawParams(cfg)
	assert.NotEqual(t, p.student[0].linear1W, other.student[0].linear1W, "another seed, other weights")
}

func TestEmbedding(t *testing.T) {
	const width = 1024
	a, b := newDrawnEmbedding(1, width), newDrawnEmbedding(2, width)
	row := func(e drawnEmbedding, tok int64) []float32 {
		r := make([]float32, width)
		e.embed(tok, r)
		return r
	}
	bound := math.Sqrt(6.0 / (miner.VocabSize + width)) // Xavier-uniform on VocabSize×width
	for _, tok := range []int64{0, 1, 2, 1000, miner.VocabSize - 1} {
		r := row(a, tok)
		assert.Equal(t, r, row(a, tok), "token %d: same row every time", tok)
		assert.NotEqual(t, r, row(b, tok), "token %d: seed changes the row", tok)
		var sum, sq float64
		for _, v := range r {
			require.LessOrEqual(t, math.Abs(float64(v)), bound)
			sum += float64(v)
			sq += float64(v) * float64(v)
		}
		// Uniform on ±bound: mean 0, variance bound²/3.
		assert.InDelta(t, 0, sum/width, 0.1*bound, "token %d mean", tok)
		assert.InDelta(t, bound*bound/3, sq/width, 0.15*bound*bound/3, "token %d variance", tok)
	}
	assert.NotEqual(t, row(a, 1), row(a, 2))
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Student.NHead = 3
	n, err := New(cfg)
	require.EqualError(t, err, "nucleus.student_nhead=3: want a divisor of the width, 1024")
	assert.Nil(t, n)
}

func TestForwardShape(t *testing.T) {
	n := mustNew(t, DefaultConfig())
	for _, sh := range []struct{ batch, seq int }{{1, 1}, {1, 7}, {3, 1}, {2, 17}} {
		t.Run(fmt.Sprintf("%dx%d", sh.batch, sh.seq), func(t *testing.T) {
			tokens := randomTokens(uint64(sh.batch*100+sh.seq), sh.batch*sh.seq)
			out, err := n.Forward(tokens, sh.batch, sh.seq)
			require.NoError(t, err)
			require.Len(t, out, sh.batch*sh.seq*miner.NetworkDim)
		})
	}
}

func TestDeterminism(t *testing.T) {
	tokens := randomTokens(3, 4*6)
	forward := func(n *Nucleus) []float32 {
		out, err := n.Forward(tokens, 4, 6)
		require.NoError(t, err)
		return out
	}
	cfg := small(64, 2, 30, 4, 20, 2)
	cfg.Seed = 42
	n := mustNew(t, cfg)
	a, b := forward(n), forward(mustNew(t, cfg))
	cfg.Seed = 43
	c := forward(mustNew(t, cfg))
	assert.Equal(t, a, b, "same seed, same output")
	differing := 0
	for i := range a {
		if a[i] != c[i] {
			differing++
		}
	}
	assert.Greater(t, differing, len(a)*9/10, "a new seed should change nearly every value")

	// Scratch memory reused from a larger call must not leak into a smaller one.
	_, err := n.Forward(randomTokens(9, 3*70), 3, 70)
	require.NoError(t, err)
	assert.Equal(t, a, forward(n))
}

// A token sees itself and the tokens before it, never those after it.
func TestCausal(t *testing.T) {
	const seq = 6
	cfg := small(32, 2, 16, 4, 24, 2)
	n := mustNew(t, cfg)
	tokens := randomTokens(5, seq)
	before, err := n.Forward(tokens, 1, seq)
	require.NoError(t, err)
	changed := append([]int64(nil), tokens...)
	changed[3] = (changed[3] + 1) % miner.VocabSize
	after, err := n.Forward(changed, 1, seq)
	require.NoError(t, err)
	w := cfg.Width
	for q := range seq {
		if q < 3 {
			assert.Equal(t, before[q*w:(q+1)*w], after[q*w:(q+1)*w], "position %d sees a later token", q)
		} else {
			assert.NotEqual(t, before[q*w:(q+1)*w], after[q*w:(q+1)*w], "position %d misses token 3", q)
		}
	}
}

func TestOutputFinite(t *testing.T) {
	for _, cfg := range []Config{small(256, 4, 8, 2, 8, 3), small(2, 1, 1, 1, 1, 1), small(9, 3, 5, 1, 2, 2)} {
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
	const batch, seq = 3, 5
	cfg := small(48, 2, 20, 3, 20, 2)
	w := cfg.Width
	n := mustNew(t, cfg)
	tokens := randomTokens(11, batch*seq)
	before, err := n.Forward(tokens, batch, seq)
	require.NoError(t, err)

	changed := append([]int64(nil), tokens...)
	for i := seq; i < 2*seq; i++ {
		changed[i] = (changed[i] + 1000) % miner.VocabSize
	}
	after, err := n.Forward(changed, batch, seq)
	require.NoError(t, err)

	row := func(out []float32, b int) []float32 { return out[b*seq*w : (b+1)*seq*w] }
	assert.Equal(t, row(before, 0), row(after, 0), "row 0 must not see row 1")
	assert.Equal(t, row(before, 2), row(after, 2), "row 2 must not see row 1")
	assert.NotEqual(t, row(before, 1), row(after, 1))

	// The same row alone gives the same output as inside the batch.
	alone, err := n.Forward(tokens[2*seq:], 1, seq)
	require.NoError(t, err)
	assert.InDeltaSlice(t, row(before, 2), alone, 1e-5)
}

func TestForwardErrors(t *testing.T) {
	n := mustNew(t, DefaultConfig())
	tests := []struct {
		name       string
		tokens     []int64
		batch, seq int
		want       string
	}{
		{"batch zero", []int64{1}, 0, 1, "batch=0: want at least 1"},
		{"seq negative", []int64{1}, 1, -2, "seq=-2: want at least 1"},
		{"too few tokens", []int64{1, 2, 3}, 2, 2, "3 tokens: want batch×seq = 2×2 = 4"},
		{"too many tokens", []int64{1, 2, 3}, 1, 2, "3 tokens: want batch×seq = 1×2 = 2"},
		{"no tokens", nil, 1, 1, "0 tokens: want batch×seq = 1×1 = 1"},
		{"shape overflows", []int64{1}, math.MaxInt / 2, 4,
			fmt.Sprintf("batch=%d, seq=4: want batch×seq×3072 at most %d", math.MaxInt/2, math.MaxInt)},
		{"negative id", []int64{1, 2, 3, -1}, 2, 2, "token id -1 at [1, 1]: want 0 to 50377"},
		{"id past vocabulary", []int64{50378, 2}, 1, 2, "token id 50378 at [0, 0]: want 0 to 50377"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := n.Forward(tt.tokens, tt.batch, tt.seq)
			require.EqualError(t, err, tt.want)
			assert.Nil(t, out)
		})
	}
}

func TestLayerNorm(t *testing.T) {
	const width, rows = 37, 5
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, width*rows)
	for i := range x {
		x[i] = float32(100*rng.NormFloat64() + 40)
	}
	gamma, beta := make([]float32, width), make([]float32, width)
	for i := range gamma {
		gamma[i] = 1
	}
	ln := layerNorm{gamma: gamma, beta: beta}
	ln.apply(x)
	for r := range rows {
		var mean, variance float64
		for _, v := range x[r*width : (r+1)*width] {
			mean += float64(v)
		}
		mean /= width
		for _, v := range x[r*width : (r+1)*width] {
			variance += (float64(v) - mean) * (float64(v) - mean)
		}
		variance /= width
		assert.InDelta(t, 0, mean, 1e-6, "row %d mean", r)
		assert.InDelta(t, 1, variance, 1e-5, "row %d variance", r)
	}
}

func TestConcurrentForward(t *testing.T) {
	n := mustNew(t, small(64, 2, 40, 2, 40, 2))
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
				got, err := n.Forward(inputs[i], sh.batch, sh.seq)
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

// BenchmarkForward times one forward of the Python nucleus's model at the
// shapes scripts/template-vs-torch.sh compares with torch. Run it on one core
// (-cpu 1): the nucleus computes on the goroutine that calls it. ns/op is
// wall time; cpu-ns/op is the process's CPU time, steadier on a busy machine.
func BenchmarkForward(b *testing.B) {
	n := mustNew(b, DefaultConfig())
	for _, sh := range []struct{ batch, seq int }{{1, 1}, {10, 10}, {32, 32}} {
		tokens := randomTokens(1, sh.batch*sh.seq)
		b.Run(fmt.Sprintf("batch=%d/seq=%d", sh.batch, sh.seq), func(b *testing.B) {
			// Warm up, so that the working memory for this shape is in place.
			if _, err := n.Forward(tokens, sh.batch, sh.seq); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if _, err := n.Forward(tokens, sh.batch, sh.seq); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime returns the user and system CPU time the process has used, in
// nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
