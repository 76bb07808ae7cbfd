package httpaxon

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/httpdendrite"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// TestHTTPDendrite queries the axon with the repository's HTTP synapse
// client, which records outcomes as a Python dendrite does: Echo and
// Dummy succeed, query after query, and a synapse the axon does not serve
// is recorded 404.
func TestHTTPDendrite(t *testing.T) {
	s := serve(t, Config{})
	for _, tt := range []struct {
		synapse, body string
		hash          []string
		want          int
	}{
		{"Echo", `{"text": "hello"}`, []string{"text"}, 200},
		{"Dummy", `{"dummy_input": 4}`, nil, 200},
		{"Nope", `{}`, nil, 404},
	} {
		c, err := httpdendrite.New(httpdendrite.Config{
			URL: "http://" + s.addr, AxonHotkey: s.key.SS58(), Synapse: tt.synapse,
			Body: []byte(tt.body), HashFields: tt.hash, Key: wallet.Mock("dendrite"),
		})
		require.NoError(t, err)
		for range 3 {
			r := c.Query(t.Context())
			assert.Equal(t, tt.want, r.Code, "%s: %s", tt.synapse, r.Message)
			if tt.want == 200 {
				assert.True(t, r.ProcessTime.OK, "the axon's process time is read")
			}
		}
	}
}
