// Package nucleus is the compute core of the template miner: the serving
// path of Bittensor 2.0.4's template miner nucleus, in float32 and pure Go.
//
// A [batch, seq] block of token ids goes through a token embedding scaled by
// √Width, the sinusoidal positional encoding, the routing encoder (one
// layer), the student encoder (Student.NLayers layers), and a final scaling
// by √Width. Each encoder layer is a post-norm torch.nn.TransformerEncoderLayer
// (multi-head self-attention, then a ReLU feed-forward block, each with a
// residual and a layer norm of epsilon 1e-5), and both encoders attend
// causally: a token sees only itself and the tokens before it. Dropout is off,
// as in torch's eval mode.
//
// Every initial weight is drawn from Config.Seed as the Python nucleus
// initialises them (see New), so two nuclei with the same Config compute the same
// outputs. The token embedding holds no vocabulary-sized table: a token's row
// is drawn from (seed, token id) when it is needed.
package nucleus

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/miners/template/nucleus/internal/sgemm"
)

const (
	// layerNormEps is added to the variance, as torch.nn.LayerNorm does.
	layerNormEps = 1e-5
	// cachedPositions is how many positions' encodings are computed once in
	// New; later positions are computed when they are needed.
	cachedPositions = 256
	// Salts separating the random streams drawn from one seed.
	weightStream = 0x6e75636c65757321
	embedSalt    = 0x656d626564646e67
)

// Nucleus is the serving model with fixed weights. Its methods may be called
// from several goroutines at once.
type Nucleus struct {
	cfg              Config
	routing, student []layer
	embed            embedder
	// div[i] is the angular frequency of positional-encoding columns 2i
	// and 2i+1; pos holds the encodings of the first cachedPositions
	// positions, Width values each.
	div, pos []float32
	scale    float32 // √Width
	scratch  sync.Pool
}

// embedder writes the embedding of token t (not yet scaled) to row.
type embedder interface {
	embed(t int64, row []float32)
}

// layer is one post-norm encoder layer, as torch.nn.TransformerEncoderLayer:
// x = norm1(x + attn(x)); x = norm2(x + linear2(relu(linear1(x)))).
type layer struct {
	heads int
	// inProj holds the query, key and value projections side by side
	// (Width×3Width); head h uses columns h·Width/heads up to
	// (h+1)·Width/heads of each.
	inProj, outProj, linear1, linear2 linear
	norm1, norm2                      layerNorm
}

// linear is y = x·w + b, with w packed in×out.
type linear struct {
	w *sgemm.Packed
	b []float32
}

// layerNorm normalises each row to mean 0 and variance 1, then scales by
// gamma and shifts by beta.
type layerNorm struct {
	gamma, beta []float32
}

// scratch is the working memory of one forward pass.
type scratch struct {
	x, qkv, ctx, hid, scores []float32
	mm                       sgemm.Buffer
}

// New returns a nucleus whose weights are drawn from cfg.Seed as the
// Python nucleus initialises them: the token embedding Xavier-uniform, as its
// reset_weights does; the routing layer with its linear weights
// Xavier-uniform (reset_weights again) and the rest as torch initialises a
// TransformerEncoderLayer; the student layers as torch does. The layers of
// one encoder are equal at first, since torch.nn.TransformerEncoder clones
// one layer. Torch's
// initialisation: query, key and value weights Xavier-uniform with zero
// biases, the output projection uniform within 1/√Width with a zero bias,
// the feed-forward weights and biases uniform within 1/√fan_in, layer norms
// the identity.
func New(cfg Config) (*Nucleus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return build(cfg, drawParams(cfg)), nil
}

// drawParams draws the initial parameters New describes from cfg.Seed.
func drawParams(cfg Config) params {
	rng := rand.New(rand.NewPCG(cfg.Seed, weightStream))
	routing := drawLayer(rng, cfg.Width, cfg.Routing, true)
	student := drawLayer(rng, cfg.Width, cfg.Student, false)
	return params{
		routing: clones(routing, cfg.Routing.NLayers),
		student: clones(student, cfg.Student.NLayers),
		embed:   newDrawnEmbedding(cfg.Seed, cfg.Width),
	}
}

// clones returns n copies of l, as torch.nn.TransformerEncoder makes its
// layers. They share storage, which build copies when it packs them.
func clones(l layerParams, n int) []layerParams {
	ls := make([]layerParams, n)
	for i := range ls {
		ls[i] = l
	}
	return ls
}

// params are a nucleus's parameters as torch holds them: a weight is
// out×in, row-major.
type params struct {
	routing, student []layerParams
	embed            embedder
}

// layerParams are one encoder layer's parameters, named as torch names them.
type layerParams struct {
	heads              int
	inProjW, inProjB   []float32
	outProjW, outProjB []float32
	linear1W, linear1B []float32
	linear2W, linear2B []float32
	norm1W, norm1B     []float32
	norm2W, norm2B     []float32
}

// drawLayer draws one layer of encoder e, width w, as New describes; xavier
// draws the output projection and feed-forward weights Xavier-uniform, as
// reset_weights does, instead of torch's default.
func drawLayer(rng *rand.Rand, w int, e Encoder, xavier bool) layerParams {
	h := e.NHid
	uniform := func(n int, bound float64) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(bound * (2*rng.Float64() - 1))
		}
		return s
	}
	glorot := func(in, out int) float64 { return math.Sqrt(6 / float64(in+out)) }
	fanIn := func(in int) float64 { return 1 / math.Sqrt(float64(in)) }
	ones := make([]float32, w)
	for i := range ones {
		ones[i] = 1
	}
	p := layerParams{
		heads:    e.NHead,
		inProjW:  uniform(3*w*w, glorot(w, 3*w)),
		inProjB:  make([]float32, 3*w),
		outProjB: make([]float32, w),
		norm1W:   ones, norm1B: make([]float32, w),
		norm2W: ones, norm2B: make([]float32, w),
	}
	if xavier {
		p.outProjW = uniform(w*w, glorot(w, w))
		p.linear1W = uniform(h*w, glorot(w, h))
	} else {
		p.outProjW = uniform(w*w, fanIn(w))
		p.linear1W = uniform(h*w, fanIn(w))
	}
	p.linear1B = uniform(h, fanIn(w))
	if xavier {
		p.linear2W = uniform(w*h, glorot(h, w))
	} else {
		p.linear2W = uniform(w*h, fanIn(h))
	}
	p.linear2B = uniform(w, fanIn(h))
	return p
}

// build packs p's weights into a nucleus; p must match cfg, which is valid.
func build(cfg Config, p params) *Nucleus {
	w := cfg.Width
	n := &Nucleus{
		cfg:   cfg,
		embed: p.embed,
		div:   make([]float32, (w+1)/2),
		pos:   make([]float32, cachedPositions*w),
		scale: float32(math.Sqrt(float64(w))),
	}
	for _, lp := range p.routing {
		n.routing = append(n.routing, packLayer(w, lp))
	}
	for _, lp := range p.student {
		n.student = append(n.student, packLayer(w, lp))
	}
	// As torch computes its table: in float32, exp(2i·(−ln 10000/Width)).
	step := float32(-math.Log(10000) / float64(w))
	for i := range n.div {
		n.div[i] = float32(math.Exp(float64(float32(2*i) * step)))
	}
	for pos := range cachedPositions {
		n.addSinusoid(pos, n.pos[pos*w:(pos+1)*w])
	}
	n.scratch.New = func() any { return new(scratch) }
	return n
}

// packLayer packs one layer's weights for products with rows of width w.
func packLayer(w int, p layerParams) layer {
	lin := func(weight, bias []float32) linear {
		out, in := len(bias), len(weight)/len(bias)
		return linear{w: sgemm.Pack(weight, sgemm.ColMajor, in, in, out), b: bias}
	}
	return layer{
		heads:   p.heads,
		inProj:  lin(p.inProjW, p.inProjB),
		outProj: lin(p.outProjW, p.outProjB),
		linear1: lin(p.linear1W, p.linear1B),
		linear2: lin(p.linear2W, p.linear2B),
		norm1:   layerNorm{gamma: p.norm1W, beta: p.norm1B},
		norm2:   layerNorm{gamma: p.norm2W, beta: p.norm2B},
	}
}

// drawnEmbedding is the Xavier-uniform token embedding of a vocabulary of
// miner.VocabSize tokens, whose rows are drawn from a PCG stream keyed by
// (seed, token id) instead of being stored.
type drawnEmbedding struct {
	seed  uint64
	bound float64
}

func newDrawnEmbedding(seed uint64, width int) drawnEmbedding {
	return drawnEmbedding{
		seed:  mix64(seed ^ embedSalt),
		bound: math.Sqrt(6 / float64(miner.VocabSize+width)),
	}
}

func (e drawnEmbedding) embed(t int64, row []float32) {
	var p rand.PCG
	p.Seed(e.seed, mix64(uint64(t)))
	for i := range row {
		u := float64(p.Uint64()>>11) * 0x1p-53 // uniform in [0, 1)
		row[i] = float32(e.bound * (2*u - 1))
	}
}

// mix64 is the splitmix64 finaliser: a bijection that spreads nearby keys
// apart before they seed a PCG stream.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// addPosition adds the positional encoding of position pos to row.
func (n *Nucleus) addPosition(pos int, row []float32) {
	if pos >= cachedPositions {
		n.addSinusoid(pos, row)
		return
	}
	for i, v := range n.pos[pos*len(row) : (pos+1)*len(row)] {
		row[i] += v
	}
}

// addSinusoid adds the sinusoidal encoding of position pos to row, as the
// Python nucleus's PositionalEncoding computes it in float32: sin(pos·div_i) in
// column 2i and cos(pos·div_i) in column 2i+1.
func (n *Nucleus) addSinusoid(pos int, row []float32) {
	for i, f := range n.div {
		sin, cos := math.Sincos(float64(float32(pos) * f))
		row[2*i] += float32(sin)
		if 2*i+1 < len(row) {
			row[2*i+1] += float32(cos)
		}
	}
}

// Forward runs the model over a [batch, seq] block of token ids in C order
// and returns its [batch, seq, Width] output in C order. Rows of the batch
// are independent: no token attends to another row's tokens.
func (n *Nucleus) Forward(tokens []int64, batch, seq int) ([]float32, error) {
	rows, err := n.checkInput(tokens, batch, seq)
	if err != nil {
		return nil, err
	}
	dst := make([]float32, rows*n.cfg.Width)
	n.compute(dst, tokens, seq)
	return dst, nil
}

// checkInput returns batch×seq after checking the shape and every token id.
func (n *Nucleus) checkInput(tokens []int64, batch, seq int) (int, error) {
	if batch < 1 {
		return 0, fmt.Errorf("batch=%d: want at least 1", batch)
	}
	if seq < 1 {
		return 0, fmt.Errorf("seq=%d: want at least 1", seq)
	}
	if w := 3 * n.cfg.Width; batch > math.MaxInt/w/seq {
		return 0, fmt.Errorf("batch=%d, seq=%d: want batch×seq×%d at most %d", batch, seq, w, math.MaxInt)
	}
	rows := batch * seq
	if len(tokens) != rows {
		return 0, fmt.Errorf("%d tokens: want batch×seq = %d×%d = %d", len(tokens), batch, seq, rows)
	}
	for i, t := range tokens {
		if t < 0 || t >= miner.VocabSize {
			return 0, fmt.Errorf("token id %d at [%d, %d]: want 0 to %d", t, i/seq, i%seq, miner.VocabSize-1)
		}
	}
	return rows, nil
}

// compute runs the model; its input has been checked.
func (n *Nucleus) compute(dst []float32, tokens []int64, seq int) {
	s := n.scratch.Get().(*scratch)
	defer n.scratch.Put(s)

	rows, w := len(tokens), n.cfg.Width
	s.x = resize(s.x, rows*w)
	s.qkv = resize(s.qkv, rows*3*w)
	s.ctx = resize(s.ctx, rows*w)
	s.scores = resize(s.scores, seq*seq)
	for r, t := range tokens {
		row := s.x[r*w : (r+1)*w]
		n.embed.embed(t, row)
		for i := range row {
			row[i] *= n.scale
		}
		n.addPosition(r%seq, row)
	}
	for _, l := range n.routing {
		l.apply(s, rows, seq)
	}
	for _, l := range n.student {
		l.apply(s, rows, seq)
	}
	for i, v := range s.x {
		dst[i] = v * n.scale
	}
}

// apply runs the layer over s.x, rows×Width, in place.
func (l *layer) apply(s *scratch, rows, seq int) {
	l.inProj.apply(&s.mm, s.qkv, s.x, rows)
	l.attend(s, rows/seq, seq)
	l.outProj.addTo(&s.mm, s.x, s.ctx, rows)
	l.norm1.apply(s.x)

	h := len(l.linear1.b)
	s.hid = resize(s.hid, rows*h)
	l.linear1.apply(&s.mm, s.hid, s.x, rows)
	for i, v := range s.hid {
		s.hid[i] = max(v, 0)
	}
	l.linear2.addTo(&s.mm, s.x, s.hid, rows)
	l.norm2.apply(s.x)
}

// attend computes causal scaled dot-product attention for every batch row
// and head, reading queries, keys and values from s.qkv (rows×3Width) and
// writing the heads' outputs side by side to s.ctx (rows×Width).
func (l *layer) attend(s *scratch, batch, seq int) {
	w := len(l.norm1.gamma)
	dh := w / l.heads
	scale := float32(1 / math.Sqrt(float64(dh)))
	clear(s.ctx)
	for b := range batch {
		qkv := s.qkv[b*seq*3*w : (b+1)*seq*3*w]
		for h := range l.heads {
			q, k, v := qkv[h*dh:], qkv[w+h*dh:], qkv[2*w+h*dh:]
			clear(s.scores)
			keys := s.mm.Pack(k, sgemm.ColMajor, 3*w, dh, seq)
			s.mm.MulAdd(s.scores, seq, q, 3*w, seq, keys)
			for r := range seq {
				softmax(s.scores[r*seq:r*seq+r+1], scale)
				clear(s.scores[r*seq+r+1 : (r+1)*seq]) // the causal mask
			}
			values := s.mm.Pack(v, sgemm.RowMajor, 3*w, seq, dh)
			s.mm.MulAdd(s.ctx[b*seq*w+h*dh:], w, s.scores, seq, seq, values)
		}
	}
}

// softmax replaces v by exp(scale·v)/Σexp(scale·v), shifted by the maximum
// so no exponential overflows.
func softmax(v []float32, scale float32) {
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	var sum float64
	for i, x := range v {
		e := math.Exp(float64(scale * (x - m)))
		v[i] = float32(e)
		sum += e
	}
	inv := float32(1 / sum)
	for i := range v {
		v[i] *= inv
	}
}

// apply sets y = x·l.w + l.b for rows rows of x.
func (l *linear) apply(mm *sgemm.Buffer, y, x []float32, rows int) {
	out := l.w.Cols()
	for r := range rows {
		copy(y[r*out:(r+1)*out], l.b)
	}
	mm.MulAdd(y, out, x, l.w.Rows(), rows, l.w)
}

// addTo adds x·l.w + l.b to y, for rows rows of x: a residual connection.
func (l *linear) addTo(mm *sgemm.Buffer, y, x []float32, rows int) {
	out := l.w.Cols()
	for r := range rows {
		row := y[r*out : (r+1)*out]
		for i, b := range l.b {
			row[i] += b
		}
	}
	mm.MulAdd(y, out, x, l.w.Rows(), rows, l.w)
}

// apply normalises each len(ln.gamma)-wide row of x in place.
func (ln *layerNorm) apply(x []float32) {
	w := len(ln.gamma)
	for r := 0; r < len(x); r += w {
		row := x[r : r+w]
		mean := sum(row) / float64(w)
		variance := sumSquares(row, mean) / float64(w)
		inv := float32(1 / math.Sqrt(variance+layerNormEps))
		m := float32(mean)
		gamma, beta := ln.gamma[:len(row)], ln.beta[:len(row)]
		for i, v := range row {
			row[i] = (v-m)*inv*gamma[i] + beta[i]
		}
	}
}

// sum returns Σv, summed in float64 four values at a time.
func sum(v []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += float64(v[i])
		s1 += float64(v[i+1])
		s2 += float64(v[i+2])
		s3 += float64(v[i+3])
	}
	for ; i < len(v); i++ {
		s0 += float64(v[i])
	}
	return s0 + s1 + s2 + s3
}

// sumSquares returns Σ(v−mean)², summed in float64 four values at a time.
func sumSquares(v []float32, mean float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		d0, d1, d2, d3 := float64(v[i])-mean, float64(v[i+1])-mean, float64(v[i+2])-mean, float64(v[i+3])-mean
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(v); i++ {
		d := float64(v[i]) - mean
		s0 += d * d
	}
	return s0 + s1 + s2 + s3
}

// resize returns s with length n, reallocating only when its capacity is short.
func resize(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
