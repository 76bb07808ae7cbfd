package minertest_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/minerbench/miner/minertest"
)

// filler answers every query with fill.value, or refuses it with
// fill.code when that is set; its Forwarder counts its Close calls.
type filler struct {
	closes *atomic.Int32
	newErr error
}

func (filler) Name() string { return "filler" }
func (filler) Defaults() miner.Settings {
	return miner.Settings{"fill.value": "0", "fill.code": ""}
}

func (f filler) New(_ context.Context, s miner.Settings, log *slog.Logger) (miner.Forwarder, error) {
	if f.newErr != nil {
		return nil, f.newErr
	}
	value, err := s.Int("fill.value", -100, 100)
	if err != nil {
		return nil, err
	}
	var code miner.ReturnCode
	if s["fill.code"] != "" {
		if code, err = miner.ParseReturnCode(s["fill.code"]); err != nil {
			return nil, err
		}
	}
	log.Info("filling", "value", value)
	return &fillForwarder{value: float32(value), code: code, closes: f.closes}, nil
}

type fillForwarder struct {
	value  float32
	code   miner.ReturnCode
	closes *atomic.Int32
}

func (f *fillForwarder) Forward(_ context.Context, in miner.Tensor) (miner.Tensor, error) {
	if f.code != 0 {
		return miner.Tensor{}, miner.Refuse(f.code, "refusing as fill.code=%s asks", f.code)
	}
	batch, seq := in.Shape[0], in.Shape[1]
	out := make([]float32, batch*seq*miner.NetworkDim)
	for i := range out {
		out[i] = f.value
	}
	return miner.FromFloat32([]int64{batch, seq, miner.NetworkDim}, out), nil
}

func (f *fillForwarder) Close() error {
	f.closes.Add(1)
	return nil
}

func TestStartQuery(t *testing.T) {
	tests := []struct {
		name      string
		overrides miner.Settings
		code      miner.ReturnCode
		value     float32
	}{
		{"defaults", nil, miner.Success, 0},
		{"overridden setting", miner.Settings{"fill.value": "7"}, miner.Success, 7},
		{"code error", miner.Settings{"fill.code": "NucleusFull"}, miner.NucleusFull, 0},
	}
	for _, tt := range tests {
		closes := new(atomic.Int32)
		t.Run(tt.name, func(t *testing.T) {
			s, err := minertest.Start(t, filler{closes: closes}, tt.overrides)
			require.NoError(t, err)
			assert.NotEmpty(t, s.Hotkey)
			assert.Regexp(t, `^127\.0\.0\.1:\d+$`, s.Endpoint)
			for _, shape := range [][2]int{{2, 3}, {1, 1}} {
				out, code := s.Query(shape[0], shape[1])
				require.Equal(t, tt.code, code)
				if code != miner.Success {
					continue
				}
				require.Equal(t, []int64{int64(shape[0]), int64(shape[1]), miner.NetworkDim}, out.Shape)
				for _, v := range out.Float32s() {
					require.Equal(t, tt.value, v)
				}
			}
			assert.Zero(t, closes.Load(), "closed while the test runs")
		})
		assert.Equal(t, int32(1), closes.Load(), "%s: Close calls once the test ended", tt.name)
	}
}

func TestStartFails(t *testing.T) {
	errModel := errors.New("weights.bin: no such file")
	tests := []struct {
		name      string
		m         filler
		overrides miner.Settings
		want      string
	}{
		{"New fails", filler{newErr: errModel}, nil, "miner filler: weights.bin: no such file"},
		{"bad setting", filler{}, miner.Settings{"fill.value": "x"}, `miner filler: setting fill.value="x": want an integer from -100 to 100`},
		{"unknown setting", filler{}, miner.Settings{"fill.valeu": "1"}, `miner filler: unknown setting "fill.valeu"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.m.closes = new(atomic.Int32)
			s, err := minertest.Start(t, tt.m, tt.overrides)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tt.want)
			assert.Zero(t, tt.m.closes.Load(), "nothing was built to close")
		})
	}
}

func TestTokens(t *testing.T) {
	a := minertest.Tokens(4, 5)
	assert.Equal(t, []int64{4, 5}, a.Shape)
	ids := a.Int64s()
	require.Len(t, ids, 20)
	for _, id := range ids {
		assert.True(t, id >= 0 && id < miner.VocabSize, "id %d", id)
	}
	assert.Equal(t, ids, minertest.Tokens(4, 5).Int64s(), "the same shape gives the same ids")
	assert.NotEqual(t, ids[:4], minertest.Tokens(4, 1).Int64s())
}
