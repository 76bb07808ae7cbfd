package analysis

import (
	"cmp"
	"math"
	"slices"
)

// discrete counts the values of a column that takes few distinct values.
//
// Such columns are the return code, a run's settings and its start. The
// counts make their statistics exact. A run of equal values costs no map
// access.
type discrete struct {
	counts  map[float64]int64
	last    float64
	pending int64 // occurrences of last not yet in counts
}

// valueCount is one distinct value of a column and its number of rows.
type valueCount struct {
	value float64
	count int64
}

func (d *discrete) add(v float64) {
	if d.pending > 0 && v == d.last {
		d.pending++
		return
	}
	d.settle()
	d.last, d.pending = v, 1
}

// settle moves the pending occurrences into counts.
func (d *discrete) settle() {
	if d.pending == 0 {
		return
	}
	if d.counts == nil {
		d.counts = make(map[float64]int64)
	}
	d.counts[d.last] += d.pending
	d.pending = 0
}

// sorted returns the distinct values in ascending order with their counts.
func (d *discrete) sorted() []valueCount {
	d.settle()
	out := make([]valueCount, 0, len(d.counts))
	for v, k := range d.counts {
		out = append(out, valueCount{v, k})
	}
	slices.SortFunc(out, func(a, b valueCount) int { return cmp.Compare(a.value, b.value) })
	return out
}

// total returns the number of rows counted.
func (d *discrete) total() int64 {
	d.settle()
	var n int64
	for _, k := range d.counts {
		n += k
	}
	return n
}

// describe returns the describe() column of the n values counted, exactly.
func (d *discrete) describe(name string, n int64) Column {
	c := Column{Name: name, Count: n}
	c.setNaN()
	if n == 0 {
		return c
	}
	vals := d.sorted()
	var sum float64
	for _, v := range vals {
		sum += v.value * float64(v.count)
	}
	c.Mean = sum / float64(n)
	if n > 1 {
		var ss float64
		for _, v := range vals {
			dev := v.value - c.Mean
			ss += dev * dev * float64(v.count)
		}
		c.Std = math.Sqrt(ss / float64(n-1))
	}
	// rank returns the value of 0-based rank k in sorted order.
	rank := func(k int64) float64 {
		for _, v := range vals {
			if k < v.count {
				return v.value
			}
			k -= v.count
		}
		return vals[len(vals)-1].value
	}
	quantile := func(q float64) float64 {
		pos := q * float64(n-1)
		k := int64(math.Floor(pos))
		lo := rank(k)
		return lo + (pos-float64(k))*(rank(k+1)-lo)
	}
	c.Min = vals[0].value
	c.P25, c.P50, c.P75 = quantile(0.25), quantile(0.5), quantile(0.75)
	c.Max = vals[len(vals)-1].value
	return c
}
