// Package nucleus is the compute core of the template miner: a small
// transformer encoder in pure Go, shaped like the template nucleus of
// Bittensor 2.0. Token ids go through a deterministic embedding, sinusoidal
// positional encoding, NLayers post-norm encoder layers (multi-head
// self-attention and a ReLU feed-forward, each with a residual and a layer
// norm) and a projection to the network dimension, 1024.
//
// Every weight is drawn from Config.Seed, so two nuclei with the same Config
// compute the same outputs. The embedding holds no vocabulary-sized table: a
// token's row is generated from (seed, token id) when it is needed.
package nucleus

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/minerbench/minerbench/minerbench/wire"
)

const (
	// outDim is the width of every output row.
	outDim = wire.NetworkDim
	// layerNormEps is added to the variance, as torch.nn.LayerNorm does.
	layerNormEps = 1e-5
	// embedRange bounds the generated embedding entries before scaling by
	// sqrt(Width), as the original initialised its embedding table.
	embedRange = 0.1
	// queryBlock is how many query rows share one scores buffer, so attention
	// needs queryBlock×seq scratch rather than seq×seq.
	queryBlock = 64
	// Salts separating the random streams drawn from one seed.
	weightStream = 0x6e75636c65757321
	embedSalt    = 0x656d626564646e67
)

// Nucleus is a transformer with fixed weights. Its methods may be called from
// several goroutines at once.
type Nucleus struct {
	cfg    Config
	layers []layer
	// proj maps Width to 1024; nil when Width is 1024.
	proj *linear
	// freq[i] is the angular frequency of positional-encoding columns 2i and 2i+1.
	freq       []float64
	embedScale float64
	scratch    sync.Pool
}

// linear is y = x·w + b with w stored in×out, row-major.
type linear struct {
	w blas64.General
	b []float64
}

// layerNorm normalises each row to mean 0 and variance 1, then scales by
// gamma and shifts by beta.
type layerNorm struct {
	gamma, beta []float64
}

// layer is one post-norm encoder layer, as torch.nn.TransformerEncoderLayer:
// x = norm1(x + attn(x)); x = norm2(x + ff2(relu(ff1(x)))).
type layer struct {
	// qkv holds the query, key and value projections side by side (Width×3Width);
	// head h uses columns h·Width/NHead up to (h+1)·Width/NHead of each.
	qkv          linear
	out          linear
	ff1, ff2     linear
	norm1, norm2 layerNorm
}

// scratch is the working memory of one forward pass.
type scratch struct {
	x, qkv, ctx, tmp, hid, scores, out []float64
}

// New returns a nucleus whose weights are drawn from cfg.Seed: weight
// matrices uniformly within the Xavier/Glorot bound sqrt(6/(fan_in+fan_out)),
// feed-forward and projection biases within 1/sqrt(fan_in), attention biases
// zero, layer norms the identity (gamma 1, beta 0).
func New(cfg Config) (*Nucleus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, weightStream))
	w, h := cfg.Width, cfg.NHid
	layers := make([]layer, cfg.NLayers)
	for i := range layers {
		layers[i] = layer{
			qkv:   newLinear(rng, w, 3*w, float64(w+w), 0),
			out:   newLinear(rng, w, w, float64(w+w), 0),
			ff1:   newLinear(rng, w, h, float64(w+h), float64(w)),
			ff2:   newLinear(rng, h, w, float64(h+w), float64(h)),
			norm1: newLayerNorm(w),
			norm2: newLayerNorm(w),
		}
	}
	var proj *linear
	if w != outDim {
		p := newLinear(rng, w, outDim, float64(w+outDim), float64(w))
		proj = &p
	}
	return assemble(cfg, layers, proj), nil
}

// assemble builds a nucleus around the given weights, which must match cfg.
func assemble(cfg Config, layers []layer, proj *linear) *Nucleus {
	n := &Nucleus{
		cfg:        cfg,
		layers:     layers,
		proj:       proj,
		freq:       make([]float64, (cfg.Width+1)/2),
		embedScale: embedRange * math.Sqrt(float64(cfg.Width)),
	}
	for i := range n.freq {
		n.freq[i] = math.Exp(-math.Log(10000) * float64(2*i) / float64(cfg.Width))
	}
	n.scratch.New = func() any { return new(scratch) }
	return n
}

// newLinear draws an in×out weight matrix uniformly within
// sqrt(6/xavierFans) and out biases uniformly within 1/sqrt(biasFanIn), or
// zero biases when biasFanIn is 0.
func newLinear(rng *rand.Rand, in, out int, xavierFans, biasFanIn float64) linear {
	l := linear{
		w: blas64.General{Rows: in, Cols: out, Stride: out, Data: make([]float64, in*out)},
		b: make([]float64, out),
	}
	a := math.Sqrt(6 / xavierFans)
	for i := range l.w.Data {
		l.w.Data[i] = a * (2*rng.Float64() - 1)
	}
	if biasFanIn > 0 {
		a = 1 / math.Sqrt(biasFanIn)
		for i := range l.b {
			l.b[i] = a * (2*rng.Float64() - 1)
		}
	}
	return l
}

func newLayerNorm(width int) layerNorm {
	ln := layerNorm{gamma: make([]float64, width), beta: make([]float64, width)}
	for i := range ln.gamma {
		ln.gamma[i] = 1
	}
	return ln
}

// Config returns the configuration the nucleus was built with.
func (n *Nucleus) Config() Config { return n.cfg }

// Forward runs the transformer over a [batch, seq] block of token ids in C
// order and returns its [batch, seq, 1024] output in C order. Rows of the
// batch are independent: no token attends to another row's tokens.
func (n *Nucleus) Forward(tokens []int64, batch, seq int) ([]float32, error) {
	rows, err := checkInput(tokens, batch, seq)
	if err != nil {
		return nil, err
	}
	dst := make([]float32, rows*outDim)
	n.compute(dst, tokens, seq)
	return dst, nil
}

// ForwardInto is Forward writing its output to dst, which must hold exactly
// batch×seq×1024 values. Apart from the matrix routines' own work it does not
// allocate once warmed up.
func (n *Nucleus) ForwardInto(dst []float32, tokens []int64, batch, seq int) error {
	rows, err := checkInput(tokens, batch, seq)
	if err != nil {
		return err
	}
	if len(dst) != rows*outDim {
		return fmt.Errorf("output length %d: want batch×seq×%d = %d", len(dst), outDim, rows*outDim)
	}
	n.compute(dst, tokens, seq)
	return nil
}

// checkInput returns batch×seq after checking the shape and every token id.
func checkInput(tokens []int64, batch, seq int) (int, error) {
	if batch < 1 {
		return 0, fmt.Errorf("batch=%d: want at least 1", batch)
	}
	if seq < 1 {
		return 0, fmt.Errorf("seq=%d: want at least 1", seq)
	}
	if batch > math.MaxInt/outDim/seq {
		return 0, fmt.Errorf("batch=%d, seq=%d: want batch×seq×%d at most %d", batch, seq, outDim, math.MaxInt)
	}
	rows := batch * seq
	if len(tokens) != rows {
		return 0, fmt.Errorf("%d tokens: want batch×seq = %d×%d = %d", len(tokens), batch, seq, rows)
	}
	for i, t := range tokens {
		if t < 0 || t >= wire.VocabSize {
			return 0, fmt.Errorf("token id %d at [%d, %d]: want 0 to %d", t, i/seq, i%seq, wire.VocabSize-1)
		}
	}
	return rows, nil
}

// compute runs the model; its input has been checked.
func (n *Nucleus) compute(dst []float32, tokens []int64, seq int) {
	s := n.scratch.Get().(*scratch)
	defer n.scratch.Put(s)

	rows, w, h := len(tokens), n.cfg.Width, n.cfg.NHid
	s.x = grow(s.x, rows*w)
	s.qkv = grow(s.qkv, rows*3*w)
	s.ctx = grow(s.ctx, rows*w)
	s.tmp = grow(s.tmp, rows*w)
	s.hid = grow(s.hid, rows*h)
	s.scores = grow(s.scores, min(seq, queryBlock)*seq)

	for r, t := range tokens {
		row := s.x[r*w : (r+1)*w]
		n.embed(t, row)
		n.addPosition(r%seq, row)
	}
	x := matrix(s.x, rows, w)
	for i := range n.layers {
		l := &n.layers[i]
		l.qkv.apply(x, matrix(s.qkv, rows, 3*w))
		n.attend(s.qkv, s.ctx, s.scores, rows/seq, seq)
		l.out.apply(matrix(s.ctx, rows, w), matrix(s.tmp, rows, w))
		addTo(s.x, s.tmp)
		l.norm1.apply(s.x)

		hid := matrix(s.hid, rows, h)
		l.ff1.apply(x, hid)
		for j, v := range s.hid {
			s.hid[j] = max(v, 0)
		}
		l.ff2.apply(hid, matrix(s.tmp, rows, w))
		addTo(s.x, s.tmp)
		l.norm2.apply(s.x)
	}

	final := s.x
	if n.proj != nil {
		s.out = grow(s.out, rows*outDim)
		n.proj.apply(x, matrix(s.out, rows, outDim))
		final = s.out
	}
	for i, v := range final {
		dst[i] = float32(v)
	}
}

// embed writes token t's embedding to row: len(row) values drawn uniformly
// within ±0.1·sqrt(Width) from a PCG stream keyed by (seed, t).
func (n *Nucleus) embed(t int64, row []float64) {
	var p rand.PCG
	p.Seed(mix64(n.cfg.Seed^embedSalt), mix64(uint64(t)))
	for i := range row {
		u := float64(p.Uint64()>>11) * 0x1p-53 // uniform in [0, 1)
		row[i] = n.embedScale * (2*u - 1)
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

// addPosition adds the sinusoidal encoding of position pos to row:
// sin(pos·f_i) in column 2i and cos(pos·f_i) in column 2i+1, with
// f_i = 10000^(-2i/Width).
func (n *Nucleus) addPosition(pos int, row []float64) {
	for i, f := range n.freq {
		sin, cos := math.Sincos(float64(pos) * f)
		row[2*i] += sin
		if 2*i+1 < len(row) {
			row[2*i+1] += cos
		}
	}
}

// attend computes scaled dot-product attention for every batch row and head,
// reading queries, keys and values from qkv (rows×3Width) and writing the
// heads' outputs side by side to ctx (rows×Width).
func (n *Nucleus) attend(qkv, ctx, scores []float64, batch, seq int) {
	w := n.cfg.Width
	dh := w / n.cfg.NHead
	scale := 1 / math.Sqrt(float64(dh))
	for b := range batch {
		base := b * seq
		for h := range n.cfg.NHead {
			col := h * dh
			k := blas64.General{Rows: seq, Cols: dh, Stride: 3 * w, Data: qkv[base*3*w+w+col:]}
			v := blas64.General{Rows: seq, Cols: dh, Stride: 3 * w, Data: qkv[base*3*w+2*w+col:]}
			for q0 := 0; q0 < seq; q0 += queryBlock {
				m := min(queryBlock, seq-q0)
				q := blas64.General{Rows: m, Cols: dh, Stride: 3 * w, Data: qkv[(base+q0)*3*w+col:]}
				sc := matrix(scores, m, seq)
				blas64.Gemm(blas.NoTrans, blas.Trans, scale, q, k, 0, sc)
				for r := range m {
					softmax(scores[r*seq : (r+1)*seq])
				}
				c := blas64.General{Rows: m, Cols: dh, Stride: w, Data: ctx[(base+q0)*w+col:]}
				blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, sc, v, 0, c)
			}
		}
	}
}

// softmax replaces v by exp(v)/sum(exp(v)), shifted by the maximum so no
// exponential overflows.
func softmax(v []float64) {
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	var sum float64
	for i, x := range v {
		e := math.Exp(x - m)
		v[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range v {
		v[i] *= inv
	}
}

// apply sets y = x·l.w + l.b.
func (l *linear) apply(x, y blas64.General) {
	for r := range y.Rows {
		copy(y.Data[r*y.Stride:r*y.Stride+y.Cols], l.b)
	}
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, x, l.w, 1, y)
}

// apply normalises each len(ln.gamma)-wide row of x in place.
func (ln *layerNorm) apply(x []float64) {
	w := len(ln.gamma)
	for r := 0; r < len(x); r += w {
		row := x[r : r+w]
		var mean float64
		for _, v := range row {
			mean += v
		}
		mean /= float64(w)
		var variance float64
		for _, v := range row {
			d := v - mean
			variance += d * d
		}
		variance /= float64(w)
		inv := 1 / math.Sqrt(variance+layerNormEps)
		for i, v := range row {
			row[i] = (v-mean)*inv*ln.gamma[i] + ln.beta[i]
		}
	}
}

func addTo(dst, src []float64) {
	for i, v := range src {
		dst[i] += v
	}
}

func matrix(data []float64, rows, cols int) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: data[:rows*cols]}
}

// grow returns s resized to n, reallocating only when its capacity is short.
func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
