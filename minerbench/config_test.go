package minerbench

import (
	"bytes"
	"encoding/hex"
	"flag"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// closedPort returns a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())
	return addr
}

// parseFlags returns the default settings overridden by args, as Main parses
// them, with the results going to a temporary directory unless args say
// otherwise. Parse errors and the usage text go to out.
func parseFlags(t *testing.T, out *bytes.Buffer, args ...string) (config, error) {
	t.Helper()
	cfg := defaultConfig()
	cfg.Results = filepath.Join(t.TempDir(), "results")
	fs := flag.NewFlagSet("bench.test", flag.ContinueOnError)
	fs.SetOutput(out)
	cfg.registerFlags(fs)
	return cfg, fs.Parse(args)
}

// badSetting is a case of TestValidateRefusesBadSettings: flags, or the
// miners of a bench file, that validate refuses, and what its error says.
type badSetting struct {
	name  string
	args  []string
	specs []MinerSpec // nil: the good specs
	want  []string
}

// badSettings returns good specs, whose binaries are in a temporary
// directory, and the cases of TestValidateRefusesBadSettings.
func badSettings(t *testing.T) ([]MinerSpec, []badSetting) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "miner")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755))
	plain := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644))
	missing := filepath.Join(dir, "missing")
	closed := closedPort(t)
	specs := []MinerSpec{{Name: "template", Package: "./miners/template"}, {Name: "noop", Binary: exe}}
	withSpec := func(s MinerSpec) []MinerSpec { return []MinerSpec{specs[0], s} }

	tests := []badSetting{
		{"zero batch", []string{"-mb.batch=0"}, nil, []string{"-mb.batch=0: want an integer from 1 to 4096"}},
		{"negative batch", []string{"-mb.batch=-5"}, nil, []string{"-mb.batch=-5: want an integer from 1 to 4096"}},
		{"batch over the limit", []string{"-mb.batch=4097"}, nil, []string{"-mb.batch=4097: want an integer from 1 to 4096"}},
		{"answer over the message limit", []string{"-mb.batch=64", "-mb.block=512"}, nil,
			[]string{"-mb.batch=64: want batch × block (here × 512) at most 16384 tokens, so that an answer fits the message size limit"}},
		{"zero block", []string{"-mb.block=0"}, nil, []string{"-mb.block=0: want an integer from 1 to 4096"}},
		{"negative block", []string{"-mb.block=-1"}, nil, []string{"-mb.block=-1: want an integer from 1 to 4096"}},
		{"zero conc", []string{"-mb.conc=0"}, nil, []string{"-mb.conc=0: want an integer from 1 to 1024"}},
		{"negative conc", []string{"-mb.conc=-2"}, nil, []string{"-mb.conc=-2: want an integer from 1 to 1024"}},
		{"negative delay", []string{"-mb.delay=-1ms"}, nil, []string{"-mb.delay=-1ms: want a duration of 0 or more, such as 100ms"}},
		{"zero timeout", []string{"-mb.timeout=0s"}, nil, []string{"-mb.timeout=0s: want a positive duration, such as 12s"}},
		{"negative timeout", []string{"-mb.timeout=-1s"}, nil, []string{"-mb.timeout=-1s: want a positive duration, such as 12s"}},
		{"unknown compression", []string{"-mb.compression=br"}, nil, []string{`-mb.compression=br: want "gzip", "deflate" or "" (none)`}},
		{"zero blocktime", []string{"-mb.blocktime=0s"}, nil, []string{"-mb.blocktime=0s: want a positive duration, such as 50ms or 12s"}},
		{"zero start timeout", []string{"-mb.start-timeout=0s"}, nil, []string{"-mb.start-timeout=0s: want a positive duration, such as 20m"}},
		{"zero launch timeout", []string{"-mb.launch-timeout=0s"}, nil, []string{"-mb.launch-timeout=0s: want a positive duration, such as 1m"}},
		{"negative launch timeout", []string{"-mb.launch-timeout=-5s"}, nil, []string{"-mb.launch-timeout=-5s: want a positive duration, such as 1m"}},
		{"negative start timeout", []string{"-mb.start-timeout=-1m"}, nil, []string{"-mb.start-timeout=-1m0s: want a positive duration, such as 20m"}},
		{"unknown miner", []string{"-mb.miners=template,nosuch"}, nil,
			[]string{"-mb.miners=template,nosuch: want names from: template, noop (unknown: nosuch)"}},
		{"set for an unknown miner", []string{"-mb.set=nosuch:nucleus.nhid=600"}, nil,
			[]string{"-mb.set=nosuch:nucleus.nhid=600: want [miner:]key=value with a miner name from: template, noop"}},
		{"wallet name with a slash", []string{"-mb.set=wallet.name=a/b"}, nil,
			[]string{`-mb.set=wallet.name=a/b: want a wallet.name that can name a directory of the results (not empty, . or .., no / or \)`}},
		{"network up a directory", []string{"-mb.set=noop:subtensor.network=.."}, nil,
			[]string{`-mb.set=noop:subtensor.network=..: want a subtensor.network that can name a directory of the results`}},
		{"empty wallet name in a spec", nil, withSpec(MinerSpec{Name: "noop", Binary: exe, Settings: map[string]string{"wallet.name": ""}}),
			[]string{`miner "noop": MinerSpec.Settings wallet.name="": want a wallet.name that can name a directory of the results`}},
		{"endpoint without port", []string{"-mb.endpoint=127.0.0.1"}, nil,
			[]string{"-mb.endpoint=127.0.0.1: want host:port of a running 2.0.x axon, or http://host:port of a synapse axon (address 127.0.0.1: missing port in address)"}},
		{"endpoint without host", []string{"-mb.endpoint=:8091"}, nil, []string{"-mb.endpoint=:8091: want host:port of a running 2.0.x axon, or http://host:port of a synapse axon (empty host)"}},
		{"endpoint port out of range", []string{"-mb.endpoint=127.0.0.1:70000"}, nil,
			[]string{`-mb.endpoint=127.0.0.1:70000: want host:port of a running 2.0.x axon, or http://host:port of a synapse axon (port "70000" is not 1 to 65535)`}},
		{"unreachable endpoint", []string{"-mb.endpoint=" + closed}, nil,
			[]string{"-mb.endpoint=" + closed + ": want host:port of a running 2.0.x axon, or http://host:port of a synapse axon (unreachable: ", "connection refused"}},
		{"endpoint with another scheme", []string{"-mb.endpoint=https://127.0.0.1:8091", "-mb.axon-hotkey=" + aliceSS58}, nil,
			[]string{"-mb.endpoint=https://127.0.0.1:8091: want host:port of a running 2.0.x axon, or http://host:port of a synapse axon (the only URL scheme is http)"}},
		{"synapse endpoint without its hotkey", []string{"-mb.endpoint=http://" + closed}, nil,
			[]string{"-mb.endpoint=http://" + closed + " is a synapse axon: set -mb.axon-hotkey to its SS58 hotkey"}},
		{"unreachable synapse endpoint", []string{"-mb.endpoint=http://" + closed, "-mb.axon-hotkey=" + aliceSS58}, nil,
			[]string{"-mb.endpoint=http://" + closed + ": want host:port of a running 2.0.x axon, or http://host:port of a synapse axon (unreachable: ", "connection refused"}},
		{"axon hotkey not SS58", []string{"-mb.axon-hotkey=5Grw"}, nil, []string{"-mb.axon-hotkey=5Grw: want the SS58 address of the axon's hotkey ("}},
		{"synapse name with a slash", []string{"-mb.synapse=a/b"}, nil,
			[]string{"-mb.synapse=a/b: want a synapse's class name, such as Dummy (letters, digits and _)"}},
		{"body not JSON", []string{"-mb.body={dummy_input: 3}"}, nil,
			[]string{`-mb.body={dummy_input: 3}: want the synapse's fields as a JSON object, such as {"dummy_input": 3} (`}},
		{"body an array", []string{"-mb.body=[1]"}, nil, []string{"-mb.body=[1]: want the synapse's fields as a JSON object"}},
		{"body with text after it", []string{`-mb.body={"a": 1} x`}, nil, []string{`-mb.body={"a": 1} x: want the synapse's fields as a JSON object, such as {"dummy_input": 3} (text after the object)`}},
		{"hash field not in the body", []string{"-mb.hash-fields=text"}, nil,
			[]string{"-mb.hash-fields=text: want fields of the body (text is not one)"}},
		{"missing hotkey file", []string{"-mb.hotkey-file=" + missing}, nil,
			[]string{"-mb.hotkey-file=" + missing + ": want an unencrypted bittensor hotkey file ("}},
		{"bad hotkey seed", []string{"-mb.hotkey-seed=0x1234"}, nil,
			[]string{"-mb.hotkey-seed: want a 32-byte secret seed in hex, such as 0x followed by 64 hex digits (the value is not shown)"}},
		{"both hotkey file and seed", []string{"-mb.hotkey-file=" + missing, "-mb.hotkey-seed=0x00"}, nil,
			[]string{"-mb.hotkey-file and -mb.hotkey-seed: want one of them, not both"}},
		{"unwritable results", []string{"-mb.results=" + exe + "/results"}, nil,
			[]string{"-mb.results=" + exe + "/results: want a directory that can be created and written (", "not a directory"}},
		{"empty results", []string{"-mb.results="}, nil, []string{"-mb.results=: want a directory that can be created and written (empty path)"}},
		{"every problem at once", []string{"-mb.batch=0", "-mb.conc=0", "-mb.timeout=0s"}, nil,
			[]string{"-mb.batch=0: want", "-mb.conc=0: want", "-mb.timeout=0s: want"}},
		{"missing binary", nil, withSpec(MinerSpec{Name: "noop", Binary: missing}),
			[]string{`miner "noop": MinerSpec.Binary "` + missing + `": want an executable file (`, "no such file or directory"}},
		{"binary is a directory", nil, withSpec(MinerSpec{Name: "noop", Binary: dir}),
			[]string{`miner "noop": MinerSpec.Binary "` + dir + `": want an executable file (d--------- is not a regular file)`}},
		{"neither package nor binary", nil, withSpec(MinerSpec{Name: "noop"}),
			[]string{`miner "noop": Package "", Binary "": want exactly one of Package and Binary`}},
		{"both package and binary", nil, withSpec(MinerSpec{Name: "noop", Package: "./miners/noop", Binary: exe}),
			[]string{`miner "noop": Package "./miners/noop", Binary "` + exe + `": want exactly one of Package and Binary`}},
		{"bad miner name", nil, withSpec(MinerSpec{Name: "no op", Binary: exe}), []string{`miner name "no op": want letters, digits, '-' or '_'`}},
		{"miner named twice", nil, withSpec(MinerSpec{Name: "template", Binary: exe}), []string{`miner "template" is named twice; want distinct names`}},
	}
	if runtime.GOOS != "windows" {
		tests = append(tests, badSetting{"binary not executable", nil, withSpec(MinerSpec{Name: "noop", Binary: plain}),
			[]string{`miner "noop": MinerSpec.Binary "` + plain + `": want an executable file (mode -rw-r--r-- has no execute permission)`}})
	}
	return specs, tests
}

// TestValidateRefusesBadSettings feeds every setting, and every field of a
// MinerSpec, a bad value: validate, which Main runs before it starts
// anything, refuses each with a message naming the flag (or the miner and
// field), the value and what is accepted.
func TestValidateRefusesBadSettings(t *testing.T) {
	specs, tests := badSettings(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			cfg, err := parseFlags(t, &out, tt.args...)
			require.NoError(t, err)
			s := tt.specs
			if s == nil {
				s = specs
			}
			err = validate(cfg, s, true)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}

	t.Run("good settings", func(t *testing.T) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer lis.Close()
		var out bytes.Buffer
		cfg, err := parseFlags(t, &out, "-mb.batch=4096", "-mb.block=1", "-mb.conc=1024", "-mb.delay=0s", "-mb.timeout=1ms",
			"-mb.blocktime=1ms", "-mb.launch-timeout=1s", "-mb.start-timeout=1s", "-mb.log-limit=1MiB", "-mb.miners=noop", "-mb.set=template:nucleus.nhid=600", "-mb.set=axon.workers=2",
			"-mb.endpoint="+lis.Addr().String())
		require.NoError(t, err)
		assert.NoError(t, validate(cfg, specs, true))
		assert.DirExists(t, cfg.Results)
	})
}

// TestLogLimitFlag checks the sizes -mb.log-limit reads, and how its
// default is shown.
func TestLogLimitFlag(t *testing.T) {
	for arg, want := range map[string]int64{"0": 0, "512": 512, "100B": 100, "64KiB": 64 << 10, " 8MiB": 8 << 20, "2GiB": 2 << 30} {
		var out bytes.Buffer
		cfg, err := parseFlags(t, &out, "-mb.log-limit="+arg)
		require.NoError(t, err, arg)
		assert.Equal(t, want, cfg.LogLimit, arg)
	}
	var out bytes.Buffer
	fs := flag.NewFlagSet("bench.test", flag.ContinueOnError)
	fs.SetOutput(&out)
	cfg := defaultConfig()
	cfg.registerFlags(fs)
	fs.PrintDefaults()
	assert.Contains(t, out.String(), "(default 8MiB)")
	assert.Equal(t, "1536KiB", (*byteSize)(ptr(int64(1536<<10))).String())
	assert.Equal(t, "1000B", (*byteSize)(ptr(int64(1000))).String())
}

func ptr[T any](v T) *T { return &v }

// TestFlagsRefuseMalformedValues checks the values refused while the flags
// are parsed: the error names the flag and the value, and what is accepted
// is in the error or in the usage text printed with it.
func TestFlagsRefuseMalformedValues(t *testing.T) {
	tests := []struct {
		arg  string
		want []string
	}{
		{"-mb.set=nucleus.nhid", []string{`invalid value "nucleus.nhid" for flag -mb.set: setting "nucleus.nhid": want key=value with a dotted key, such as nucleus.nhid=600`}},
		{"-mb.set==600", []string{`invalid value "=600" for flag -mb.set: setting "=600": want key=value`}},
		{"-mb.set=template:=600", []string{`invalid value "template:=600" for flag -mb.set: setting "=600": want key=value`}},
		{"-mb.set=template:nucleus nhid=600", []string{`invalid value "template:nucleus nhid=600" for flag -mb.set`, "want key=value with a dotted key"}},
		{"-mb.batch=ten", []string{`invalid value "ten" for flag -mb.batch`, "batch size of the standard benchmark's queries (1 to 4096)"}},
		{"-mb.conc=1.5", []string{`invalid value "1.5" for flag -mb.conc`, "(1 to 1024)"}},
		{"-mb.timeout=12", []string{`invalid value "12" for flag -mb.timeout`, "per-query timeout"}},
		{"-mb.restart=maybe", []string{`invalid boolean value "maybe" for -mb.restart`}},
		{"-mb.launch-timeout=60", []string{`invalid value "60" for flag -mb.launch-timeout`, "go-plugin's handshake"}},
	}
	sizeWant := "want a whole number of bytes with an optional unit B, KiB, MiB or GiB, such as 8MiB, or 0 for no limit"
	for _, bad := range []string{"8MB", "-1", "1.5MiB", "MiB", "", "9999999999GiB"} {
		tests = append(tests, struct {
			arg  string
			want []string
		}{"-mb.log-limit=" + bad, []string{`invalid value "` + bad + `" for flag -mb.log-limit: ` + sizeWant}})
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			var out bytes.Buffer
			_, err := parseFlags(t, &out, tt.arg)
			require.Error(t, err)
			shown := err.Error() + "\n" + out.String()
			for _, w := range tt.want {
				assert.Contains(t, shown, w)
			}
		})
	}
}

// TestCheckOverridesRefusesUnknownKeys checks the refusal of a -mb.set key
// no started miner has, once the miners have told their settings: named or
// not, it names the flag and what is accepted, and it is a usage error (exit
// status 2, as for a bad flag).
func TestCheckOverridesRefusesUnknownKeys(t *testing.T) {
	template := &Target{Name: "template", defaults: miner.Settings{"nucleus.nhid": "200", "axon.workers": "0"}}
	noop := &Target{Name: "noop", defaults: miner.Settings{"axon.workers": "0"}}
	failed := &Target{Name: "failed"} // did not start: its settings are unknown
	miners := []*Target{template, noop, failed}
	tests := []struct {
		name    string
		set     map[string]miner.Settings
		wantErr []string
	}{
		{name: "named, known", set: map[string]miner.Settings{"template": {"nucleus.nhid": "400"}}},
		{name: "unnamed, known to one", set: map[string]miner.Settings{"": {"nucleus.nhid": "400"}}},
		{name: "named, of a miner that did not start", set: map[string]miner.Settings{"failed": {"x.y": "1"}}},
		{name: "named, unknown", set: map[string]miner.Settings{"template": {"nucleus.nhidd": "400"}},
			wantErr: []string{"-mb.set=template:nucleus.nhidd=400: want a setting miner template has: axon.workers, nucleus.nhid"}},
		{name: "named, known to another miner", set: map[string]miner.Settings{"noop": {"nucleus.nhid": "400"}},
			wantErr: []string{"-mb.set=noop:nucleus.nhid=400: want a setting miner noop has: axon.workers"}},
		{name: "unnamed, unknown", set: map[string]miner.Settings{"": {"nucleus.nhidd": "400"}},
			wantErr: []string{"-mb.set=nucleus.nhidd=400: want a setting one of the started miners has"}},
		{name: "all at once", set: map[string]miner.Settings{"": {"a.b": "1"}, "template": {"c.d": "2"}, "noop": {"e.f": "3"}},
			wantErr: []string{"-mb.set=a.b=1", "-mb.set=template:c.d=2", "-mb.set=noop:e.f=3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkOverrides(tt.set, miners)
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorAs(t, err, new(usageError))
			for _, w := range tt.wantErr {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestOptionalMiners checks that a miner marked Optional is left out of a run
// that does not name it, and is run, and accepted by -mb.miners and -mb.set,
// when named.
func TestOptionalMiners(t *testing.T) {
	specs := []MinerSpec{
		{Name: "template", Package: "./miners/template"},
		{Name: "noop", Package: "./miners/noop"},
		{Name: "flaky", Package: "./miners/flaky", Optional: true},
	}
	assert.Equal(t, []string{"template", "noop"}, specNames(selected(specs, nil)), "the default run")
	assert.Equal(t, []string{"flaky"}, specNames(selected(specs, []string{"flaky"})))
	assert.Equal(t, []string{"noop", "flaky"}, specNames(selected(specs, []string{"flaky", "noop"})), "the bench file's order")

	var out bytes.Buffer
	cfg, err := parseFlags(t, &out, "-mb.miners=flaky", "-mb.set=flaky:flaky.every=4")
	require.NoError(t, err)
	assert.NoError(t, validate(cfg, specs, false))
}

// TestValidatorWalletIsTheRuntimeDefault ties the host's wallet name to the
// runtime's default, which the miners' results directories are named by.
func TestValidatorWalletIsTheRuntimeDefault(t *testing.T) {
	assert.Equal(t, miner.RuntimeDefaults()[miner.KeyWalletName], validatorWallet)
}

// aliceSS58 is the SS58 address of Substrate's well-known //Alice key.
const aliceSS58 = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"

// TestValidatorKeyNeverShowsTheSeed: a seed that does not parse is
// refused without its value, which is a secret.
func TestValidatorKeyNeverShowsTheSeed(t *testing.T) {
	secret := "0x" + strings.Repeat("ab", 31) + "zz"
	var out bytes.Buffer
	cfg, err := parseFlags(t, &out, "-mb.hotkey-seed="+secret)
	require.NoError(t, err)
	err = validate(cfg, []MinerSpec{{Name: "noop", Package: "./miners/noop"}}, true)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), strings.Repeat("ab", 31))
}

// TestValidatorKeySources: the queries are signed with the hotkey of
// -mb.hotkey-file or -mb.hotkey-seed, else the mock validator's.
func TestValidatorKeySources(t *testing.T) {
	var out bytes.Buffer
	cfg, err := parseFlags(t, &out)
	require.NoError(t, err)
	key, err := cfg.validatorKey()
	require.NoError(t, err)
	assert.Equal(t, wallet.Mock(validatorName).SS58(), key.SS58())

	cfg, err = parseFlags(t, &out, "-mb.hotkey-file=wallet/testdata/alice-hotkey.json")
	require.NoError(t, err)
	key, err = cfg.validatorKey()
	require.NoError(t, err)
	assert.Equal(t, aliceSS58, key.SS58())

	seed := wallet.MockSeed("validator-seed")
	cfg, err = parseFlags(t, &out, "-mb.hotkey-seed=0x"+hex.EncodeToString(seed[:]))
	require.NoError(t, err)
	key, err = cfg.validatorKey()
	require.NoError(t, err)
	want, err := wallet.FromSeed(seed)
	require.NoError(t, err)
	assert.Equal(t, want.SS58(), key.SS58())
}
