// Package settings reads and merges a miner's settings for the host and for
// package miner's runtime. It is an implementation detail of minerbench.
//
// A miner author sees settings only as miner.Settings; how an override is
// written on a command line, and how overrides meet the defaults, is the
// host's and the runtime's business.
package settings

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ParseAssignment reads one "key=value" override such as "nucleus.nhid=600".
func ParseAssignment(s string) (key, value string, err error) {
	key, value, ok := strings.Cut(s, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" || strings.ContainsAny(key, " \t") {
		return "", "", fmt.Errorf("setting %q: want key=value with a dotted key, such as nucleus.nhid=600", s)
	}
	return key, value, nil
}

// Merge returns a copy of defaults overlaid with overrides.
//
// It refuses any override whose key defaults does not have, so that a typo
// is an error rather than a no-op.
func Merge(defaults, overrides map[string]string) (map[string]string, error) {
	out := maps.Clone(defaults)
	if out == nil {
		out = map[string]string{}
	}
	for _, k := range slices.Sorted(maps.Keys(overrides)) {
		if _, ok := defaults[k]; !ok {
			known := slices.Sorted(maps.Keys(defaults))
			return nil, fmt.Errorf("unknown setting %q; known settings: %s", k, strings.Join(known, ", "))
		}
		out[k] = overrides[k]
	}
	return out, nil
}
