package wallet

import (
	"testing"
)

// benchMessage is the size and shape of what a dendrite signs per query:
// a millisecond nonce, the sender's SS58 address and a receptor UUID.
var benchMessage = []byte("1690000000000" + aliceSS58 + "c1f3e0d2-2a9b-11ee-be56-0242ac120002")

func BenchmarkSign(b *testing.B) {
	kp := Mock("bench")
	for b.Loop() {
		if _, err := kp.Sign(benchMessage); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached is the axon's hot path with a key parsed once per
// address.
func BenchmarkVerifyCached(b *testing.B) {
	kp := Mock("bench")
	sig, err := kp.Sign(benchMessage)
	if err != nil {
		b.Fatal(err)
	}
	key := kp.Public()
	for b.Loop() {
		if !key.Verify(benchMessage, sig) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkVerifyRaw decodes the point on every call.
func BenchmarkVerifyRaw(b *testing.B) {
	kp := Mock("bench")
	sig, err := kp.Sign(benchMessage)
	if err != nil {
		b.Fatal(err)
	}
	pub := kp.PublicKey()
	for b.Loop() {
		if !Verify(pub, benchMessage, sig) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkParsePublicKeyVerify is the axon's path without a cache: decode
// the SS58 header, then verify.
func BenchmarkParsePublicKeyVerify(b *testing.B) {
	kp := Mock("bench")
	sig, err := kp.Sign(benchMessage)
	if err != nil {
		b.Fatal(err)
	}
	addr := kp.SS58()
	for b.Loop() {
		key, err := ParsePublicKey(addr)
		if err != nil {
			b.Fatal(err)
		}
		if !key.Verify(benchMessage, sig) {
			b.Fatal("signature does not verify")
		}
	}
}

func BenchmarkParsePublicKey(b *testing.B) {
	addr := Mock("bench").SS58()
	for b.Loop() {
		if _, err := ParsePublicKey(addr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSS58(b *testing.B) {
	addr := Mock("bench").SS58()
	for b.Loop() {
		if _, _, err := DecodeSS58(addr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSS58(b *testing.B) {
	pub := Mock("bench").PublicKey()
	for b.Loop() {
		if EncodeSS58(pub, NetworkPrefix) == "" {
			b.Fatal("empty address")
		}
	}
}
