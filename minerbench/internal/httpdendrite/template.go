package httpdendrite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
)

// member is one top-level field of the synapse body a user gives.
type member struct {
	name  string
	value json.RawMessage
}

// members returns the fields of the JSON object body in order, a repeated
// name keeping its first place and its last value, as json.loads does.
func members(body []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("httpdendrite: Body %.40q…: want a JSON object of the synapse's fields, e.g. {\"text\": \"hello\"}", body)
	}
	var ms []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("httpdendrite: Body: %w", err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("httpdendrite: Body field %q: %w", tok, err)
		}
		name := tok.(string)
		if i := slices.IndexFunc(ms, func(m member) bool { return m.name == name }); i >= 0 {
			ms[i].value = v
		} else {
			ms = append(ms, member{name, v})
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("httpdendrite: Body: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("httpdendrite: Body: extra data after the JSON object")
	}
	return ms, nil
}

// template is the fixed part of every request of one Client.
type template struct {
	// prefix, mid and suffix surround the nonce and the signature in the
	// body: prefix, nonce, mid, signature, suffix.
	prefix, mid, suffix []byte
	header              http.Header // every header but the nonce and signature
}

// nonceWidth is the number of digits of a nanosecond clock until 2286,
// for the size headers.
const nonceWidth = 19

// identity is what the template writes about the two ends.
type identity struct {
	name, axonIP, axonHotkey, dendriteIP, dendriteHotkey, uuid string
	axonPort                                                   int
	timeout                                                    float64
}

// newTemplate lays out the body as a Python dendrite's json.dumps of
// model_dump() does, and the headers of Synapse.to_headers().
func newTemplate(id identity, fields []member, required []string, bodyHash string) (*template, error) {
	var tail []byte
	for _, m := range fields {
		name, _ := json.Marshal(m.name)
		tail = append(append(append(append(tail, ", "...), name...), ": "...), m.value...)
	}
	t := &template{}
	totalSize := 0
	for { // total_size is the body's length, which includes total_size
		t.layout(id, tail, totalSize)
		n := len(t.prefix) + nonceWidth + len(t.mid) + synapse.SignatureLen + len(t.suffix)
		if n == totalSize {
			break
		}
		totalSize = n
	}
	h := http.Header{}
	set := func(k, v string) { h[k] = []string{v} }
	set(synapse.HeaderName, id.name)
	set(synapse.HeaderTimeout, string(synapse.AppendPyFloat(nil, id.timeout)))
	set(synapse.HeaderAxonIP, id.axonIP)
	set(synapse.HeaderAxonPort, strconv.Itoa(id.axonPort))
	set(synapse.HeaderAxonHotkey, id.axonHotkey)
	set(synapse.HeaderDendriteIP, id.dendriteIP)
	set(synapse.HeaderDendriteVersion, strconv.Itoa(synapse.Version))
	set(synapse.HeaderDendriteUUID, id.uuid)
	set(synapse.HeaderDendriteHotkey, id.dendriteHotkey)
	for _, m := range fields {
		if !slices.Contains(required, m.name) {
			continue
		}
		kind, err := synapse.KindOf(m.value)
		if err != nil {
			return nil, fmt.Errorf("httpdendrite: required field %q: %w", m.name, err)
		}
		set(synapse.PrefixInputObj+m.name, kind.InputObj())
	}
	set(synapse.HeaderTotalSize, strconv.Itoa(totalSize))
	set(synapse.HeaderBodyHash, bodyHash)
	// header_size: the bytes of the synapse's header lines, the nonce's
	// and the signature's included, header_size's own excluded.
	headerSize := len(synapse.HeaderDendriteNonce) + nonceWidth + len(synapse.HeaderDendriteSig) + synapse.SignatureLen + 8
	for k, v := range h {
		headerSize += len(k) + len(v[0]) + 4 // ": " and CRLF
	}
	set(synapse.HeaderHeaderSize, strconv.Itoa(headerSize))
	set("Content-Type", "application/json")
	set("Accept", "*/*")
	set("User-Agent", "minerbench-httpdendrite")
	t.header = h
	return t, nil
}

// layout writes the body's fixed parts for a given total_size.
func (t *template) layout(id identity, tail []byte, totalSize int) {
	str := func(b []byte, s string) []byte {
		q, _ := json.Marshal(s)
		return append(b, q...)
	}
	const unset = `"status_code": null, "status_message": null, "process_time": null, "ip": `
	b := append([]byte(nil), `{"name": `...)
	b = str(b, id.name)
	b = append(b, `, "timeout": `...)
	b = synapse.AppendPyFloat(b, id.timeout)
	b = append(b, `, "total_size": `...)
	b = strconv.AppendInt(b, int64(totalSize), 10)
	b = append(b, `, "header_size": 0, "dendrite": {`+unset...)
	b = str(b, id.dendriteIP)
	b = append(b, `, "port": null, "version": `...)
	b = strconv.AppendInt(b, synapse.Version, 10)
	t.prefix = append(b, `, "nonce": `...)

	b = append([]byte(nil), `, "uuid": `...)
	b = str(b, id.uuid)
	b = append(b, `, "hotkey": `...)
	b = str(b, id.dendriteHotkey)
	t.mid = append(b, `, "signature": "`...)

	b = append([]byte(nil), `"}, "axon": {`+unset...)
	b = str(b, id.axonIP)
	b = append(b, `, "port": `...)
	b = strconv.AppendInt(b, int64(id.axonPort), 10)
	b = append(b, `, "version": null, "nonce": null, "uuid": null, "hotkey": `...)
	b = str(b, id.axonHotkey)
	b = append(b, `, "signature": null}, "computed_body_hash": ""`...)
	b = append(b, tail...)
	t.suffix = append(b, '}')
}
