package minerbench

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/minerbench/minerbench/minerbench/wallet"
)

// Synapse describes the queries of a synapse load: which synapse of a
// bittensor 6 and later axon to query, and with what.
//
// Every query of a run sends the same body. Only its nonce and signature
// change, as a real dendrite's do.
type Synapse struct {
	// Name is the synapse's class name, the route queried, such as Dummy.
	Name string
	// Body is the synapse's own fields as a JSON object, such as
	// {"dummy_input": 3}. Write a float field with a point (1.0): the axon
	// hashes it as Python prints it.
	Body string
	// HashFields are the synapse's required_hash_fields, in order; each
	// must be a field of Body.
	HashFields []string
	// Streaming reads each answer as a stream, as a StreamingSynapse's
	// dendrite does, and reports its chunks.
	Streaming bool
}

// defaultSynapse is the synapse load of the standard synapse benchmark when
// no flag says otherwise: the subnet template's Dummy.
var defaultSynapse = Synapse{Name: "Dummy", Body: `{"dummy_input": 3}`}

// StandardSynapse returns the synapse load the -mb.* flags set: the synapse
// of -mb.synapse (Dummy by default) with the body of -mb.body, queried by
// -mb.conc workers with -mb.delay or at -mb.rate.
func StandardSynapse() Load {
	c := configOrDefault()
	s := c.Synapse
	return Load{Synapse: &s, Conc: c.Conc, Delay: c.Delay, Rate: c.Rate}
}

// synapseName matches a synapse's class name: a Python identifier, which
// is also the URL path the axon routes.
var synapseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// check returns what is wrong with s, each problem naming the field (the
// flag's name without its prefix), the value and what is accepted.
func (s Synapse) check() []loadProblem {
	var ps []loadProblem
	if !synapseName.MatchString(s.Name) {
		ps = append(ps, loadProblem{"synapse", s.Name, "a synapse's class name, such as Dummy (letters, digits and _)"})
	}
	fields, err := bodyFields(s.Body)
	if err != nil {
		ps = append(ps, loadProblem{"body", s.Body, "the synapse's fields as a JSON object, such as {\"dummy_input\": 3} (" + err.Error() + ")"})
	}
	for _, f := range s.HashFields {
		if err == nil && !fields[f] {
			ps = append(ps, loadProblem{"hash-fields", strings.Join(s.HashFields, ","), "fields of the body (" + f + " is not one)"})
			break
		}
	}
	return ps
}

// bodyFields returns the names of the fields of body, a JSON object.
func bodyFields(body string) (map[string]bool, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(&fields); err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, errors.New("null is no object")
	}
	if dec.More() {
		return nil, errors.New("text after the object")
	}
	names := make(map[string]bool, len(fields))
	for k := range fields {
		names[k] = true
	}
	return names, nil
}

// checkSynapse returns what is wrong with the synapse flags and the
// validator's key flags.
func (c *config) checkSynapse() []error {
	var errs []error
	for _, p := range c.Synapse.check() {
		errs = append(errs, badFlag(p.field, p.value, p.want))
	}
	if c.AxonHotkey != "" {
		if _, err := wallet.ParsePublicKey(c.AxonHotkey); err != nil {
			errs = append(errs, badFlag("axon-hotkey", c.AxonHotkey, "the SS58 address of the axon's hotkey ("+err.Error()+")"))
		}
	}
	if isSynapseURL(c.Endpoint) && c.AxonHotkey == "" {
		errs = append(errs, fmt.Errorf("-%sendpoint=%s is a synapse axon: set -%saxon-hotkey to its SS58 hotkey (a synapse axon prints it when it starts), which every request's signature covers", flagPrefix, c.Endpoint, flagPrefix))
	}
	if c.HotkeyFile != "" && c.HotkeySeed != "" {
		errs = append(errs, fmt.Errorf("-%shotkey-file and -%shotkey-seed: want one of them, not both", flagPrefix, flagPrefix))
	}
	return errs
}

// validatorKey returns the hotkey the host's queries are signed with: that
// of -mb.hotkey-file or -mb.hotkey-seed, else the mock validator's. Its
// errors never repeat a secret.
func (c *config) validatorKey() (*wallet.Keypair, error) {
	switch {
	case c.HotkeyFile != "":
		key, err := wallet.LoadKeyfile(c.HotkeyFile)
		if err != nil {
			return nil, badFlag("hotkey-file", c.HotkeyFile, "an unencrypted bittensor hotkey file ("+err.Error()+")")
		}
		return key, nil
	case c.HotkeySeed != "":
		key, err := wallet.FromHexSeed(strings.TrimSpace(c.HotkeySeed))
		if err != nil {
			return nil, fmt.Errorf("-%shotkey-seed: want a 32-byte secret seed in hex, such as 0x followed by 64 hex digits (the value is not shown)", flagPrefix)
		}
		return key, nil
	}
	return wallet.Mock(validatorName), nil
}
