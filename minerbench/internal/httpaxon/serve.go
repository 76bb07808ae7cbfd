package httpaxon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
)

// ping is the base Synapse every axon answers: it has no fields of its own.
func ping() *Synapse {
	return &Synapse{Name: PingName, emptyHash: synapse.EmptyBodyHash, serve: func(_ context.Context, c *call) error {
		if err := checkHash(c, nil); err != nil {
			return err
		}
		if err := json.Unmarshal(c.body, &struct{}{}); err != nil {
			return fmt.Errorf("%w: %v", errBadBody, err)
		}
		c.answer = &answer{bodyHash: synapse.EmptyBodyHash}
		return nil
	}}
}

// readBody reads r's body, at most MaxBodyBytes within RequestTimeout. It
// returns a status and message when it cannot.
func (a *Axon) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, string) {
	defer a.admission.exitRequest()
	if r.ContentLength > a.cfg.MaxBodyBytes {
		w.Header()["Connection"] = []string{"close"}
		return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body of %d bytes is larger than the axon's limit of %d bytes", r.ContentLength, a.cfg.MaxBodyBytes)
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(a.cfg.RequestTimeout))
	// The buffer grows with what comes, beyond a first step: a client
	// announcing a large body and sending little makes the axon hold little.
	body := make([]byte, 0, min(max(r.ContentLength, 0), firstBodyStep)+1) // +1: room to see EOF without growing
	body, err := readAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes), body)
	// Clear the deadline: net/http's read in the background, which notices
	// a client going away, would otherwise end the call when it passes.
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body is larger than the axon's limit of %d bytes", a.cfg.MaxBodyBytes)
		}
		return nil, http.StatusRequestTimeout, "Request body not received: " + err.Error()
	}
	return body, 0, ""
}

// firstBodyStep bounds the buffer readBody starts with.
const firstBodyStep = 64 << 10

// readAll appends what r holds to b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// peerOf names the peer of r: its connection's, worked out once when the
// connection was accepted, or else the IP address of r.RemoteAddr.
func peerOf(r *http.Request) string {
	if fc, ok := connOf(r); ok {
		return fc.Peer()
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().String()
	}
	return r.RemoteAddr
}

// answer runs c's handler on a worker and writes its answer.
func (a *Axon) answer(w http.ResponseWriter, r *http.Request, f *refusal, c *call) {
	peer := peerOf(r)
	deadline := time.Now().Add(a.cfg.ForwardTimeout)
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	releaseCall, full, err := a.admission.admit(ctx, peer)
	if err != nil {
		a.refuseAdmission(f, full, err)
		return
	}
	defer releaseCall()
	workerHeld := true
	releaseWorker := func() {
		if workerHeld {
			workerHeld = false
			a.admission.workers.Release(peer, 1)
		}
	}
	defer releaseWorker()
	begun := time.Now()
	var streamed bool
	if f.syn.streaming {
		c.stream = func(*call) http.ResponseWriter {
			streamed = true
			a.startStream(w, f, time.Since(begun), c.answer.bodyHash)
			return w
		}
	}
	err = f.syn.serve(ctx, c)
	took := time.Since(begun)
	// Lateness is the deadline's, not the context's: its timer may not have
	// fired yet on a busy machine.
	late := !time.Now().Before(deadline) && !errors.Is(err, errBadBody)
	switch se, isStatus := errors.AsType[*StatusError](err); {
	case streamed:
		return
	case late:
		f.send(http.StatusRequestTimeout, timeoutMessage(f.h))
		return
	case isStatus:
		f.send(se.Code, se.Message)
		return
	case err != nil:
		f.send(http.StatusInternalServerError, internalError())
		return
	case f.syn.streaming:
		c.stream(c)
		return
	}
	a.writeAnswer(ctx, w, f, c.answer, took, peer, releaseWorker)
}

// refuseAdmission answers a call the axon had no room for: 503 when its
// peer's share or the queue is full, 408 when its time ran out waiting.
func (a *Axon) refuseAdmission(f *refusal, full bool, err error) {
	if full {
		f.send(http.StatusServiceUnavailable, err.Error())
		return
	}
	f.send(http.StatusRequestTimeout, timeoutMessage(f.h))
}

// timeoutMessage is Bittensor's message for a call not answered in time.
func timeoutMessage(h *Header) string { return synapse.PriorityTimeoutMessage(h.Timeout) }

// writeAnswer writes a handler's answer: the whole synapse as compact JSON,
// once its bytes fit in the answer budget, within WriteTimeout.
func (a *Axon) writeAnswer(ctx context.Context, w http.ResponseWriter, f *refusal, ans *answer, took time.Duration, peer string, releaseWorker func()) {
	code, msg := ans.status, ans.message
	if code == 0 {
		code = http.StatusOK
	}
	if code == http.StatusOK && msg == "" {
		msg = synapse.SuccessMessage
	}
	body := f.appendBody(make([]byte, 0, 640+len(ans.fields)), code, msg, took, ans.fields)
	ans.fields = nil // the body holds them now
	if int64(len(body)) > a.cfg.MaxAnswerBytes {
		f.send(http.StatusInternalServerError, internalError())
		return
	}
	release, full, err := a.admission.answerBytes(ctx, peer, int64(len(body)))
	if err != nil {
		a.refuseAdmission(f, full, err)
		return
	}
	defer release()
	releaseWorker()
	f.successHeaders(code, msg, took, ans.bodyHash)
	setContent(w.Header(), "application/json", len(body))
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(a.cfg.WriteTimeout))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// startStream sends a streaming synapse's status and headers, computed from
// the request synapse before the stream, as Bittensor's StreamingSynapse.
// The stream has no WriteTimeout as a whole: each chunk has its own.
func (a *Axon) startStream(w http.ResponseWriter, f *refusal, took time.Duration, hash string) {
	setContent(w.Header(), "text/event-stream", -1)
	f.successHeaders(http.StatusOK, synapse.SuccessMessage, took, hash)
	w.WriteHeader(http.StatusOK)
}
