package synapse

import "testing"

// BenchmarkParseRequest parses the headers of a real request; it
// allocates nothing.
func BenchmarkParseRequest(b *testing.B) {
	h := serverHeader(goldenHeaders)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(h, echoFields); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBodyHash hashes a real request body; it allocates nothing.
func BenchmarkBodyHash(b *testing.B) {
	body, fields := []byte(golden.body), []string{"text"}
	buf := make([]byte, 0, BodyHashSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppendBodyHash(buf[:0], body, fields); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNonceAccept accepts increasing nonces of one key.
func BenchmarkNonceAccept(b *testing.B) {
	n := NewNonces(0)
	r := nonceReq(golden.alice+":"+golden.uuid, golden.nonce, Some[int64](Version), Some(12.0))
	b.ReportAllocs()
	for b.Loop() {
		r.Nonce++
		if err := n.Accept(r, golden.nonce); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify verifies a real request, signature included, with a
// fresh nonce each time.
func BenchmarkVerify(b *testing.B) {
	r, err := ParseRequest(serverHeader(goldenHeaders), echoFields)
	if err != nil {
		b.Fatal(err)
	}
	r.Dendrite.Signature = Some("") // unsigned: the nonce store and parsing only
	v := NewVerifier(golden.bob, NewNonces(0))
	b.ReportAllocs()
	for b.Loop() {
		r.Dendrite.Nonce.V++
		if err := v.Verify(&r, r.Dendrite.Nonce.V); err != nil {
			b.Fatal(err)
		}
	}
}
