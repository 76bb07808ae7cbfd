package nucleus

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Bounds on Config fields. They keep one nucleus within a few hundred MiB
// of memory whatever the settings say.
const (
	// MaxWidth is the largest accepted Config.Width.
	MaxWidth = 4096
	// MaxNHid is the largest accepted feed-forward width of an encoder.
	MaxNHid = 16384
	// MaxNLayers is the largest accepted number of layers of an encoder.
	MaxNLayers = 64
	// MaxWeights is the largest accepted number of weights over both
	// encoders (float32 each, so 512 MiB).
	MaxWeights = 1 << 27
)

// Config sizes the nucleus with the settings of Bittensor 2.0.4's template
// miner nucleus.
type Config struct {
	// Width is the model dimension. The Python nucleus's is the network's, 1024,
	// and no setting changes it; smaller widths serve the tests.
	Width int
	// Routing is the routing encoder: nucleus.nhead, nucleus.nhid and
	// nucleus.dropout, one layer.
	Routing Encoder
	// Student is the student encoder, fed by the routing encoder:
	// nucleus.student_nhead, student_nhid, student_nlayers and
	// student_dropout.
	Student Encoder
	// Training holds the settings of the Python nucleus's training path, which
	// serving does not run.
	Training Training
	// Seed determines every initial weight (nucleus.seed). Any value is
	// accepted.
	Seed uint64
}

// Encoder sizes a torch.nn.TransformerEncoder of post-norm layers with ReLU
// feed-forward blocks.
type Encoder struct {
	// NHead is the number of attention heads; it must divide Config.Width.
	NHead int
	// NHid is the width of each layer's feed-forward block.
	NHid int
	// NLayers is the number of layers.
	NLayers int
	// Dropout is the dropout probability while training. Serving runs
	// without dropout, as torch does in eval mode, so it changes nothing
	// here; it is kept and checked for the Python nucleus's sake.
	Dropout float64
}

// Training holds the Python nucleus's settings that only its training
// path reads. They are accepted and checked so that its command lines
// work, and change nothing when serving.
type Training struct {
	// NLayers sizes the encoder of the peers' responses (nucleus.nlayers).
	NLayers int
	// TopK is how many peers a training step queries (nucleus.topk).
	TopK int
	// Importance weighs the routing's importance loss (nucleus.importance).
	Importance float64
}

// DefaultConfig returns the Python nucleus's defaults: Width 1024; both encoders
// with 2 heads, a feed-forward width of 200 and dropout 0.2; 1 routing
// layer and 2 student layers; training NLayers 2, TopK 50, Importance 0.1;
// Seed 0.
func DefaultConfig() Config {
	enc := Encoder{NHead: 2, NHid: 200, NLayers: 1, Dropout: 0.2}
	c := Config{
		Width:    1024,
		Routing:  enc,
		Student:  enc,
		Training: Training{NLayers: 2, TopK: 50, Importance: 0.1},
	}
	c.Student.NLayers = 2
	return c
}

// setting is one nucleus.* key and the field it sets.
type setting struct {
	key string
	i   *int     // an integer field, or nil
	f   *float64 // a float field, or nil
	u   *uint64  // the seed, or nil
	// lo and hi bound the value (not the seed's).
	lo, hi float64
}

// settings lists c's keys in Bittensor's dotted form, sorted, with the
// bounds Validate checks besides the heads dividing the width.
func (c *Config) settings() []setting {
	return []setting{
		{key: "nucleus.dropout", f: &c.Routing.Dropout, lo: 0, hi: 1},
		{key: "nucleus.importance", f: &c.Training.Importance, lo: math.Inf(-1), hi: math.Inf(1)},
		{key: "nucleus.nhead", i: &c.Routing.NHead, lo: 1, hi: float64(c.Width)},
		{key: "nucleus.nhid", i: &c.Routing.NHid, lo: 1, hi: MaxNHid},
		{key: "nucleus.nlayers", i: &c.Training.NLayers, lo: 0, hi: MaxNLayers},
		{key: "nucleus.seed", u: &c.Seed},
		{key: "nucleus.student_dropout", f: &c.Student.Dropout, lo: 0, hi: 1},
		{key: "nucleus.student_nhead", i: &c.Student.NHead, lo: 1, hi: float64(c.Width)},
		{key: "nucleus.student_nhid", i: &c.Student.NHid, lo: 1, hi: MaxNHid},
		{key: "nucleus.student_nlayers", i: &c.Student.NLayers, lo: 0, hi: MaxNLayers},
		{key: "nucleus.topk", i: &c.Training.TopK, lo: 0, hi: math.MaxInt32},
	}
}

// Settings returns every nucleus.* key with c's value, in the form
// FromSettings reads.
func (c Config) Settings() map[string]string {
	m := make(map[string]string)
	for _, s := range c.settings() {
		switch {
		case s.i != nil:
			m[s.key] = strconv.Itoa(*s.i)
		case s.f != nil:
			m[s.key] = strconv.FormatFloat(*s.f, 'g', -1, 64)
		default:
			m[s.key] = strconv.FormatUint(*s.u, 10)
		}
	}
	return m
}

// Validate reports the first field outside its accepted range, naming it in
// the dotted form of the settings.
func (c Config) Validate() error {
	if c.Width < 1 || c.Width > MaxWidth {
		return fmt.Errorf("width=%d: want 1 to %d", c.Width, MaxWidth)
	}
	if c.Routing.NLayers < 1 || c.Routing.NLayers > MaxNLayers {
		return fmt.Errorf("routing layers=%d: want 1 to %d", c.Routing.NLayers, MaxNLayers)
	}
	for _, s := range c.settings() {
		switch {
		case s.i != nil && (*s.i < int(s.lo) || float64(*s.i) > s.hi):
			return fmt.Errorf("%s=%d: want %d to %d", s.key, *s.i, int(s.lo), int(s.hi))
		case s.f != nil && (math.IsNaN(*s.f) || math.IsInf(*s.f, 0) || *s.f < s.lo || *s.f > s.hi):
			if math.IsInf(s.lo, -1) {
				return fmt.Errorf("%s=%g: want a finite number", s.key, *s.f)
			}
			return fmt.Errorf("%s=%g: want %g to %g", s.key, *s.f, s.lo, s.hi)
		}
	}
	for _, e := range []struct {
		key   string
		heads int
	}{{"nucleus.nhead", c.Routing.NHead}, {"nucleus.student_nhead", c.Student.NHead}} {
		if c.Width%e.heads != 0 {
			return fmt.Errorf("%s=%d: want a divisor of the width, %d", e.key, e.heads, c.Width)
		}
	}
	if w := c.weights(); w > MaxWeights {
		return fmt.Errorf("nucleus.nhid=%d, nucleus.student_nhid=%d, nucleus.student_nlayers=%d: %d weights, want at most %d",
			c.Routing.NHid, c.Student.NHid, c.Student.NLayers, w, MaxWeights)
	}
	return nil
}

// weights counts the parameters of both encoders. The per-field bounds
// keep it far from overflowing an int64.
func (c Config) weights() int64 {
	w := int64(c.Width)
	layer := func(e Encoder) int64 {
		h := int64(e.NHid)
		return int64(e.NLayers) * ((3*w*w + 3*w) + (w*w + w) + (w*h + h) + (h*w + w) + 4*w)
	}
	return layer(c.Routing) + layer(c.Student)
}

// FromSettings starts from DefaultConfig and applies the nucleus.* keys of m.
// Keys outside nucleus. are left for others; an unknown nucleus.* key or a
// value that does not parse is refused, and so is a result Validate refuses.
func FromSettings(m map[string]string) (Config, error) {
	c := DefaultConfig()
	byKey := make(map[string]setting)
	var known []string
	for _, s := range c.settings() {
		byKey[s.key] = s
		known = append(known, s.key)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same error whatever the map order
	for _, k := range keys {
		if !strings.HasPrefix(k, "nucleus.") {
			continue
		}
		s, ok := byKey[k]
		if !ok {
			return Config{}, fmt.Errorf("unknown setting %q: want one of %s", k, strings.Join(known, ", "))
		}
		v := strings.TrimSpace(m[k])
		switch {
		case s.i != nil:
			n, err := strconv.Atoi(v)
			if err != nil {
				return Config{}, fmt.Errorf("%s=%q: want an integer", k, m[k])
			}
			*s.i = n
		case s.f != nil:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return Config{}, fmt.Errorf("%s=%q: want a number", k, m[k])
			}
			*s.f = f
		default:
			u, err := strconv.ParseUint(v, 0, 64)
			if err != nil {
				return Config{}, fmt.Errorf("%s=%q: want an unsigned 64-bit integer", k, m[k])
			}
			*s.u = u
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
