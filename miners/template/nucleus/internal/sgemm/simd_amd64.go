package sgemm

import "golang.org/x/sys/cpu"

// simdKernels returns the assembly families this processor and its
// operating system support, fastest first.
func simdKernels() []*kernels {
	var ks []*kernels
	if cpu.X86.HasAVX512F {
		ks = append(ks, &kernels{name: "avx512", nr: avx512Cols, tiles: avx512Tiles[:]})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &kernels{name: "avx2", nr: avx2Cols, tiles: avx2Tiles[:]})
	}
	return ks
}
