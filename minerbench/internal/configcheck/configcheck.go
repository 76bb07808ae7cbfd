// Package configcheck holds the checks the two axons' Configs share: a
// field whose zero means its default must not be negative, and is set to
// its default when zero.
package configcheck

import (
	"fmt"
	"time"
)

// Field is a Config field whose zero means its default.
type Field[T int64 | time.Duration] struct {
	Name           string
	Value, Default T
}

// Of returns the Field of name, with its value and its default.
func Of[T int64 | time.Duration](name string, value, deflt T) Field[T] {
	return Field[T]{Name: name, Value: value, Default: deflt}
}

// Negative returns an error for each field below zero. Each names the
// field of pkg's Config, its value and its default, such as
// "axon: Config.Workers: -1; want 0 (default 10) or more".
func Negative[T int64 | time.Duration](pkg string, fields ...Field[T]) []error {
	var errs []error
	for _, f := range fields {
		if f.Value < 0 {
			errs = append(errs, fmt.Errorf("%s: Config.%s: %v; want 0 (default %v) or more", pkg, f.Name, f.Value, f.Default))
		}
	}
	return errs
}

// SetDefault sets *v to deflt when it is zero.
func SetDefault[T comparable](v *T, deflt T) {
	var zero T
	if *v == zero {
		*v = deflt
	}
}
