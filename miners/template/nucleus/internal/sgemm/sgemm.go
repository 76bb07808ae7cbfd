// Package sgemm multiplies float32 matrices on one core: C += A·B, with B
// packed into column panels once and reused across products.
//
// The work is done by register-blocked tiles, in AVX-512 or AVX2+FMA
// assembly on amd64 processors that have them and in plain Go elsewhere.
// Products run in blocks of kc rows of B and of about mcRows rows of A, so
// that one kc-deep sliver of a panel of B stays in the L1 cache while the
// row slivers of A, from the L2 cache, pass over it.
package sgemm

//go:generate go run gen.go

import "fmt"

const (
	// kc is the depth of one pass over the panels of B.
	kc = 256
	// mcRows bounds the rows of A packed for one pass, so that they stay in
	// the L2 cache while the panels of B go by.
	mcRows = 192
)

// tile computes c[i*ldc+j] += Σp a[p*r+i]·b[p*nr+j] for i < r, j < nr and
// p < k, where r is its number of rows and nr its family's width.
type tile func(a, b, c []float32, k, ldc int)

// kernels is one family of tiles, all nr columns wide.
type kernels struct {
	name string
	nr   int
	// tiles[r] is the tile of r rows, for r from 1 to len(tiles)-1.
	tiles []tile
}

// maxRows is the tallest tile of the family.
func (ks *kernels) maxRows() int { return len(ks.tiles) - 1 }

// available lists the families this machine runs, fastest first; the
// portable one is always last.
var available = append(simdKernels(), portable)

// Layout says how a slice given to Pack holds its matrix.
type Layout int

const (
	// RowMajor holds row i of a k×n matrix at [i·ld, i·ld+n).
	RowMajor Layout = iota
	// ColMajor holds column j of a k×n matrix at [j·ld, j·ld+k): the
	// transpose of a row-major n×k matrix, as B = Wᵀ for a torch weight W.
	ColMajor
)

// Packed is a k×n matrix laid out for one family of tiles: ceil(n/nr)
// panels of k rows of nr values, the last panel padded with zeros.
type Packed struct {
	k, n int
	ks   *kernels
	data []float32
}

// Pack returns the k×n matrix that src holds in layout l, with leading
// dimension ld, packed for the fastest tiles of this machine.
func Pack(src []float32, l Layout, ld, k, n int) *Packed {
	p := &Packed{}
	p.pack(available[0], src, l, ld, k, n)
	return p
}

// Rows returns k, the number of rows of the matrix.
func (p *Packed) Rows() int { return p.k }

// Cols returns n, the number of columns of the matrix.
func (p *Packed) Cols() int { return p.n }

// pack lays src out for ks in p, reusing p's storage when it is large enough.
func (p *Packed) pack(ks *kernels, src []float32, l Layout, ld, k, n int) {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("sgemm: %d×%d matrix: want sizes of at least 0", k, n))
	}
	if k > 0 && n > 0 {
		inner, outer := n, k
		if l == ColMajor {
			inner, outer = k, n
		}
		if ld < inner || len(src) < (outer-1)*ld+inner {
			panic(fmt.Sprintf("sgemm: %d×%d matrix with leading dimension %d in %d values: want ld ≥ %d and at least %d values",
				k, n, ld, len(src), inner, (outer-1)*max(ld, inner)+inner))
		}
	}
	nr := ks.nr
	panels := (n + nr - 1) / nr
	p.k, p.n, p.ks = k, n, ks
	p.data = resize(p.data, panels*k*nr)
	for q := range panels {
		panel := p.data[q*k*nr : (q+1)*k*nr]
		j0 := q * nr
		cols := min(nr, n-j0)
		if cols < nr {
			clear(panel)
		}
		if l == RowMajor {
			for i := range k {
				copy(panel[i*nr:i*nr+cols], src[i*ld+j0:i*ld+j0+cols])
			}
			continue
		}
		// Read each stored column in order; the writes stay within the panel.
		for j := range cols {
			for i, v := range src[(j0+j)*ld : (j0+j)*ld+k] {
				panel[i*nr+j] = v
			}
		}
	}
}

// Buffer is the working memory of MulAdd and of packing with Buffer.Pack.
// It grows as needed and is reused by later calls; one Buffer must not be
// used by two goroutines at once.
type Buffer struct {
	a    []float32 // A's row slivers for one block of kc columns
	edge []float32 // a tile for the last, narrower panel
	b    Packed
}

// Pack is the package's Pack into storage of buf's, valid until the next
// call of buf.Pack.
func (buf *Buffer) Pack(src []float32, l Layout, ld, k, n int) *Packed {
	buf.b.pack(available[0], src, l, ld, k, n)
	return &buf.b
}

// MulAdd adds A·B to the m×n matrix C, whose row i is c[i·ldc : i·ldc+n],
// for the m×k matrix A whose row i is a[i·lda : i·lda+k] and B packed, k×n.
func (buf *Buffer) MulAdd(c []float32, ldc int, a []float32, lda, m int, b *Packed) {
	k, n, ks := b.k, b.n, b.ks
	if m < 0 {
		panic(fmt.Sprintf("sgemm: m=%d: want at least 0", m))
	}
	if m == 0 || n == 0 {
		return
	}
	if ldc < n || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("sgemm: C is %d×%d with ldc %d in %d values: want ldc ≥ %d and at least %d values",
			m, n, ldc, len(c), n, (m-1)*max(ldc, n)+n))
	}
	if k > 0 && (lda < k || len(a) < (m-1)*lda+k) {
		panic(fmt.Sprintf("sgemm: A is %d×%d with lda %d in %d values: want lda ≥ %d and at least %d values",
			m, k, lda, len(a), k, (m-1)*max(lda, k)+k))
	}
	nr, mr := ks.nr, ks.maxRows()
	mc := max(1, mcRows/mr) * mr
	buf.edge = resize(buf.edge, mr*nr)
	for k0 := 0; k0 < k; k0 += kc {
		depth := min(kc, k-k0)
		for i1 := 0; i1 < m; i1 += mc {
			block := min(mc, m-i1)
			buf.packA(a[i1*lda:], lda, block, k0, depth, mr)
			for j0 := 0; j0 < n; j0 += nr {
				bp := b.data[j0*k+k0*nr : j0*k+(k0+depth)*nr]
				buf.panel(ks, c[i1*ldc+j0:], ldc, bp, block, depth, min(nr, n-j0))
			}
		}
	}
}

// panel adds the product of the packed rows in buf.a and one kc-deep
// sliver of a panel of B to the rows×cols block of C at c.
func (buf *Buffer) panel(ks *kernels, c []float32, ldc int, bp []float32, rows, depth, cols int) {
	nr, mr := ks.nr, ks.maxRows()
	for i0 := 0; i0 < rows; i0 += mr {
		r := min(mr, rows-i0)
		ap := buf.a[i0*depth : (i0+r)*depth]
		if cols == nr {
			ks.tiles[r](ap, bp, c[i0*ldc:(i0+r-1)*ldc+nr], depth, ldc)
			continue
		}
		edge := buf.edge[:r*nr]
		clear(edge)
		ks.tiles[r](ap, bp, edge, depth, nr)
		for i := range r {
			dst := c[(i0+i)*ldc : (i0+i)*ldc+cols]
			for j, v := range edge[i*nr : i*nr+cols] {
				dst[j] += v
			}
		}
	}
}

// packA lays columns [k0, k0+depth) of A out in buf.a as slivers of mr rows
// (fewer in the last): sliver s holds, for each column p, its rows' values
// in order, and starts at s·mr·depth.
func (buf *Buffer) packA(a []float32, lda, m, k0, depth, mr int) {
	buf.a = resize(buf.a, m*depth)
	for i0 := 0; i0 < m; i0 += mr {
		rows := min(mr, m-i0)
		sliver := buf.a[i0*depth : (i0+rows)*depth]
		base := i0*lda + k0
		for p := range depth {
			col := sliver[p*rows : (p+1)*rows]
			for i := range col {
				col[i] = a[base+i*lda+p]
			}
		}
	}
}

// resize returns s with length n, reallocating only when its capacity is short.
func resize(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// portable is the family in plain Go, for processors without the assembly.
var portable = &kernels{name: "portable", nr: portableCols, tiles: portableTiles()}

const (
	portableRows = 4
	portableCols = 16
)

func portableTiles() []tile {
	tiles := make([]tile, portableRows+1)
	for r := 1; r <= portableRows; r++ {
		tiles[r] = func(a, b, c []float32, k, ldc int) {
			var acc [portableRows][portableCols]float32
			for p := range k {
				bp := (*[portableCols]float32)(b[p*portableCols:])
				for i, av := range a[p*r : (p+1)*r] {
					for j, bv := range bp {
						acc[i][j] += av * bv
					}
				}
			}
			for i := range r {
				dst := c[i*ldc : i*ldc+portableCols]
				for j, v := range acc[i] {
					dst[j] += v
				}
			}
		}
	}
	return tiles
}
