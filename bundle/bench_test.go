package bundle

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"
)

// benchBundle is a signed bundle with a 2 MiB entry, the size of a small Go
// wasip1 plugin.
func benchBundle(b *testing.B) (*Bundle, []byte, Keys) {
	p := newPublisher(b, "Acme")
	entry := make([]byte, 2<<20)
	rand.Read(entry)
	copy(entry, tinyWasm)
	bd := packSigned(b, writePlugin(b, p, "demo", "1.0.0", entry), p)
	return bd, encode(b, bd), trust(p.key(time.Time{}))
}

func BenchmarkRead2MiB(b *testing.B) {
	_, raw, _ := benchBundle(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Read(bytes.NewReader(raw), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify2MiB(b *testing.B) {
	bd, _, keys := benchBundle(b)
	o := VerifyOptions{Keys: keys}
	b.ReportAllocs()
	for b.Loop() {
		if r := Verify(ctx, bd, o); !r.OK() {
			b.Fatal(r.Reason)
		}
	}
}

func BenchmarkEncode2MiB(b *testing.B) {
	bd, raw, _ := benchBundle(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := bd.Encode(&buf, nil); err != nil {
			b.Fatal(err)
		}
	}
}
