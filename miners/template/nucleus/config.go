package nucleus

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Bounds on Config fields. They keep one nucleus within a few GiB of memory
// whatever the settings say.
const (
	// MaxWidth is the largest accepted Config.Width.
	MaxWidth = 4096
	// MaxNHid is the largest accepted Config.NHid.
	MaxNHid = 16384
	// MaxNLayers is the largest accepted Config.NLayers.
	MaxNLayers = 64
	// MaxWeights is the largest accepted number of weights over all layers
	// and the output projection (float64 each, so 1 GiB).
	MaxWeights = 1 << 27
)

// Setting keys, in the original's dotted form.
const (
	keyNHid    = "nucleus.nhid"
	keyNHead   = "nucleus.nhead"
	keyNLayers = "nucleus.nlayers"
	keyWidth   = "nucleus.width"
	keySeed    = "nucleus.seed"
)

// Config sizes the transformer. Every field must be set; DefaultConfig gives
// a small model, Width 1024 the original's size.
type Config struct {
	// NHid is the width of each layer's feed-forward hidden layer (nucleus.nhid).
	NHid int
	// NHead is the number of attention heads; it must divide Width (nucleus.nhead).
	NHead int
	// NLayers is the number of encoder layers (nucleus.nlayers).
	NLayers int
	// Width is the model dimension: embedding, attention and layer width
	// (nucleus.width). When it is not 1024 a final projection maps it to 1024.
	Width int
	// Seed determines every weight and every token embedding (nucleus.seed).
	// Any value is accepted.
	Seed uint64
}

// DefaultConfig returns NHid 200, NHead 2, NLayers 2, Width 64, Seed 0.
func DefaultConfig() Config {
	return Config{NHid: 200, NHead: 2, NLayers: 2, Width: 64, Seed: 0}
}

// Validate reports the first field outside its accepted range, naming it in
// the dotted form of the settings.
func (c Config) Validate() error {
	if c.NHid < 1 || c.NHid > MaxNHid {
		return fmt.Errorf("%s=%d: want 1 to %d", keyNHid, c.NHid, MaxNHid)
	}
	if c.NLayers < 1 || c.NLayers > MaxNLayers {
		return fmt.Errorf("%s=%d: want 1 to %d", keyNLayers, c.NLayers, MaxNLayers)
	}
	if c.Width < 1 || c.Width > MaxWidth {
		return fmt.Errorf("%s=%d: want 1 to %d", keyWidth, c.Width, MaxWidth)
	}
	if c.NHead < 1 || c.NHead > c.Width || c.Width%c.NHead != 0 {
		return fmt.Errorf("%s=%d: want a divisor of %s=%d", keyNHead, c.NHead, keyWidth, c.Width)
	}
	if w := c.weights(); w > MaxWeights {
		return fmt.Errorf("%s=%d, %s=%d, %s=%d: %d weights, want at most %d",
			keyWidth, c.Width, keyNHid, c.NHid, keyNLayers, c.NLayers, w, MaxWeights)
	}
	return nil
}

// weights counts the weights and biases of a model of this size. The
// per-field bounds keep it far from overflowing an int64.
func (c Config) weights() int64 {
	w, h := int64(c.Width), int64(c.NHid)
	perLayer := (w*3*w + 3*w) + (w*w + w) + (w*h + h) + (h*w + w) + 4*w
	total := int64(c.NLayers) * perLayer
	if c.Width != outDim {
		total += w*outDim + outDim
	}
	return total
}

// FromSettings starts from DefaultConfig and applies the nucleus.* keys of m.
// Keys outside nucleus. are left for others; an unknown nucleus.* key or a
// value that does not parse is refused, and so is a result Validate refuses.
func FromSettings(m map[string]string) (Config, error) {
	c := DefaultConfig()
	ints := map[string]*int{
		keyNHid:    &c.NHid,
		keyNHead:   &c.NHead,
		keyNLayers: &c.NLayers,
		keyWidth:   &c.Width,
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
		v := m[k]
		if k == keySeed {
			s, err := strconv.ParseUint(strings.TrimSpace(v), 0, 64)
			if err != nil {
				return Config{}, fmt.Errorf("%s=%q: want an unsigned 64-bit integer", k, v)
			}
			c.Seed = s
			continue
		}
		p, ok := ints[k]
		if !ok {
			return Config{}, fmt.Errorf("unknown setting %q: want one of %s, %s, %s, %s, %s",
				k, keyNHid, keyNHead, keyNLayers, keyWidth, keySeed)
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return Config{}, fmt.Errorf("%s=%q: want an integer", k, v)
		}
		*p = n
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
