//go:build amd64 || 386 || arm64

package tensor

// unalignedOK reports whether the architecture loads a float32 or int64
// from any address at full speed; Int64s and Float32s then view Data
// whatever its alignment, so a decoded response whose data sits at an odd
// offset in its buffer still costs no copy.
const unalignedOK = true
