package configcheck

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNegative(t *testing.T) {
	errs := Negative("axon",
		Of[int64]("Workers", -1, 10),
		Of[int64]("QueueSize", 0, 100),
	)
	if assert.Len(t, errs, 1) {
		assert.EqualError(t, errs[0], "axon: Config.Workers: -1; want 0 (default 10) or more")
	}
	errs = Negative("httpaxon", Of[time.Duration]("IdleTimeout", -time.Second, 10*time.Second))
	if assert.Len(t, errs, 1) {
		assert.EqualError(t, errs[0], "httpaxon: Config.IdleTimeout: -1s; want 0 (default 10s) or more")
	}
}

func TestSetDefault(t *testing.T) {
	zero, set := 0, 7
	SetDefault(&zero, 10)
	SetDefault(&set, 10)
	assert.Equal(t, 10, zero)
	assert.Equal(t, 7, set)
}
