//go:build linux

package minerbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/analysis"
	"github.com/minerbench/minerbench/minerbench/internal/history"
	"github.com/minerbench/minerbench/minerbench/internal/httpdendrite"
	"github.com/minerbench/minerbench/minerbench/internal/synapse"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// dummyLoad is the synapse of BenchmarkSynapseOverhead: the subnet
// template's Dummy.
var dummyLoad = Synapse{Name: "Dummy", Body: `{"dummy_input": 3}`}

// BenchmarkSynapseOverhead measures what the harness costs per synapse
// query beside the signed floor, as BenchmarkOverhead does for 2.0.x. Both
// paths query internal/rawserver's synapse server, in another process,
// which answers every request with one prebuilt Dummy answer:
//
//   - path=harness is the query loop Bench runs against a synapse axon, as
//     with -mb.endpoint http://…: a synapse client per worker with its own
//     uuid, warm-up, the per-query timeout, the answer's status read, the
//     run's summary and history;
//   - path=floor is conc goroutines sending, through one plain net/http
//     client, the very request the harness sends (its headers and body,
//     captured once), with a fresh nonce and one sr25519 signature per
//     call, checking only the status and recording each latency in one
//     summary.
//
// cpu-ns/op is the test process's CPU time per query, as in
// BenchmarkOverhead.
func BenchmarkSynapseOverhead(b *testing.B) {
	_, url := startRawServer(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHarness(ctx, defaultConfig())
	h.cfg.Results = b.TempDir()
	h.validator = wallet.Mock(validatorName)
	m := &Target{Name: "raw", SynapseURL: url, Hotkey: wallet.Mock("raw").SS58(), dir: b.TempDir()}
	defer m.stop()

	for _, conc := range []int{1, 16} {
		ld := Load{Synapse: &dummyLoad, Conc: conc, History: DefaultHistory}
		name := fmt.Sprintf("synapse=Dummy/conc=%d", conc)
		b.Run(name+"/path=floor", func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			synapseFloor(b, m, h.validator, conc)
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
		b.Run(name+"/path=harness", func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			h.bench(b, m, ld)
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// capturedRequest is the header and body of the request the harness sends
// for dummyLoad to m, as a server receives them.
func capturedRequest(b *testing.B, m *Target, key *wallet.Keypair) (http.Header, []byte) {
	var (
		header http.Header
		body   []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header.Clone()
		body, _ = io.ReadAll(r.Body)
		w.Header()["bt_header_axon_status_code"] = []string{"200"}
		w.Header()["Content-Type"] = []string{"application/json"}
		_, _ = w.Write([]byte(`{"name":"Dummy","dummy_input":3,"dummy_output":6}`))
	}))
	defer srv.Close()
	clients, err := synapseClients(1, srv.URL, m.Hotkey, &dummyLoad, key, time.Minute, httpdendrite.NewTransport())
	require.NoError(b, err)
	require.Equal(b, int32(200), clients[0].Query(context.Background(), 0).Code)
	return header, body
}

// The keys of the captured header that each call of the floor sets: the
// server received them in canonical form.
var (
	nonceKey     = http.CanonicalHeaderKey(synapse.HeaderDendriteNonce)
	signatureKey = http.CanonicalHeaderKey(synapse.HeaderDendriteSig)
)

// synapseFloor is path=floor of BenchmarkSynapseOverhead: b.N signed posts
// of the harness's request, shared by conc goroutines, each with its own
// uuid, recorded in one summary and reported as the harness reports its
// queries.
func synapseFloor(b *testing.B, m *Target, key *wallet.Keypair, conc int) {
	header, body := capturedRequest(b, m, key)
	target, err := url.Parse(m.SynapseURL + "/Dummy")
	require.NoError(b, err)
	client := &http.Client{Transport: httpdendrite.NewTransport()}
	bodyHash := header.Get(synapse.HeaderBodyHash)
	var (
		mu      sync.Mutex
		summary analysis.Summary
	)
	call := func(hdr http.Header, uuid string, scratch *[]byte) error {
		start := time.Now()
		nonce := start.UnixNano()
		msg := synapse.AppendSignedString((*scratch)[:0], nonce, key.SS58(), m.Hotkey, uuid, bodyHash)
		sig, err := synapse.AppendSignature(msg[len(msg):], key, msg)
		if err != nil {
			return err
		}
		*scratch = sig[:0]
		hdr[nonceKey] = []string{strconv.FormatInt(nonce, 10)}
		hdr[signatureKey] = []string{string(sig)}
		req := &http.Request{Method: http.MethodPost, URL: target, Header: hdr, Host: target.Host,
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		latency := time.Since(start)
		mu.Lock()
		summary.Add(history.Row{Record: history.Record{Latency: latency, Code: history.StatusOK}})
		mu.Unlock()
		return nil
	}
	type worker struct {
		hdr     http.Header
		uuid    string
		scratch []byte
	}
	workers := make([]*worker, conc)
	for i := range workers {
		w := &worker{hdr: maps.Clone(header), uuid: fmt.Sprintf("floor-%d", i), scratch: make([]byte, 0, 512)}
		for range warmupQueries {
			require.NoError(b, call(w.hdr, w.uuid, &w.scratch))
		}
		workers[i] = w
	}
	summary = analysis.Summary{}
	wall := driveFloor(b, len(workers), func(i int) error {
		w := workers[i]
		return call(w.hdr, w.uuid, &w.scratch)
	})
	reportQueryMetrics(b, &summary, wall, Load{Synapse: &dummyLoad})
}
