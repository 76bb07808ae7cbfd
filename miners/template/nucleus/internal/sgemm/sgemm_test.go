package sgemm

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// random returns n values uniform in [-1, 1).
func random(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*rng.Float32() - 1
	}
	return s
}

// naive returns c + a·b in float64, with a m×k (row stride lda), b k×n given
// by at(i, j), c m×n (row stride ldc).
func naive(c []float32, ldc int, a []float32, lda, m, k, n int, at func(i, j int) float32) []float64 {
	out := make([]float64, len(c))
	for i, v := range c {
		out[i] = float64(v)
	}
	for i := range m {
		for j := range n {
			for p := range k {
				out[i*ldc+j] += float64(a[i*lda+p]) * float64(at(p, j))
			}
		}
	}
	return out
}

// product is one C += A·B problem, laid out with padding so that strides
// exceed widths and no matrix starts at the beginning of its slice.
type product struct {
	m, k, n          int
	l                Layout
	lda, ldb, ldc    int
	offA, offB, offC int
}

// inner is how many values one stored line of B holds: a row's n, or a
// column's k.
func (pr product) inner() int {
	if pr.l == ColMajor {
		return pr.k
	}
	return pr.n
}

func (pr product) String() string {
	return fmt.Sprintf("m=%d/k=%d/n=%d/layout=%d/ld=%d,%d,%d/off=%d,%d,%d",
		pr.m, pr.k, pr.n, pr.l, pr.lda, pr.ldb, pr.ldc, pr.offA, pr.offB, pr.offC)
}

// products covers single rows and columns, every tile height, sizes one
// below and above the tile widths, more than one block of kc columns or
// mcRows rows, and strides and offsets that leave no row aligned.
func products() []product {
	var ps []product
	sizes := []struct{ m, k, n int }{
		{1, 1, 1}, {1, 7, 3}, {3, 1, 5}, {2, 5, 1},
		{5, 9, 15}, {6, 16, 16}, {7, 17, 17}, {12, 31, 32}, {13, 33, 33},
		{14, 64, 47}, {25, 100, 65}, {24, kc, 96}, {11, kc + 1, 31},
		{37, 2*kc + 3, 70}, {100, 300, 129},
		// More rows than one pass packs.
		{mcRows + 9, 40, 33}, {2*mcRows + 31, kc + 5, 17},
	}
	for i, s := range sizes {
		l := Layout(i % 2)
		pr := product{m: s.m, k: s.k, n: s.n, l: l, lda: s.k + i%3, ldc: s.n + i%5,
			offA: i % 3, offB: (i + 1) % 5, offC: (i + 2) % 7}
		pr.ldb = pr.inner() + (i+1)%4
		ps = append(ps, pr)
	}
	return ps
}

func TestMulAddMatchesNaive(t *testing.T) {
	for _, ks := range available {
		for _, pr := range products() {
			t.Run(ks.name+"/"+pr.String(), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(pr.m*1000+pr.k), uint64(pr.n)))
				a := random(rng, pr.offA+(pr.m-1)*pr.lda+pr.k)
				outer := pr.k * pr.n / pr.inner()
				b := random(rng, pr.offB+(outer-1)*pr.ldb+pr.inner())
				c := random(rng, pr.offC+(pr.m-1)*pr.ldc+pr.n)
				at := func(i, j int) float32 {
					if pr.l == RowMajor {
						return b[pr.offB+i*pr.ldb+j]
					}
					return b[pr.offB+j*pr.ldb+i]
				}
				want := naive(c[pr.offC:], pr.ldc, a[pr.offA:], pr.lda, pr.m, pr.k, pr.n, at)
				before := append([]float32(nil), c...)

				var p Packed
				p.pack(ks, b[pr.offB:], pr.l, pr.ldb, pr.k, pr.n)
				var buf Buffer
				buf.MulAdd(c[pr.offC:], pr.ldc, a[pr.offA:], pr.lda, pr.m, &p)

				for i := range c {
					r, j := (i-pr.offC)/pr.ldc, (i-pr.offC)%pr.ldc
					if i < pr.offC || j >= pr.n {
						require.Equal(t, before[i], c[i], "value %d outside C changed", i)
						continue
					}
					w := want[i-pr.offC]
					require.InDelta(t, w, c[i], 1e-5*float64(pr.k+1), "C[%d][%d]", r, j)
				}
			})
		}
	}
}

// Every assembly family computes what the portable one computes, up to
// float32 rounding, on the same problems; so does a Buffer reused across
// problems of different sizes.
func TestSIMDMatchesPortable(t *testing.T) {
	if len(available) == 1 {
		t.Skip("no assembly kernels on this processor")
	}
	for _, ks := range available[:len(available)-1] {
		t.Run(ks.name, func(t *testing.T) {
			var simdBuf, portBuf Buffer
			for _, pr := range products() {
				rng := rand.New(rand.NewPCG(uint64(pr.k), uint64(pr.n*7+pr.m)))
				a := random(rng, pr.m*pr.k)
				b := random(rng, pr.k*pr.n)
				got := random(rng, pr.m*pr.n)
				want := append([]float32(nil), got...)

				simdBuf.b.pack(ks, b, pr.l, pr.inner(), pr.k, pr.n)
				simdBuf.MulAdd(got, pr.n, a, pr.k, pr.m, &simdBuf.b)
				portBuf.b.pack(portable, b, pr.l, pr.inner(), pr.k, pr.n)
				portBuf.MulAdd(want, pr.n, a, pr.k, pr.m, &portBuf.b)

				for i := range want {
					require.InDelta(t, want[i], got[i], 1e-5*float64(pr.k+1), "%v: value %d", pr, i)
				}
			}
		})
	}
}

// Each tile of each family on its own: every height, with k = 0 (C must not
// change), k = 1 and an odd k, writing into a C wider than the tile.
func TestTiles(t *testing.T) {
	for _, ks := range available {
		for r := 1; r <= ks.maxRows(); r++ {
			for _, k := range []int{0, 1, 13} {
				t.Run(fmt.Sprintf("%s/rows=%d/k=%d", ks.name, r, k), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(r), uint64(k)))
					ldc := ks.nr + 3
					a := random(rng, r*k)
					b := random(rng, k*ks.nr)
					c := random(rng, r*ldc)
					before := append([]float32(nil), c...)
					ks.tiles[r](a, b, c, k, ldc)
					for i := range r {
						for j := range ldc {
							want := float64(before[i*ldc+j])
							if j < ks.nr {
								for p := range k {
									want += float64(a[p*r+i]) * float64(b[p*ks.nr+j])
								}
							}
							require.InDelta(t, want, c[i*ldc+j], 1e-5, "C[%d][%d]", i, j)
						}
					}
				})
			}
		}
	}
}

func TestPackRefusesShortInput(t *testing.T) {
	assert.PanicsWithValue(t,
		"sgemm: 3×4 matrix with leading dimension 4 in 11 values: want ld ≥ 4 and at least 12 values",
		func() { Pack(make([]float32, 11), RowMajor, 4, 3, 4) })
	assert.PanicsWithValue(t,
		"sgemm: 3×4 matrix with leading dimension 2 in 100 values: want ld ≥ 3 and at least 12 values",
		func() { Pack(make([]float32, 100), ColMajor, 2, 3, 4) })
}

func TestMulAddRefusesShortOperands(t *testing.T) {
	var buf Buffer
	b := Pack(make([]float32, 12), RowMajor, 4, 3, 4)
	assert.PanicsWithValue(t,
		"sgemm: C is 2×4 with ldc 4 in 7 values: want ldc ≥ 4 and at least 8 values",
		func() { buf.MulAdd(make([]float32, 7), 4, make([]float32, 6), 3, 2, b) })
	assert.PanicsWithValue(t,
		"sgemm: A is 2×3 with lda 2 in 6 values: want lda ≥ 3 and at least 6 values",
		func() { buf.MulAdd(make([]float32, 8), 4, make([]float32, 6), 2, 2, b) })
}

func TestPackedSize(t *testing.T) {
	p := Pack(make([]float32, 15), ColMajor, 3, 3, 5)
	assert.Equal(t, 3, p.Rows())
	assert.Equal(t, 5, p.Cols())
	assert.Len(t, p.data, 3*available[0].nr, "one panel, padded to the tile width")
}

// BenchmarkMulAdd times the products of a [10, 10] forward of the template
// at width 1024: 100 rows through the attention's input projection
// (1024→3072) and the feed-forward block's first layer (1024→200), for each
// family. GFLOPS is 2·m·k·n per second.
func BenchmarkMulAdd(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct{ m, k, n int }{{100, 1024, 3072}, {100, 1024, 200}, {1, 1024, 3072}} {
		for _, ks := range available {
			b.Run(fmt.Sprintf("m=%d/k=%d/n=%d/kernels=%s", s.m, s.k, s.n, ks.name), func(b *testing.B) {
				var p Packed
				p.pack(ks, random(rng, s.k*s.n), ColMajor, s.k, s.k, s.n)
				a := random(rng, s.m*s.k)
				c := make([]float32, s.m*s.n)
				var buf Buffer
				for b.Loop() {
					buf.MulAdd(c, s.n, a, s.k, s.m, &p)
				}
				b.ReportMetric(2*float64(s.m*s.k*s.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}

// BenchmarkTile times the tallest tile of each family on its own, with its
// operands in the L1 cache: the ceiling MulAdd approaches.
func BenchmarkTile(b *testing.B) {
	for _, ks := range available {
		r, k := ks.maxRows(), kc
		a := make([]float32, r*k)
		bp := make([]float32, k*ks.nr)
		c := make([]float32, r*ks.nr)
		b.Run("kernels="+ks.name, func(b *testing.B) {
			for b.Loop() {
				ks.tiles[r](a, bp, c, k, ks.nr)
			}
			b.ReportMetric(2*float64(r*k*ks.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// The committed assembly is what gen.go writes.
func TestGeneratedKernelsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator with go run")
	}
	dir := t.TempDir()
	out, err := exec.Command("go", "run", "gen.go", "-dir", dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, name := range []string{"kernels_amd64.go", "kernels_amd64.s"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		got, err := os.ReadFile(name)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "%s differs from gen.go's output: run go generate", name)
	}
}
