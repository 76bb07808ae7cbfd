package httpaxon

// Temporary stand-ins for minerbench/synapse, replaced when it is merged.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/sha3"

	"github.com/minerbench/minerbench/minerbench/wallet"
)

type Header struct {
	Name, AxonIP, AxonHotkey                                    string
	AxonPort                                                    *int64
	Timeout                                                     *float64
	DendriteIP, DendriteUUID, DendriteHotkey, DendriteSignature string
	DendriteVersion, DendriteNonce                              *int64
	HeaderSize, TotalSize                                       int64
	BodyHash                                                    string
}

func parseHeader(r http.Header, name string, inputs []Input) (*Header, error) {
	get := func(k string) string { return r.Get(k) }
	h := &Header{Name: name, AxonIP: get("bt_header_axon_ip"), AxonHotkey: get("bt_header_axon_hotkey"),
		DendriteIP: get("bt_header_dendrite_ip"), DendriteUUID: get("bt_header_dendrite_uuid"),
		DendriteHotkey: get("bt_header_dendrite_hotkey"), DendriteSignature: get("bt_header_dendrite_signature"),
		BodyHash: get("computed_body_hash")}
	ints := []struct {
		k  string
		to **int64
	}{{"bt_header_axon_port", &h.AxonPort}, {"bt_header_dendrite_version", &h.DendriteVersion}, {"bt_header_dendrite_nonce", &h.DendriteNonce}}
	for _, f := range ints {
		if v := get(f.k); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s %q", f.k, v)
			}
			*f.to = &n
		}
	}
	if v := get("timeout"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("timeout %q", v)
		}
		h.Timeout = &f
	}
	for _, in := range inputs {
		if get("bt_header_input_obj_"+in.Field) == "" {
			return nil, fmt.Errorf("missing input %s", in.Field)
		}
	}
	return h, nil
}

func sha3Hex(s string) string {
	sum := sha3.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func bodyHash(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(sha3Hex(p))
	}
	return sha3Hex(b.String())
}

func pythonStr(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case bool:
		if v {
			return "True", nil
		}
		return "False", nil
	case float64:
		return pyFloat(v), nil
	}
	return "", fmt.Errorf("type %T", v)
}

func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func signedMessage(nonce int64, dendrite, axon, uuid, hash string) string {
	return fmt.Sprintf("%d.%s.%s.%s.%s", nonce, dendrite, axon, uuid, hash)
}

type nonceChecker struct {
	mu   sync.Mutex
	last map[string]int64
}

var errTooOld = errors.New("Nonce is too old, a newer one was last processed")

func (n *nonceChecker) check(h *Header, now int64) error {
	if h.DendriteNonce == nil {
		return errors.New("Missing Nonce")
	}
	key := h.DendriteHotkey + ":" + h.DendriteUUID
	n.mu.Lock()
	defer n.mu.Unlock()
	last, ok := n.last[key]
	if ok && *h.DendriteNonce <= last {
		return errTooOld
	}
	timeout := 0.0
	if h.Timeout != nil {
		timeout = *h.Timeout
	}
	if !ok && h.DendriteVersion != nil && *h.DendriteVersion >= 7002000 {
		window := now - 4_000_000_000 - int64(timeout*1e9)
		if *h.DendriteNonce <= window {
			return fmt.Errorf("Nonce is too old: acceptable delta is %.2f seconds but request was %.2f seconds old", (4e9+timeout*1e9)/1e9, float64(now-*h.DendriteNonce)/1e9)
		}
	}
	return nil
}

func (n *nonceChecker) commit(h *Header) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.last == nil {
		n.last = map[string]int64{}
	}
	n.last[h.DendriteHotkey+":"+h.DendriteUUID] = *h.DendriteNonce
}

const Version = 10002000

func verifySignature(key *wallet.PublicKey, msg, sig string) bool {
	if !strings.HasPrefix(sig, "0x") {
		return false
	}
	raw, err := hex.DecodeString(sig[2:])
	if err != nil {
		return false
	}
	return key.Verify([]byte(msg), raw)
}
