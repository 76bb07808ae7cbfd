package httpdendrite

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
)

// benchAnswer is a fixed 200 answer, so that a benchmark measures the
// client and a server that does nothing.
var benchAnswer = answer(200, map[string]string{"Content-Type": "application/json", "bt_header_axon_status_code": "200",
	"bt_header_axon_status_message": "Success", "bt_header_axon_process_time": "0.0001"}, `{"name":"Echo","text":"HELLO"}`)

// BenchmarkQuery is one query of a Client against a local server that
// answers at once; compare its allocs/op with BenchmarkNetHTTPFloor's.
// "signed" signs each query as the Client does; "presigned" reuses one
// signature, to show what the Client costs besides the sr25519 signing.
func BenchmarkQuery(b *testing.B) {
	for _, presigned := range []bool{false, true} {
		name := "signed"
		if presigned {
			name = "presigned"
		}
		b.Run(name, func(b *testing.B) {
			srv := serve(b, benchAnswer)
			c := newTestClient(b, srv.URL, nil)
			if presigned {
				c.sign = func(dst, _ []byte) ([]byte, error) { return append(dst, goldenSig...), nil }
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if r := c.Query(ctx); r.Code != 200 {
					b.Fatal(r.Code, r.Message)
				}
			}
		})
	}
}

// BenchmarkNetHTTPFloor is the same exchange made the plain net/http way:
// a request with the same headers and body, its answer read and
// discarded, without signing or checking anything.
func BenchmarkNetHTTPFloor(b *testing.B) {
	srv := serve(b, benchAnswer)
	c := newTestClient(b, srv.URL, nil)
	cl := c.freeCall()
	cl.fill(c.tmpl, 1767225600000000000, []byte(goldenSig))
	body, header := bytes.Clone(cl.body), cl.req.Header.Clone()
	client := &http.Client{Transport: NewTransport()}
	defer client.CloseIdleConnections()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/Echo", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header = header
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}
