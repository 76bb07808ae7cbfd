package nucleus

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultConfigValid(t *testing.T) {
	c := DefaultConfig()
	assert.Equal(t, Config{NHid: 200, NHead: 2, NLayers: 2, Width: 64, Seed: 0}, c)
	require.NoError(t, c.Validate())
}

func TestValidate(t *testing.T) {
	with := func(f func(*Config)) Config {
		c := DefaultConfig()
		f(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"default", DefaultConfig(), ""},
		{"original size", with(func(c *Config) { c.Width, c.NHid = 1024, 600 }), ""},
		{"smallest", Config{NHid: 1, NHead: 1, NLayers: 1, Width: 1}, ""},
		{"largest seed", with(func(c *Config) { c.Seed = ^uint64(0) }), ""},
		{"nhead equals width", with(func(c *Config) { c.NHead = 64 }), ""},
		{"nhid zero", with(func(c *Config) { c.NHid = 0 }), "nucleus.nhid=0: want 1 to 16384"},
		{"nhid too big", with(func(c *Config) { c.NHid = MaxNHid + 1 }), "nucleus.nhid=16385: want 1 to 16384"},
		{"nlayers negative", with(func(c *Config) { c.NLayers = -1 }), "nucleus.nlayers=-1: want 1 to 64"},
		{"nlayers too big", with(func(c *Config) { c.NLayers = 65 }), "nucleus.nlayers=65: want 1 to 64"},
		{"width zero", with(func(c *Config) { c.Width = 0 }), "nucleus.width=0: want 1 to 4096"},
		{"width too big", with(func(c *Config) { c.Width = 8192 }), "nucleus.width=8192: want 1 to 4096"},
		{"nhead zero", with(func(c *Config) { c.NHead = 0 }), "nucleus.nhead=0: want a divisor of nucleus.width=64"},
		{"nhead not a divisor", with(func(c *Config) { c.NHead = 3 }), "nucleus.nhead=3: want a divisor of nucleus.width=64"},
		{"nhead above width", with(func(c *Config) { c.NHead = 128 }), "nucleus.nhead=128: want a divisor of nucleus.width=64"},
		{
			"too many weights",
			Config{NHid: 16384, NHead: 1, NLayers: 64, Width: 4096},
			"nucleus.width=4096, nucleus.nhid=16384, nucleus.nlayers=64: 12892505088 weights, want at most 134217728",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestWeightsCountsTheModel(t *testing.T) {
	for _, cfg := range []Config{
		{NHid: 3, NHead: 2, NLayers: 2, Width: 4},
		{NHid: 5, NHead: 1, NLayers: 1, Width: 1024},
	} {
		n, err := New(cfg)
		require.NoError(t, err)
		var got int
		for _, l := range n.layers {
			for _, lin := range []linear{l.qkv, l.out, l.ff1, l.ff2} {
				got += len(lin.w.Data) + len(lin.b)
			}
			got += 2 * (len(l.norm1.gamma) + len(l.norm1.beta))
		}
		if n.proj != nil {
			got += len(n.proj.w.Data) + len(n.proj.b)
		}
		assert.Equal(t, int64(got), cfg.weights(), "%+v", cfg)
	}
}

func TestFromSettings(t *testing.T) {
	def := DefaultConfig()
	tests := []struct {
		name    string
		in      map[string]string
		want    Config
		wantErr string
	}{
		{"nil", nil, def, ""},
		{"other namespaces ignored", map[string]string{"axon.port": "x", "nucleusx": "1"}, def, ""},
		{
			"all keys",
			map[string]string{
				"nucleus.nhid": "600", "nucleus.nhead": "4", "nucleus.nlayers": "3",
				"nucleus.width": "1024", "nucleus.seed": "18446744073709551615",
			},
			Config{NHid: 600, NHead: 4, NLayers: 3, Width: 1024, Seed: 1<<64 - 1}, "",
		},
		{"hex seed and spaces", map[string]string{"nucleus.seed": " 0x10 ", "nucleus.nhid": " 7"},
			Config{NHid: 7, NHead: 2, NLayers: 2, Width: 64, Seed: 16}, ""},
		{"unknown key", map[string]string{"nucleus.dropout": "0.2"}, Config{},
			`unknown setting "nucleus.dropout": want one of nucleus.nhid, nucleus.nhead, nucleus.nlayers, nucleus.width, nucleus.seed`},
		{"bad int", map[string]string{"nucleus.nhid": "six hundred"}, Config{},
			`nucleus.nhid="six hundred": want an integer`},
		{"float int", map[string]string{"nucleus.width": "64.0"}, Config{},
			`nucleus.width="64.0": want an integer`},
		{"negative seed", map[string]string{"nucleus.seed": "-1"}, Config{},
			`nucleus.seed="-1": want an unsigned 64-bit integer`},
		{"out of range after parsing", map[string]string{"nucleus.nlayers": "0"}, Config{},
			"nucleus.nlayers=0: want 1 to 64"},
		{"combination refused", map[string]string{"nucleus.width": "60", "nucleus.nhead": "7"}, Config{},
			"nucleus.nhead=7: want a divisor of nucleus.width=60"},
		{"first bad key in sorted order", map[string]string{"nucleus.width": "x", "nucleus.nhid": "y"}, Config{},
			`nucleus.nhid="y": want an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromSettings(tt.in)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
