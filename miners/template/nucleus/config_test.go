package nucleus

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultConfigIsPythonNucleus(t *testing.T) {
	c := DefaultConfig()
	assert.Equal(t, Config{
		Width:    1024,
		Routing:  Encoder{NHead: 2, NHid: 200, NLayers: 1, Dropout: 0.2},
		Student:  Encoder{NHead: 2, NHid: 200, NLayers: 2, Dropout: 0.2},
		Training: Training{NLayers: 2, TopK: 50, Importance: 0.1},
	}, c)
	require.NoError(t, c.Validate())
	assert.Equal(t, map[string]string{
		"nucleus.nhid": "200", "nucleus.nhead": "2", "nucleus.dropout": "0.2",
		"nucleus.student_nhid": "200", "nucleus.student_nhead": "2",
		"nucleus.student_nlayers": "2", "nucleus.student_dropout": "0.2",
		"nucleus.nlayers": "2", "nucleus.topk": "50", "nucleus.importance": "0.1",
		"nucleus.seed": "0",
	}, c.Settings())
}

func TestSettingsRoundTrip(t *testing.T) {
	c := DefaultConfig()
	c.Routing = Encoder{NHead: 4, NHid: 7, NLayers: 1, Dropout: 0}
	c.Student = Encoder{NHead: 8, NHid: 9, NLayers: 0, Dropout: 1}
	c.Training = Training{NLayers: 0, TopK: 3, Importance: -2.5}
	c.Seed = math.MaxUint64
	got, err := FromSettings(c.Settings())
	require.NoError(t, err)
	assert.Equal(t, c, got)
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
		{"smallest", with(func(c *Config) {
			c.Width = 1
			c.Routing = Encoder{NHead: 1, NHid: 1, NLayers: 1}
			c.Student = Encoder{NHead: 1, NHid: 1}
			c.Training = Training{}
		}), ""},
		{"nhead equals width", with(func(c *Config) { c.Routing.NHead = 1024 }), ""},
		{"width zero", with(func(c *Config) { c.Width = 0 }), "width=0: want 1 to 4096"},
		{"width too big", with(func(c *Config) { c.Width = 8192 }), "width=8192: want 1 to 4096"},
		{"no routing layer", with(func(c *Config) { c.Routing.NLayers = 0 }), "routing layers=0: want 1 to 64"},
		{"nhid zero", with(func(c *Config) { c.Routing.NHid = 0 }), "nucleus.nhid=0: want 1 to 16384"},
		{"student nhid too big", with(func(c *Config) { c.Student.NHid = MaxNHid + 1 }), "nucleus.student_nhid=16385: want 1 to 16384"},
		{"student nlayers negative", with(func(c *Config) { c.Student.NLayers = -1 }), "nucleus.student_nlayers=-1: want 0 to 64"},
		{"student nlayers too big", with(func(c *Config) { c.Student.NLayers = 65 }), "nucleus.student_nlayers=65: want 0 to 64"},
		{"nlayers negative", with(func(c *Config) { c.Training.NLayers = -1 }), "nucleus.nlayers=-1: want 0 to 64"},
		{"topk negative", with(func(c *Config) { c.Training.TopK = -1 }), "nucleus.topk=-1: want 0 to 2147483647"},
		{"nhead zero", with(func(c *Config) { c.Routing.NHead = 0 }), "nucleus.nhead=0: want 1 to 1024"},
		{"nhead not a divisor", with(func(c *Config) { c.Routing.NHead = 3 }), "nucleus.nhead=3: want a divisor of the width, 1024"},
		{"student nhead above width", with(func(c *Config) { c.Student.NHead = 2048 }), "nucleus.student_nhead=2048: want 1 to 1024"},
		{"dropout above one", with(func(c *Config) { c.Routing.Dropout = 1.5 }), "nucleus.dropout=1.5: want 0 to 1"},
		{"student dropout negative", with(func(c *Config) { c.Student.Dropout = -0.1 }), "nucleus.student_dropout=-0.1: want 0 to 1"},
		{"dropout NaN", with(func(c *Config) { c.Routing.Dropout = math.NaN() }), "nucleus.dropout=NaN: want 0 to 1"},
		{"importance infinite", with(func(c *Config) { c.Training.Importance = math.Inf(1) }), "nucleus.importance=+Inf: want a finite number"},
		{
			"too many weights",
			with(func(c *Config) { c.Width, c.Student.NLayers = 4096, 64 }),
			"nucleus.nhid=200, nucleus.student_nhid=200, nucleus.student_nlayers=64: 4470981320 weights, want at most 134217728",
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

// weights counts what drawParams draws.
func TestWeightsCountsTheModel(t *testing.T) {
	for _, cfg := range []Config{small(4, 2, 3, 1, 5, 2), small(6, 3, 7, 2, 4, 0)} {
		p := drawParams(cfg)
		var got int
		for _, l := range append(p.routing, p.student...) {
			for _, s := range [][]float32{
				l.inProjW, l.inProjB, l.outProjW, l.outProjB, l.linear1W, l.linear1B,
				l.linear2W, l.linear2B, l.norm1W, l.norm1B, l.norm2W, l.norm2B,
			} {
				got += len(s)
			}
		}
		assert.Equal(t, int64(got), cfg.weights(), "%+v", cfg)
	}
}

func TestFromSettings(t *testing.T) {
	def := DefaultConfig()
	with := func(f func(*Config)) Config {
		c := DefaultConfig()
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		in      map[string]string
		want    Config
		wantErr string
	}{
		{"nil", nil, def, ""},
		{"other namespaces ignored", map[string]string{"axon.port": "x", "nucleusx": "1"}, def, ""},
		{
			"every key",
			map[string]string{
				"nucleus.nhid": "600", "nucleus.nhead": "4", "nucleus.dropout": "0",
				"nucleus.student_nhid": "100", "nucleus.student_nhead": "8",
				"nucleus.student_nlayers": "3", "nucleus.student_dropout": "0.5",
				"nucleus.nlayers": "5", "nucleus.topk": "10", "nucleus.importance": "1e-3",
				"nucleus.seed": "18446744073709551615",
			},
			Config{
				Width:    1024,
				Routing:  Encoder{NHead: 4, NHid: 600, NLayers: 1, Dropout: 0},
				Student:  Encoder{NHead: 8, NHid: 100, NLayers: 3, Dropout: 0.5},
				Training: Training{NLayers: 5, TopK: 10, Importance: 1e-3},
				Seed:     math.MaxUint64,
			}, "",
		},
		{"hex seed and spaces", map[string]string{"nucleus.seed": " 0x10 ", "nucleus.nhid": " 7"},
			with(func(c *Config) { c.Seed, c.Routing.NHid = 16, 7 }), ""},
		{"unknown key", map[string]string{"nucleus.width": "64"}, Config{},
			`unknown setting "nucleus.width": want one of nucleus.dropout, nucleus.importance, nucleus.nhead, nucleus.nhid, ` +
				`nucleus.nlayers, nucleus.seed, nucleus.student_dropout, nucleus.student_nhead, nucleus.student_nhid, ` +
				`nucleus.student_nlayers, nucleus.topk`},
		{"bad int", map[string]string{"nucleus.nhid": "six hundred"}, Config{},
			`nucleus.nhid="six hundred": want an integer`},
		{"float for an int", map[string]string{"nucleus.student_nlayers": "2.0"}, Config{},
			`nucleus.student_nlayers="2.0": want an integer`},
		{"bad float", map[string]string{"nucleus.dropout": "a fifth"}, Config{},
			`nucleus.dropout="a fifth": want a number`},
		{"negative seed", map[string]string{"nucleus.seed": "-1"}, Config{},
			`nucleus.seed="-1": want an unsigned 64-bit integer`},
		{"out of range after parsing", map[string]string{"nucleus.student_dropout": "2"}, Config{},
			"nucleus.student_dropout=2: want 0 to 1"},
		{"heads refused", map[string]string{"nucleus.student_nhead": "6"}, Config{},
			"nucleus.student_nhead=6: want a divisor of the width, 1024"},
		{"first bad key in sorted order", map[string]string{"nucleus.topk": "x", "nucleus.nhid": "y"}, Config{},
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
