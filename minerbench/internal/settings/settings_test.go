package settings

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAssignment(t *testing.T) {
	k, v, err := ParseAssignment(" nucleus.nhid =600=x")
	require.NoError(t, err)
	assert.Equal(t, "nucleus.nhid", k)
	assert.Equal(t, "600=x", v, "the value is everything after the first =")
	for _, bad := range []string{"nucleus.nhid", "=600", "a b=1", ""} {
		_, _, err := ParseAssignment(bad)
		assert.ErrorContains(t, err, "want key=value", "%q", bad)
	}
}

func TestMerge(t *testing.T) {
	defaults := map[string]string{"a": "1", "b": "2"}
	got, err := Merge(defaults, map[string]string{"b": "3"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "1", "b": "3"}, got)
	assert.Equal(t, "2", defaults["b"], "defaults are not changed")

	_, err = Merge(defaults, map[string]string{"c": "4"})
	assert.EqualError(t, err, `unknown setting "c"; known settings: a, b`)
}
