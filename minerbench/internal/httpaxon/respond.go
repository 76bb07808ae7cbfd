package httpaxon

import (
	"io"
	"log"
	"net/http"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
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
	f := refusal{w: w}
	f.set(synapse.HeaderName, PingName)
	f.set(synapse.HeaderTimeout, "12.0")
	f.setStatus(code, msg, time.Since(start))
	f.set(synapse.HeaderHeaderSize, "0")
	f.set(synapse.HeaderTotalSize, "0")
	f.set(synapse.HeaderBodyHash, synapse.EmptyBodyHash)
	writeMessage(w, code, msg)
}

// setStatus writes the axon's status code, message and process time.
func (f *refusal) setStatus(code int, msg string, took time.Duration) {
	f.set(synapse.HeaderAxonStatusCode, strconv.Itoa(code))
	f.set(synapse.HeaderAxonStatusMessage, msg)
	f.set(synapse.HeaderAxonProcessTime, pyFloat(took.Seconds()))
}

// pyFloat is Python's str() of a float.
func pyFloat(v float64) string {
	var buf [32]byte
	return string(synapse.AppendPyFloat(buf[:0], v))
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

	vals []string // backing of the header values set, one allocation for all
}

// set writes a header under its exact name, its value kept in f.vals.
func (f *refusal) set(name, value string) {
	if f.vals == nil {
		f.vals = make([]string, 0, 28)
	}
	f.vals = append(f.vals, value)
	n := len(f.vals)
	f.w.Header()[name] = f.vals[n-1 : n : n]
}

// send answers code with {"message": msg}, headed as Bittensor's
// create_error_response: the header synapse with the axon's version, nonce,
// uuid and signature, and the client's address as seen by TCP.
func (f *refusal) send(code int, msg string) {
	now := time.Now().UnixNano()
	f.name()
	f.setStatus(code, msg, time.Since(f.start))
	ax := f.h.Axon
	ax.StatusCode, ax.StatusMessage, ax.ProcessTime = synapse.Opt[int64]{}, synapse.Opt[string]{}, synapse.Opt[float64]{}
	ax.Version, ax.UUID = synapse.Some[int64](synapse.Version), synapse.Some(f.a.uuid)
	ax.Nonce = synapse.Some(now)
	signed := strconv.FormatInt(now, 10) + "." + f.h.Dendrite.Hotkey.V + "." + f.h.Axon.Hotkey.V + "." + f.a.uuid
	if sig, err := synapse.AppendSignature(nil, f.a.cfg.Wallet, []byte(signed)); err == nil {
		ax.Signature = synapse.Some(string(sig))
	}
	f.setTerminal(synapse.PrefixAxon, &ax)
	d := f.h.Dendrite
	if ap, err := netip.ParseAddrPort(f.r.RemoteAddr); err == nil {
		d.IP, d.Port = synapse.Some(ap.Addr().Unmap().String()), synapse.Some(int64(ap.Port()))
	}
	f.setTerminal(synapse.PrefixDendrite, &d)
	f.tail(f.syn.emptyHash)
	writeMessage(f.w, code, msg)
}

// name writes the name and timeout headers.
func (f *refusal) name() {
	f.set(synapse.HeaderName, f.h.Name)
	f.set(synapse.HeaderTimeout, pyOptFloat(f.h.Timeout))
}

// pyOptFloat is Python's str() of a float or None.
func pyOptFloat(v synapse.Opt[float64]) string {
	if !v.OK {
		return "None"
	}
	return pyFloat(v.V)
}

// setTerminal writes the present fields of t but its status, code and
// process time, as to_headers does for a TerminalInfo, under the names
// prefix (synapse.PrefixAxon or synapse.PrefixDendrite) gives them.
func (f *refusal) setTerminal(prefix string, t *synapse.Terminal) {
	names := &terminalNames[0]
	if prefix == synapse.PrefixDendrite {
		names = &terminalNames[1]
	}
	for i, v := range [...]synapse.Opt[string]{
		t.IP, optInt(t.Port), optInt(t.Version), optInt(t.Nonce), t.UUID, t.Hotkey, t.Signature,
	} {
		if v.OK {
			f.set(names[i], v.V)
		}
	}
}

// terminalFields are the TerminalInfo fields setTerminal writes, in order.
var terminalFields = [...]string{"ip", "port", "version", "nonce", "uuid", "hotkey", "signature"}

// terminalNames are their header names: the axon's, then the dendrite's.
var terminalNames = func() (n [2][len(terminalFields)]string) {
	for i, f := range terminalFields {
		n[0][i], n[1][i] = synapse.PrefixAxon+f, synapse.PrefixDendrite+f
	}
	return n
}()

// optInt writes an optional int in decimal.
func optInt(v synapse.Opt[int64]) synapse.Opt[string] {
	if !v.OK {
		return synapse.Opt[string]{}
	}
	return synapse.Some(strconv.FormatInt(v.V, 10))
}

// tail writes the input_obj headers, the sizes and the body hash.
func (f *refusal) tail(hash string) {
	for _, h := range f.syn.inputObjs {
		f.set(h[0], h[1])
	}
	f.set(synapse.HeaderHeaderSize, strconv.FormatInt(f.h.HeaderSize.V, 10))
	f.set(synapse.HeaderTotalSize, strconv.FormatInt(f.h.TotalSize.V, 10))
	f.set(synapse.HeaderBodyHash, hash)
}

// successHeaders writes the headers of an answer: the synapse's, with the
// axon's status and process time, as Bittensor's synapse_to_response.
func (f *refusal) successHeaders(code int, msg string, took time.Duration, hash string) {
	f.name()
	f.setStatus(code, msg, took)
	ax := synapse.Terminal{IP: f.h.Axon.IP, Port: f.h.Axon.Port, Hotkey: f.h.Axon.Hotkey}
	f.setTerminal(synapse.PrefixAxon, &ax)
	f.setTerminal(synapse.PrefixDendrite, &f.h.Dendrite)
	f.tail(hash)
}

// appendBody appends the whole synapse as compact JSON: the base fields,
// the axon's status, then the synapse's own fields.
func (f *refusal) appendBody(b []byte, code int, msg string, took time.Duration, fields []byte) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, f.h.Name)
	b = appendOptFloat(append(b, `,"timeout":`...), f.h.Timeout)
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
	b = appendOptFloat(append(b, `,"process_time":`...), t.ProcessTime)
	b = appendOptString(append(b, `,"ip":`...), t.IP)
	b = appendOptInt(append(b, `,"port":`...), t.Port)
	b = appendOptInt(append(b, `,"version":`...), t.Version)
	b = appendOptInt(append(b, `,"nonce":`...), t.Nonce)
	b = appendOptString(append(b, `,"uuid":`...), t.UUID)
	b = appendOptString(append(b, `,"hotkey":`...), t.Hotkey)
	b = appendOptString(append(b, `,"signature":`...), t.Signature)
	return append(b, '}')
}

// appendString appends s as a JSON string: quotes, backslashes and
// control characters escaped, the rest raw, as Python's json.dumps with
// ensure_ascii=False (invalid UTF-8 becomes U+FFFD, as encoding/json does).
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&15])
		default:
			b = utf8.AppendRune(b, r) // an invalid byte is U+FFFD
		}
	}
	return append(b, '"')
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

// appendOptFloat appends v as Python's json.dumps does, or null when absent.
func appendOptFloat(b []byte, v synapse.Opt[float64]) []byte {
	if !v.OK {
		return append(b, "null"...)
	}
	return synapse.AppendPyFloat(b, v.V)
}
