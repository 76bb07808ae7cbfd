package wallet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxKeyfileSize bounds the size of a keyfile LoadKeyfile reads; a real
// one is about 500 bytes.
const maxKeyfileSize = 64 << 10

// encryptedMarkers start the encrypted keyfiles bittensor writes: NaCl
// secretbox, Ansible Vault, and the legacy Fernet token.
var encryptedMarkers = []struct{ prefix, kind string }{
	{"$NACL", "NaCl"},
	{"$ANSIBLE_VAULT", "Ansible Vault"},
	{"gAAAAA", "legacy Fernet"},
}

// keyfile holds the fields of a bittensor keyfile that LoadKeyfile reads.
type keyfile struct {
	SecretSeed  *string `json:"secretSeed"`
	SS58Address *string `json:"ss58Address"`
	PublicKey   *string `json:"publicKey"`
	AccountID   *string `json:"accountId"`
}

// LoadKeyfile reads the key pair of a bittensor wallet keyfile: the
// unencrypted JSON bittensor writes for a hotkey, e.g.
// ~/.bittensor/wallets/<wallet>/hotkeys/<hotkey>. It derives the keys from
// "secretSeed" and checks them against "ss58Address", "publicKey" and
// "accountId" where present.
//
// It refuses encrypted files (a coldkey is encrypted by default; a hotkey
// is not) and malformed ones with errors that name the file and the field
// but never repeat a secret.
func LoadKeyfile(path string) (*Keypair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("wallet: keyfile: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("wallet: keyfile %s: %w", path, err)
	}
	if len(data) > maxKeyfileSize {
		return nil, fmt.Errorf("wallet: keyfile %s is over %d bytes; want the small JSON file bittensor writes for a hotkey", path, maxKeyfileSize)
	}
	kp, err := ParseKeyfile(data)
	if err != nil {
		return nil, fmt.Errorf("wallet: keyfile %s: %w", path, err)
	}
	return kp, nil
}

// ParseKeyfile is LoadKeyfile for the contents of a keyfile.
func ParseKeyfile(data []byte) (*Keypair, error) {
	trimmed := bytes.TrimSpace(data)
	for _, m := range encryptedMarkers {
		if bytes.HasPrefix(trimmed, []byte(m.prefix)) {
			return nil, fmt.Errorf("encrypted (%s); want an unencrypted hotkey keyfile, the JSON bittensor writes for a hotkey unless told to encrypt it", m.kind)
		}
	}
	var kf keyfile
	if err := json.Unmarshal(trimmed, &kf); err != nil {
		return nil, fmt.Errorf("not a JSON object (%s); want the unencrypted JSON bittensor writes for a hotkey, with secretSeed and ss58Address", jsonProblem(err))
	}
	if kf.SecretSeed == nil || *kf.SecretSeed == "" {
		return nil, errors.New(`no "secretSeed"; want the unencrypted JSON bittensor writes for a hotkey, with "secretSeed": "0x" and 64 hex digits`)
	}
	seed := *kf.SecretSeed
	if !strings.HasPrefix(seed, "0x") {
		seed = "0x" + seed // written without the prefix by some versions
	}
	kp, err := FromHexSeed(seed)
	if err != nil {
		return nil, fmt.Errorf(`"secretSeed": %w`, err)
	}
	if kf.SS58Address != nil && *kf.SS58Address != kp.SS58() {
		return nil, fmt.Errorf(`"ss58Address" is %q but "secretSeed" gives %s; want a keyfile whose fields agree`, *kf.SS58Address, kp.SS58())
	}
	pub := kp.PublicKey()
	for _, f := range []struct {
		name  string
		value *string
	}{{"publicKey", kf.PublicKey}, {"accountId", kf.AccountID}} {
		if f.value == nil {
			continue
		}
		got, err := hex.DecodeString(strings.TrimPrefix(*f.value, "0x"))
		if err != nil || !bytes.Equal(got, pub[:]) {
			return nil, fmt.Errorf(`%q is %q but "secretSeed" gives 0x%x; want a keyfile whose fields agree`, f.name, *f.value, pub)
		}
	}
	return kp, nil
}

// jsonProblem describes a JSON decoding error by its position and kind,
// without the text around it, which may be secret.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("a JSON %s, not an object", typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q holds a JSON %s, not a string", typ.Field, typ.Value)
	}
	return "invalid JSON"
}
