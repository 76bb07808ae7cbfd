package synapse

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Header names, lowercase as bittensor writes them, in the order a
// dendrite sends them.
const (
	// HeaderName holds the synapse's class name.
	HeaderName = "name"
	// HeaderTimeout holds the client's timeout in seconds, str(float).
	HeaderTimeout = "timeout"
	// HeaderAxonIP, HeaderAxonPort and HeaderAxonHotkey name the target.
	HeaderAxonIP     = "bt_header_axon_ip"
	HeaderAxonPort   = "bt_header_axon_port"
	HeaderAxonHotkey = "bt_header_axon_hotkey"
	// HeaderDendriteIP holds the client's IP, free text.
	HeaderDendriteIP = "bt_header_dendrite_ip"
	// HeaderDendriteVersion holds the client's version as an integer.
	HeaderDendriteVersion = "bt_header_dendrite_version"
	// HeaderDendriteNonce holds the nonce, ns since the epoch.
	HeaderDendriteNonce = "bt_header_dendrite_nonce"
	// HeaderDendriteUUID holds the client object's uuid.
	HeaderDendriteUUID = "bt_header_dendrite_uuid"
	// HeaderDendriteHotkey holds the client's SS58 hotkey.
	HeaderDendriteHotkey = "bt_header_dendrite_hotkey"
	// HeaderDendriteSig holds the signature, "0x" and 128 hex digits.
	HeaderDendriteSig = "bt_header_dendrite_signature"
	// HeaderHeaderSize and HeaderTotalSize hold free integers.
	HeaderHeaderSize = "header_size"
	HeaderTotalSize  = "total_size"
	// HeaderBodyHash holds the body hash in hex.
	HeaderBodyHash = "computed_body_hash"

	// HeaderAxonStatusCode, HeaderAxonStatusMessage and
	// HeaderAxonProcessTime carry an axon's answer.
	HeaderAxonStatusCode    = "bt_header_axon_status_code"
	HeaderAxonStatusMessage = "bt_header_axon_status_message"
	HeaderAxonProcessTime   = "bt_header_axon_process_time"

	// PrefixAxon, PrefixDendrite and PrefixInputObj start the names of
	// the axon's and dendrite's terminal fields and of the input objects.
	PrefixAxon     = "bt_header_axon_"
	PrefixDendrite = "bt_header_dendrite_"
	PrefixInputObj = "bt_header_input_obj_"
)

// Opt is a value Python may hold as None: OK is false for None.
type Opt[T any] struct {
	V  T    // the value, when OK
	OK bool // false for None
}

// Some returns a present Opt holding v.
func Some[T any](v T) Opt[T] { return Opt[T]{V: v, OK: true} }

// Terminal is a TerminalInfo as headers carry it: the bt_header_axon_* or
// bt_header_dendrite_* values, each None when its header is absent.
type Terminal struct {
	StatusCode    Opt[int64]
	StatusMessage Opt[string]
	ProcessTime   Opt[float64]
	IP            Opt[string]
	Port          Opt[int64]
	Version       Opt[int64]
	Nonce         Opt[int64]
	UUID          Opt[string]
	Hotkey        Opt[string]
	Signature     Opt[string]
}

// Request is what a Python axon's Synapse.from_headers makes of a
// request's headers (the "header synapse").
type Request struct {
	Timeout    Opt[float64] // seconds
	HeaderSize Opt[int64]
	TotalSize  Opt[int64]
	// BodyHash is computed_body_hash as sent, not checked here.
	BodyHash Opt[string]
	Dendrite Terminal // the bt_header_dendrite_* values
	Axon     Terminal // the bt_header_axon_* values
}

// Kind is the Python type of a synapse field, as far as headers care.
type Kind uint8

// The kinds of field.
const (
	KindStr   Kind = iota // str
	KindInt               // int
	KindFloat             // float
	KindBool              // bool
	KindList              // list
	KindDict              // a dict or a nested model
)

var kindNames = [...]string{"str", "int", "float", "bool", "list", "dict"}

// String returns the Python name of k.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// emptyInputObj holds base64(json.dumps(type()())) for each Kind.
var emptyInputObj = [...]string{"IiI=", "MA==", "MC4w", "ZmFsc2U=", "W10=", "e30="}

// InputObj returns the bt_header_input_obj_<field> value a dendrite sends
// for a required field of kind k: base64 of the JSON of an empty value of
// that type ("" → IiI=, 0 → MA==, 0.0 → MC4w, false → ZmFsc2U=,
// [] → W10=, {} → e30=).
func (k Kind) InputObj() string { return emptyInputObj[k] }

// KindOf returns the kind of the JSON value v as json.loads types it: a
// number with a fraction or exponent is a float. It fails for null,
// whose type Python cannot call to make an empty value.
func KindOf(v []byte) (Kind, error) {
	v = []byte(strings.TrimLeft(string(v), " \t\r\n"))
	if len(v) == 0 {
		return 0, fmt.Errorf("synapse: empty JSON value; want a string, number, boolean, array or object")
	}
	switch v[0] {
	case '"':
		return KindStr, nil
	case 't', 'f':
		return KindBool, nil
	case '[':
		return KindList, nil
	case '{':
		return KindDict, nil
	case 'n':
		return 0, fmt.Errorf("synapse: JSON null has no empty value; want a string, number, boolean, array or object")
	}
	for _, c := range v {
		if c == '.' || c == 'e' || c == 'E' || c == 'N' || c == 'I' {
			return KindFloat, nil
		}
		if c == ',' || c == '}' || c == ']' || c == ' ' {
			break
		}
	}
	return KindInt, nil
}

// Field describes one field of a synapse subclass.
type Field struct {
	Name string // as declared; Python compares it with lowercased header names
	Kind Kind
	// Required is true for a field without a default, for which a
	// dendrite must send a bt_header_input_obj_ header.
	Required bool
}

// ParseError is a request or response header that a Python peer's
// Synapse.from_headers refuses. An axon answers it with 500.
type ParseError struct {
	Header string // the header's name, lowercase
	Value  string // its value ("" when missing)
	Reason string // what is wrong, and what is accepted
}

// Error returns the message of e.
func (e *ParseError) Error() string {
	return fmt.Sprintf("synapse: header %s: %q is %s", e.Header, e.Value, e.Reason)
}

// reserved are the Synapse fields an input object cannot set.
var reserved = map[string]bool{"axon": true, "dendrite": true, "name": true, "timeout": true,
	"header_size": true, "total_size": true, "computed_body_hash": true}

// ParseRequest reads a request's headers as a Python axon's
// Synapse.from_headers does for a synapse with the given fields. Names
// are matched without regard to case. It refuses what from_headers
// refuses: a terminal field or timeout, header_size or total_size that
// Python's int() or float() rejects, and a required field without a
// usable input object; an input object of an optional field that decodes
// to a value of the wrong type is refused too, one that does not decode
// is ignored. Every error is a *ParseError.
func ParseRequest(h http.Header, fields []Field) (Request, error) {
	var r Request
	var seenArr [64]bool
	seen := seenArr[:0] // fields with a usable input object, by index
	if len(fields) > len(seenArr) {
		seen = make([]bool, 0, len(fields))
	}
	seen = seen[:len(fields)]
	for key, values := range h {
		if len(values) == 0 {
			continue
		}
		v := values[len(values)-1]
		if rest, ok := afterFold(key, PrefixAxon); ok {
			if err := r.Axon.set(key, rest, v); err != nil {
				return r, err
			}
		} else if rest, ok := afterFold(key, PrefixDendrite); ok {
			if err := r.Dendrite.set(key, rest, v); err != nil {
				return r, err
			}
		} else if rest, ok := afterFold(key, PrefixInputObj); ok {
			k, err := inputObj(key, rest, values[0], fields)
			if err != nil {
				return r, err
			}
			if k >= 0 {
				seen[k] = true
			}
		}
	}
	for k, f := range fields {
		if f.Required && !reserved[f.Name] && !seen[k] {
			return r, &ParseError{Header: PrefixInputObj + f.Name, Reason: "missing; want the base64 JSON of a " + f.Kind.String() + " for the required field " + f.Name}
		}
	}
	return r, r.parseTop(h)
}

func (r *Request) parseTop(h http.Header) error {
	var err error
	if v, ok := first(h, HeaderTimeout); ok {
		if r.Timeout, err = optFloat(HeaderTimeout, v); err != nil {
			return err
		}
	}
	if v, ok := first(h, HeaderHeaderSize); ok {
		if r.HeaderSize, err = optInt(HeaderHeaderSize, v); err != nil {
			return err
		}
	}
	if v, ok := first(h, HeaderTotalSize); ok {
		if r.TotalSize, err = optInt(HeaderTotalSize, v); err != nil {
			return err
		}
	}
	if v, ok := first(h, HeaderBodyHash); ok {
		r.BodyHash = Some(v)
	}
	return nil
}

// first returns the first value of the header name (lowercase), looked
// up under the name as written and as net/http canonicalizes it.
func first(h http.Header, name string) (string, bool) {
	if vs := h[name]; len(vs) > 0 {
		return vs[0], true
	}
	if vs := h[canonical(name)]; len(vs) > 0 {
		return vs[0], true
	}
	return "", false
}

// canonicals caches textproto.CanonicalMIMEHeaderKey of the header names.
var canonicals = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{HeaderName, HeaderTimeout, HeaderHeaderSize, HeaderTotalSize, HeaderBodyHash,
		HeaderAxonStatusCode, HeaderAxonStatusMessage, HeaderAxonProcessTime} {
		m[n] = textproto.CanonicalMIMEHeaderKey(n)
	}
	return m
}()

func canonical(name string) string {
	if c, ok := canonicals[name]; ok {
		return c
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

// afterFold finds pattern (lowercase) in key without regard to case, as
// Python finds it in a lowercased key, and returns the part of key after
// its first occurrence, up to any second one (key.split(pattern)[1]).
func afterFold(key, pattern string) (string, bool) {
	i := indexFold(key, pattern)
	if i < 0 {
		return "", false
	}
	rest := key[i+len(pattern):]
	if j := indexFold(rest, pattern); j >= 0 {
		rest = rest[:j]
	}
	return rest, true
}

func indexFold(s, pattern string) int {
	for i := 0; i+len(pattern) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(pattern)], pattern) {
			return i
		}
	}
	return -1
}

// set stores one bt_header_{axon,dendrite}_<name> value; unknown names are
// ignored, as pydantic ignores unknown fields.
func (t *Terminal) set(key, name, v string) error {
	var err error
	switch strings.ToLower(name) {
	case "status_code":
		t.StatusCode, err = optInt(key, v)
	case "status_message":
		t.StatusMessage = Some(v)
	case "process_time":
		t.ProcessTime, err = optFloat(key, v)
	case "ip":
		t.IP = Some(v)
	case "port":
		t.Port, err = optInt(key, v)
	case "version":
		t.Version, err = optInt(key, v)
	case "nonce":
		t.Nonce, err = optInt(key, v)
	case "uuid":
		t.UUID = Some(v)
	case "hotkey":
		t.Hotkey = Some(v)
	case "signature":
		t.Signature = Some(v)
	}
	return err
}

func optInt(header, v string) (Opt[int64], error) {
	n, err := parsePyInt(v)
	if err != nil {
		return Opt[int64]{}, &ParseError{Header: strings.ToLower(header), Value: v, Reason: err.Error()}
	}
	return Some(n), nil
}

func optFloat(header, v string) (Opt[float64], error) {
	f, err := parsePyFloat(v)
	if err != nil {
		return Opt[float64]{}, &ParseError{Header: strings.ToLower(header), Value: v, Reason: err.Error()}
	}
	return Some(f), nil
}

// lowerEqual reports whether the lowercase of key equals name, as a
// Python axon, which sees header names lowercased, compares them: a
// field name with capitals never matches.
func lowerEqual(key, name string) bool {
	return strings.EqualFold(key, name) && strings.ToLower(name) == name
}

// inputObj checks one bt_header_input_obj_<name> value and returns the
// index of its field in fields (-1 for none). A value that is not base64
// of UTF-8 JSON is ignored, as Python logs and skips it; one that decodes
// to the wrong type for its field is refused, as pydantic refuses it.
func inputObj(key, name, v string, fields []Field) (int, error) {
	k := -1
	for i, f := range fields {
		if lowerEqual(name, f.Name) && !reserved[f.Name] {
			k = i
		}
	}
	if k < 0 {
		return -1, nil
	}
	var buf [128]byte
	raw := buf[:]
	if n := base64.StdEncoding.DecodedLen(len(v)); n > len(buf) {
		raw = make([]byte, n) // a large object
	}
	n, err := base64.StdEncoding.Decode(raw, []byte(v))
	raw = raw[:n]
	if err != nil || !json.Valid(raw) {
		return -1, nil
	}
	if !kindAccepts(fields[k].Kind, raw) {
		return -1, &ParseError{Header: strings.ToLower(key), Value: v,
			Reason: fmt.Sprintf("the JSON %s, which field %s (%s) does not accept", string(raw), fields[k].Name, fields[k].Kind)}
	}
	return k, nil
}

// kindAccepts reports whether a field of kind k accepts the JSON value
// raw: a value of its own kind, for an int an integral float, for a float
// an int.
func kindAccepts(k Kind, raw []byte) bool {
	got, err := KindOf(raw)
	if err != nil {
		return false
	}
	switch {
	case got == k:
		return true
	case k == KindFloat && got == KindInt:
		return true
	case k == KindInt && got == KindFloat:
		f, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
		return err == nil && f == math.Trunc(f)
	}
	return false
}

// Response is what a dendrite reads from an axon's response headers.
type Response struct {
	StatusCode    Opt[int64]
	StatusMessage Opt[string]
	ProcessTime   Opt[float64] // seconds the forward took
	// Timeout is the echoed timeout; a real axon answers "None" when the
	// request had none, which reads as absent.
	Timeout Opt[float64]
}

// ParseResponse reads the axon's status, message, process time and
// timeout from a response's headers. A number Python cannot read is a
// *ParseError, which a Python dendrite reports as 422.
func ParseResponse(h http.Header) (Response, error) {
	var r Response
	var err error
	if v, ok := first(h, HeaderAxonStatusCode); ok {
		if r.StatusCode, err = optInt(HeaderAxonStatusCode, v); err != nil {
			return r, err
		}
	}
	if v, ok := first(h, HeaderAxonStatusMessage); ok {
		r.StatusMessage = Some(v)
	}
	if v, ok := first(h, HeaderAxonProcessTime); ok {
		if r.ProcessTime, err = optFloat(HeaderAxonProcessTime, v); err != nil {
			return r, err
		}
	}
	if v, ok := first(h, HeaderTimeout); ok && v != "None" {
		if r.Timeout, err = optFloat(HeaderTimeout, v); err != nil {
			return r, err
		}
	}
	return r, nil
}
