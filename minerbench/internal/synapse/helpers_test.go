package synapse

import "math"

func nan() float64    { return math.NaN() }
func negInf() float64 { return math.Inf(-1) }
