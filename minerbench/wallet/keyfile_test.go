package wallet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testdata/alice-hotkey.json is the unencrypted keyfile bittensor writes
// for a hotkey, made for //Alice's published seed.
func TestLoadKeyfile(t *testing.T) {
	kp, err := LoadKeyfile(filepath.Join("testdata", "alice-hotkey.json"))
	require.NoError(t, err)
	assert.Equal(t, aliceSS58, kp.SS58())
	assert.Equal(t, mustRaw(t, alicePublic), kp.PublicKey())
}

func TestParseKeyfileForms(t *testing.T) {
	for _, data := range []string{
		`{"secretSeed": "` + aliceSeed + `"}`,
		`{"secretSeed": "` + aliceSeed[2:] + `", "ss58Address": "` + aliceSS58 + `"}`,
		`{"secretSeed": "` + aliceSeed + `", "publicKey": "` + alicePublic + `", "secretPhrase": null, "privateKey": "0x00"}`,
		"\n " + `{"secretSeed": "` + aliceSeed + `"}` + "\n",
	} {
		kp, err := ParseKeyfile([]byte(data))
		require.NoError(t, err, data)
		assert.Equal(t, aliceSS58, kp.SS58())
	}
}

// TestParseKeyfileRefuses: each refusal says what is wrong, and none
// repeats the seed.
func TestParseKeyfileRefuses(t *testing.T) {
	for data, want := range map[string]string{
		"$NACL\x01\x02":                        "encrypted (NaCl)",
		"$ANSIBLE_VAULT;1.1;AES256\n6338":      "encrypted (Ansible Vault)",
		"gAAAAABk" + aliceSeed:                 "encrypted (legacy Fernet)",
		`{"secretSeed": "` + aliceSeed:         "not a JSON object (invalid JSON at byte",
		`[1]`:                                  "not a JSON object (a JSON array, not an object)",
		`{"secretSeed": 5}`:                    `field "secretSeed" holds a JSON number`,
		`{"ss58Address": "` + aliceSS58 + `"}`: `no "secretSeed"`,
		`{"secretSeed": ""}`:                   `no "secretSeed"`,
		`{"secretSeed": "0x12"}`:               `"secretSeed": wallet: hex seed has 2 hex digits`,
		`{"secretSeed": "` + aliceSeed + `", "ss58Address": "` + bobSS58 + `"}`:   `"ss58Address" is "` + bobSS58 + `" but "secretSeed" gives ` + aliceSS58,
		`{"secretSeed": "` + aliceSeed + `", "publicKey": "0x` + bobPublic + `"}`: `"publicKey" is "0x` + bobPublic + `"`,
		`{"secretSeed": "` + aliceSeed + `", "accountId": "zz"}`:                  `"accountId" is "zz"`,
	} {
		_, err := ParseKeyfile([]byte(data))
		require.Error(t, err, data)
		assert.Contains(t, err.Error(), want)
		assert.NotContains(t, err.Error(), aliceSeed[2:], "the seed must not be repeated")
	}
}

func TestLoadKeyfileRefuses(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadKeyfile(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	big := filepath.Join(dir, "big")
	require.NoError(t, os.WriteFile(big, []byte(strings.Repeat(" ", maxKeyfileSize+1)), 0o600))
	_, err = LoadKeyfile(big)
	assert.ErrorContains(t, err, "keyfile "+big+" is over 65536 bytes")

	enc := filepath.Join(dir, "coldkey")
	require.NoError(t, os.WriteFile(enc, []byte("$NACL..."), 0o600))
	_, err = LoadKeyfile(enc)
	assert.ErrorContains(t, err, "keyfile "+enc+": encrypted (NaCl)")
}
