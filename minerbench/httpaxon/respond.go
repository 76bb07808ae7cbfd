package httpaxon

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"
)

// discardLog drops net/http's own log lines (a client's TLS attempt, a
// header timeout): a client can make as many of them as it likes.
var discardLog = log.New(io.Discard, "", 0)

// set writes a header under its exact name, lowercase as Bittensor's
// dendrite needs: Header.Set would canonicalise it.
func set(h http.Header, name, value string) { h[name] = []string{value} }

// setContent writes the content-type, lowercase as Bittensor's axon sends
// it, and the Content-Length, which net/http must see to frame the answer.
// n < 0 writes no length (a stream).
func setContent(h http.Header, contentType string, n int) {
	set(h, "content-type", contentType)
	h["Content-Type"] = nil // keeps net/http from adding its own
	if n >= 0 {
		h.Set("Content-Length", strconv.Itoa(n))
	}
}

// blankHash is the body hash of a synapse without hash fields: sha3-256 of
// the empty string.
var blankHash = bodyHash(nil)

// refuseBlank answers a request that has no synapse yet (an unknown name,
// headers that do not parse) with the headers of a blank Synapse, as
// Bittensor's axon does.
func (a *Axon) refuseBlank(w http.ResponseWriter, start time.Time, code int, msg string) {
	h := w.Header()
	set(h, "name", PingName)
	set(h, "timeout", "12.0")
	set(h, "bt_header_axon_status_code", strconv.Itoa(code))
	set(h, "bt_header_axon_status_message", msg)
	set(h, "bt_header_axon_process_time", pyFloat(time.Since(start).Seconds()))
	set(h, "header_size", "0")
	set(h, "total_size", "0")
	set(h, "computed_body_hash", blankHash)
	writeMessage(w, code, msg)
}

// writeMessage writes Bittensor's error body, {"message": msg}.
func writeMessage(w http.ResponseWriter, code int, msg string) {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg}) // a struct of a string always encodes
	setContent(w.Header(), "application/json", len(body))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// refusal answers a request whose headers parsed with an error response
// carrying its header synapse's headers.
type refusal struct {
	a     *Axon
	w     http.ResponseWriter
	r     *http.Request
	h     *Header
	syn   *Synapse
	start time.Time
}

// send answers code with {"message": msg}, headed as Bittensor's
// create_error_response: the header synapse with the axon's version, nonce,
// uuid and signature, and the client's address as seen by TCP.
func (f *refusal) send(code int, msg string) {
	h := f.w.Header()
	nonce := time.Now().UnixNano()
	f.name(h)
	set(h, "bt_header_axon_status_code", strconv.Itoa(code))
	set(h, "bt_header_axon_status_message", msg)
	set(h, "bt_header_axon_process_time", pyFloat(time.Since(f.start).Seconds()))
	f.axonClaims(h)
	set(h, "bt_header_axon_version", strconv.Itoa(Version))
	set(h, "bt_header_axon_nonce", strconv.FormatInt(nonce, 10))
	set(h, "bt_header_axon_uuid", f.a.uuid)
	if sig, err := f.a.cfg.Wallet.Sign([]byte(strconv.FormatInt(nonce, 10) + "." + f.h.DendriteHotkey + "." + f.h.AxonHotkey + "." + f.a.uuid)); err == nil {
		set(h, "bt_header_axon_signature", "0x"+hex.EncodeToString(sig))
	}
	if host, port, err := net.SplitHostPort(f.r.RemoteAddr); err == nil {
		set(h, "bt_header_dendrite_ip", host)
		set(h, "bt_header_dendrite_port", port)
	}
	f.dendrite(h, false)
	f.tail(h, f.syn.emptyHash)
	writeMessage(f.w, code, msg)
}

// name writes the name and timeout headers.
func (f *refusal) name(h http.Header) {
	set(h, "name", f.h.Name)
	timeout := "None"
	if f.h.Timeout != nil {
		timeout = pyFloat(*f.h.Timeout)
	}
	set(h, "timeout", timeout)
}

// axonClaims writes the axon's ip, port and hotkey as the client claimed
// them.
func (f *refusal) axonClaims(h http.Header) {
	if f.h.AxonIP != "" {
		set(h, "bt_header_axon_ip", f.h.AxonIP)
	}
	if f.h.AxonPort != nil {
		set(h, "bt_header_axon_port", strconv.FormatInt(*f.h.AxonPort, 10))
	}
	if f.h.AxonHotkey != "" {
		set(h, "bt_header_axon_hotkey", f.h.AxonHotkey)
	}
}

// dendrite echoes the client's bt_header_dendrite_ headers; withIP also
// echoes its claimed ip (an error response has the TCP peer's instead).
func (f *refusal) dendrite(h http.Header, withIP bool) {
	d := f.h
	if withIP && d.DendriteIP != "" {
		set(h, "bt_header_dendrite_ip", d.DendriteIP)
	}
	if d.DendriteVersion != nil {
		set(h, "bt_header_dendrite_version", strconv.FormatInt(*d.DendriteVersion, 10))
	}
	if d.DendriteNonce != nil {
		set(h, "bt_header_dendrite_nonce", strconv.FormatInt(*d.DendriteNonce, 10))
	}
	for _, kv := range [...][2]string{
		{"bt_header_dendrite_uuid", d.DendriteUUID},
		{"bt_header_dendrite_hotkey", d.DendriteHotkey},
		{"bt_header_dendrite_signature", d.DendriteSignature},
	} {
		if kv[1] != "" {
			set(h, kv[0], kv[1])
		}
	}
}

// tail writes the input_obj headers, the sizes and the body hash.
func (f *refusal) tail(h http.Header, hash string) {
	for _, in := range f.syn.Inputs {
		set(h, "bt_header_input_obj_"+in.Field, in.Value)
	}
	set(h, "header_size", strconv.FormatInt(f.h.HeaderSize, 10))
	set(h, "total_size", strconv.FormatInt(f.h.TotalSize, 10))
	set(h, "computed_body_hash", hash)
}

// successHeaders writes the headers of an answer: the synapse's, with the
// axon's status and process time, as Bittensor's synapse_to_response.
func (f *refusal) successHeaders(h http.Header, code int, msg string, took time.Duration, hash string) {
	f.name(h)
	set(h, "bt_header_axon_status_code", strconv.Itoa(code))
	set(h, "bt_header_axon_status_message", msg)
	set(h, "bt_header_axon_process_time", pyFloat(took.Seconds()))
	f.axonClaims(h)
	f.dendrite(h, true)
	f.tail(h, hash)
}

// appendBody appends the whole synapse as compact JSON: the base fields,
// the axon's status, then the synapse's own fields.
func (f *refusal) appendBody(b []byte, code int, msg string, took time.Duration, fields []byte) []byte {
	d := f.h
	b = append(b, `{"name":`...)
	b = appendString(b, d.Name)
	b = append(b, `,"timeout":`...)
	if d.Timeout != nil {
		b = append(b, pyFloat(*d.Timeout)...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"total_size":`...)
	b = strconv.AppendInt(b, d.TotalSize, 10)
	b = append(b, `,"header_size":`...)
	b = strconv.AppendInt(b, d.HeaderSize, 10)
	b = append(b, `,"dendrite":{"status_code":null,"status_message":null,"process_time":null,"ip":`...)
	b = appendOptString(b, d.DendriteIP)
	b = append(b, `,"port":null,"version":`...)
	b = appendOptInt(b, d.DendriteVersion)
	b = append(b, `,"nonce":`...)
	b = appendOptInt(b, d.DendriteNonce)
	for _, kv := range [...]struct{ k, v string }{{`,"uuid":`, d.DendriteUUID}, {`,"hotkey":`, d.DendriteHotkey}, {`,"signature":`, d.DendriteSignature}} {
		b = appendOptString(append(b, kv.k...), kv.v)
	}
	b = append(b, `},"axon":{"status_code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"status_message":`...)
	b = appendString(b, msg)
	b = append(b, `,"process_time":`...)
	b = append(b, pyFloat(took.Seconds())...)
	b = append(b, `,"ip":`...)
	b = appendOptString(b, d.AxonIP)
	b = append(b, `,"port":`...)
	b = appendOptInt(b, d.AxonPort)
	b = append(b, `,"version":null,"nonce":null,"uuid":null,"hotkey":`...)
	b = appendOptString(b, d.AxonHotkey)
	b = append(b, `,"signature":null},"computed_body_hash":""`...)
	if len(fields) > 0 {
		b = append(append(b, ','), fields...)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string, non-ASCII characters raw.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// appendOptString appends s as a JSON string, or null when it is empty.
func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

// appendOptInt appends *v, or null when v is nil.
func appendOptInt(b []byte, v *int64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *v, 10)
}
