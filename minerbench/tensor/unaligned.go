//go:build amd64 || 386 || arm64

package tensor

// unalignedOK reports whether the architecture loads a float32 or int64
// from any address at full speed.
//
// Here it does. So Int64s and Float32s view Data whatever its alignment,
// and a decoded response whose data sits at an odd offset costs no copy.
const unalignedOK = true
