//go:build !(amd64 || 386 || arm64)

package tensor

// unalignedOK reports whether the architecture loads a float32 or int64
// from any address at full speed.
//
// Here such a load may trap or be slow. So Int64s and Float32s copy Data
// that is not aligned to the element size.
const unalignedOK = false
