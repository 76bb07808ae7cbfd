package httpaxon

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/minerbench/minerbench/minerbench/synapse"
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

// refuseBlank answers a request that has no synapse yet (an unknown name,
// headers that do not parse) with the headers of a blank Synapse, as
// Bittensor's axon does.
func (a *Axon) refuseBlank(w http.ResponseWriter, start time.Time, code int, msg string) {
	h := w.Header()
	set(h, synapse.HeaderName, PingName)
	set(h, synapse.HeaderTimeout, "12.0")
	setStatus(h, code, msg, time.Since(start))
	set(h, synapse.HeaderHeaderSize, "0")
	set(h, synapse.HeaderTotalSize, "0")
	set(h, synapse.HeaderBodyHash, synapse.EmptyBodyHash)
	writeMessage(w, code, msg)
}

// setStatus writes the axon's status code, message and process time.
func setStatus(h http.Header, code int, msg string, took time.Duration) {
	set(h, synapse.HeaderAxonStatusCode, strconv.Itoa(code))
	set(h, synapse.HeaderAxonStatusMessage, msg)
	set(h, synapse.HeaderAxonProcessTime, string(synapse.AppendPyFloat(nil, took.Seconds())))
}

// writeMessage writes Bittensor's error body, {"message": msg}.
func writeMessage(w http.ResponseWriter, code int, msg string) {
	body := appendString([]byte(`{"message":`), msg)
	body = append(body, '}')
	setContent(w.Header(), "application/json", len(body))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// refusal answers a request whose headers parsed, as its header synapse.
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
	now := time.Now().UnixNano()
	f.name(h)
	setStatus(h, code, msg, time.Since(f.start))
	ax := f.h.Axon
	ax.StatusCode, ax.StatusMessage, ax.ProcessTime = synapse.Opt[int64]{}, synapse.Opt[string]{}, synapse.Opt[float64]{}
	ax.Version, ax.UUID = synapse.Some[int64](synapse.Version), synapse.Some(f.a.uuid)
	ax.Nonce = synapse.Some(now)
	signed := strconv.FormatInt(now, 10) + "." + f.h.Dendrite.Hotkey.V + "." + f.h.Axon.Hotkey.V + "." + f.a.uuid
	if sig, err := synapse.AppendSignature(nil, f.a.cfg.Wallet, []byte(signed)); err == nil {
		ax.Signature = synapse.Some(string(sig))
	}
	setTerminal(h, synapse.PrefixAxon, &ax)
	d := f.h.Dendrite
	if ap, err := netip.ParseAddrPort(f.r.RemoteAddr); err == nil {
		d.IP, d.Port = synapse.Some(ap.Addr().Unmap().String()), synapse.Some(int64(ap.Port()))
	}
	setTerminal(h, synapse.PrefixDendrite, &d)
	f.tail(h, f.syn.emptyHash)
	writeMessage(f.w, code, msg)
}

// name writes the name and timeout headers.
func (f *refusal) name(h http.Header) {
	set(h, synapse.HeaderName, f.h.Name)
	set(h, synapse.HeaderTimeout, pyOptFloat(f.h.Timeout))
}

// pyOptFloat is Python's str() of a float or None.
func pyOptFloat(v synapse.Opt[float64]) string {
	if !v.OK {
		return "None"
	}
	return string(synapse.AppendPyFloat(nil, v.V))
}

// setTerminal writes the present fields of t but its status, code and
// process time, as to_headers does for a TerminalInfo.
func setTerminal(h http.Header, prefix string, t *synapse.Terminal) {
	for _, f := range [...]struct {
		name string
		v    synapse.Opt[string]
	}{
		{"ip", t.IP}, {"port", optInt(t.Port)}, {"version", optInt(t.Version)}, {"nonce", optInt(t.Nonce)},
		{"uuid", t.UUID}, {"hotkey", t.Hotkey}, {"signature", t.Signature},
	} {
		if f.v.OK {
			set(h, prefix+f.name, f.v.V)
		}
	}
}

// optInt writes an optional int in decimal.
func optInt(v synapse.Opt[int64]) synapse.Opt[string] {
	if !v.OK {
		return synapse.Opt[string]{}
	}
	return synapse.Some(strconv.FormatInt(v.V, 10))
}

// tail writes the input_obj headers, the sizes and the body hash.
func (f *refusal) tail(h http.Header, hash string) {
	for _, fl := range f.syn.Fields {
		if fl.Required {
			set(h, synapse.PrefixInputObj+fl.Name, fl.Kind.InputObj())
		}
	}
	set(h, synapse.HeaderHeaderSize, strconv.FormatInt(f.h.HeaderSize.V, 10))
	set(h, synapse.HeaderTotalSize, strconv.FormatInt(f.h.TotalSize.V, 10))
	set(h, synapse.HeaderBodyHash, hash)
}

// successHeaders writes the headers of an answer: the synapse's, with the
// axon's status and process time, as Bittensor's synapse_to_response.
func (f *refusal) successHeaders(h http.Header, code int, msg string, took time.Duration, hash string) {
	f.name(h)
	setStatus(h, code, msg, took)
	ax := synapse.Terminal{IP: f.h.Axon.IP, Port: f.h.Axon.Port, Hotkey: f.h.Axon.Hotkey}
	setTerminal(h, synapse.PrefixAxon, &ax)
	setTerminal(h, synapse.PrefixDendrite, &f.h.Dendrite)
	f.tail(h, hash)
}

// appendBody appends the whole synapse as compact JSON: the base fields,
// the axon's status, then the synapse's own fields.
func (f *refusal) appendBody(b []byte, code int, msg string, took time.Duration, fields []byte) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, f.h.Name)
	b = append(b, `,"timeout":`...)
	if f.h.Timeout.OK {
		b = synapse.AppendPyFloat(b, f.h.Timeout.V)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"total_size":`...)
	b = strconv.AppendInt(b, f.h.TotalSize.V, 10)
	b = append(b, `,"header_size":`...)
	b = strconv.AppendInt(b, f.h.HeaderSize.V, 10)
	b = append(b, `,"dendrite":`...)
	b = appendTerminal(b, &f.h.Dendrite)
	b = append(b, `,"axon":`...)
	ax := synapse.Terminal{
		StatusCode: synapse.Some(int64(code)), StatusMessage: synapse.Some(msg), ProcessTime: synapse.Some(took.Seconds()),
		IP: f.h.Axon.IP, Port: f.h.Axon.Port, Hotkey: f.h.Axon.Hotkey,
	}
	b = appendTerminal(b, &ax)
	b = append(b, `,"computed_body_hash":""`...)
	if len(fields) > 0 {
		b = append(append(b, ','), fields...)
	}
	return append(b, '}')
}

// appendTerminal appends t as a TerminalInfo's JSON: its ten fields, null
// when absent.
func appendTerminal(b []byte, t *synapse.Terminal) []byte {
	b = append(b, `{"status_code":`...)
	b = appendOptInt(b, t.StatusCode)
	b = append(b, `,"status_message":`...)
	b = appendOptString(b, t.StatusMessage)
	b = append(b, `,"process_time":`...)
	if t.ProcessTime.OK {
		b = synapse.AppendPyFloat(b, t.ProcessTime.V)
	} else {
		b = append(b, "null"...)
	}
	b = appendOptString(append(b, `,"ip":`...), t.IP)
	b = appendOptInt(append(b, `,"port":`...), t.Port)
	b = appendOptInt(append(b, `,"version":`...), t.Version)
	b = appendOptInt(append(b, `,"nonce":`...), t.Nonce)
	b = appendOptString(append(b, `,"uuid":`...), t.UUID)
	b = appendOptString(append(b, `,"hotkey":`...), t.Hotkey)
	b = appendOptString(append(b, `,"signature":`...), t.Signature)
	return append(b, '}')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// appendOptString appends s as a JSON string, or null when absent.
func appendOptString(b []byte, s synapse.Opt[string]) []byte {
	if !s.OK {
		return append(b, "null"...)
	}
	return appendString(b, s.V)
}

// appendOptInt appends v, or null when absent.
func appendOptInt(b []byte, v synapse.Opt[int64]) []byte {
	if !v.OK {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, v.V, 10)
}
