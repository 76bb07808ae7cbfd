package httpdendrite

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
)

// Result is the outcome of one query.
type Result struct {
	// Code is the status a Python dendrite records: the axon's
	// bt_header_axon_status_code, else its HTTP status; 408, 503 or 422
	// for failures on the client's side (see the synapse package); 0 when
	// there is none: the caller cancelled the query, or a 200 answer
	// named no status.
	Code int
	// Message is the status message recorded with Code.
	Message string
	// Latency runs from before signing until the answer is read and
	// parsed, or the query fails.
	Latency time.Duration
	// ProcessTime is the axon's bt_header_axon_process_time, when sent
	// as a duration (not negative, infinite or NaN).
	ProcessTime synapse.Opt[time.Duration]
	// Bytes is the size of the answer's body as received.
	Bytes int64
	// FirstByte and LastChunk are, for a streaming query, the times from
	// the start to the first byte of the body and to the last chunk of
	// it; Chunks counts the reads that returned data.
	FirstByte, LastChunk time.Duration
	Chunks               int
}

// Success reports whether the query succeeded: its Code is 200.
func (r Result) Success() bool { return r.Code == synapse.StatusSuccess }

// failed is the Result of a query that got no answer: the caller's
// cancellation, the timeout, a refused connection or a dropped one.
func (c *Client) failed(ctx context.Context, err error, start time.Time) Result {
	r := Result{Latency: time.Since(start)}
	var op *net.OpError
	switch {
	case ctx.Err() != nil:
		r.Message = "canceled: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		r.Code, r.Message = synapse.StatusTimeout, synapse.TimeoutMessage(c.timeout.Seconds())
	case errors.As(err, &op) && op.Op == "dial":
		r.Code, r.Message = synapse.StatusUnavailable, synapse.UnavailableMessage(c.id.axonIP, c.id.axonPort, c.id.name)
	case isDisconnect(err):
		r.Code, r.Message = synapse.StatusUnavailable, synapse.DisconnectedMessage("Server disconnected")
	default:
		r.Code, r.Message = synapse.StatusParseFailure, synapse.ParseFailureMessage(err.Error())
	}
	return r
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isDisconnect reports an error of a connection the axon closed or reset.
func isDisconnect(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "server closed")
}

// read reads the answer's body and records its outcome.
func (c *Client) read(ctx context.Context, resp *http.Response, start time.Time) Result {
	var r Result
	var err error
	streamed := c.streaming && resp.StatusCode == http.StatusOK
	if streamed {
		err = c.readStream(resp.Body, start, &r)
	} else {
		c.buf, err = readAll(c.buf[:0], resp.Body)
		r.Bytes = int64(len(c.buf))
	}
	if err != nil {
		f := c.failed(ctx, err, start)
		f.Bytes, f.FirstByte, f.LastChunk, f.Chunks = r.Bytes, r.FirstByte, r.LastChunk, r.Chunks
		return f
	}
	h, err := synapse.ParseResponse(resp.Header)
	if err != nil {
		r.Code, r.Message = synapse.StatusParseFailure, synapse.ParseFailureMessage(err.Error())
		return r
	}
	if pt := h.ProcessTime.V * float64(time.Second); h.ProcessTime.OK && pt >= 0 && pt < math.MaxInt64 {
		r.ProcessTime = synapse.Some(time.Duration(pt))
	}
	if streamed {
		r.Code, r.Message = http.StatusOK, synapse.SuccessMessage
	} else if err := c.parseBody(resp, &r, !h.StatusCode.OK); err != nil {
		r.Code, r.Message = synapse.StatusParseFailure, synapse.ParseFailureMessage(err.Error())
		return r
	}
	if h.StatusCode.OK {
		r.Code = int(h.StatusCode.V)
	}
	if h.StatusMessage.OK {
		r.Message = h.StatusMessage.V
	}
	return r
}

// readAll appends all of body to buf.
func readAll(buf []byte, body io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// streamChunk is the size of the reads of a streamed body.
const streamChunk = 32 << 10

// readStream reads a streamed body as it arrives, timing its chunks.
func (c *Client) readStream(body io.Reader, start time.Time, r *Result) error {
	if cap(c.buf) < streamChunk {
		c.buf = make([]byte, streamChunk)
	}
	buf := c.buf[:cap(c.buf)]
	for {
		n, err := body.Read(buf)
		if n > 0 {
			at := time.Since(start)
			if r.Chunks == 0 {
				r.FirstByte = at
			}
			r.LastChunk = at
			r.Chunks++
			r.Bytes += int64(n)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseBody reads a non-streamed answer's JSON as a Python dendrite does:
// aiohttp's json() wants a JSON content type and a JSON object; a 200
// answer must hold the synapse's required fields and gives the status in
// its axon object (read only when needStatus: the headers name none),
// any other the message in "message".
func (c *Client) parseBody(resp *http.Response, r *Result, needStatus bool) error {
	ct := resp.Header.Get("Content-Type")
	if !isJSONType(ct) {
		return errors.New("Attempt to decode JSON with unexpected mimetype: " + ct)
	}
	if resp.StatusCode != http.StatusOK {
		vals, err := synapse.FieldValues(c.vals[:0], c.buf, []string{"message"})
		if err != nil {
			return err
		}
		c.vals = vals
		r.Code = resp.StatusCode
		r.Message = jsonString(vals[0])
		return nil
	}
	vals, err := synapse.FieldValues(c.vals[:0], c.buf, c.required)
	if err != nil {
		return err
	}
	c.vals = vals
	for k, v := range vals {
		if v == nil {
			return errors.New("1 validation error for " + c.id.name + "\n" + c.required[k] + "\n  Field required")
		}
	}
	if !needStatus {
		return nil
	}
	return c.bodyStatus(r)
}

// bodyStatus reads axon.status_code and status_message from a 200
// answer's body, for an answer without status headers.
func (c *Client) bodyStatus(r *Result) error {
	vals, err := synapse.FieldValues(c.vals[:0], c.buf, []string{"axon"})
	if err != nil || vals[0] == nil || string(vals[0]) == "null" {
		return err
	}
	var axon struct {
		StatusCode    *int    `json:"status_code"`
		StatusMessage *string `json:"status_message"`
	}
	if err := json.Unmarshal(vals[0], &axon); err != nil {
		return err
	}
	if axon.StatusCode != nil {
		r.Code = *axon.StatusCode
	}
	if axon.StatusMessage != nil {
		r.Message = *axon.StatusMessage
	}
	return nil
}

// jsonString returns the JSON string v, or "" for anything else.
func jsonString(v []byte) string {
	var s string
	if json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// isJSONType reports whether a content type is JSON to aiohttp:
// application/json or application/<something>+json, any parameters after.
func isJSONType(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	const app = "application/"
	if len(ct) <= len(app) || !strings.EqualFold(ct[:len(app)], app) {
		return false
	}
	sub := ct[len(app):]
	return strings.EqualFold(sub, "json") || len(sub) > 5 && strings.EqualFold(sub[len(sub)-5:], "+json")
}
