//go:build !amd64

package sgemm

// simdKernels returns no families: there is assembly for amd64 only.
func simdKernels() []*kernels { return nil }
