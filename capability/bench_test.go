package capability

import (
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"
)

func BenchmarkMint(b *testing.B) {
	f := newFixture(b)
	iss := f.iss.WithRand(rand.Reader)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := iss.Mint(baseReq); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyUncached(b *testing.B) {
	f := newFixture(b)
	tok, _ := f.mint(b, baseReq)
	v := f.ver.WithCacheSize(0)
	b.SetBytes(int64(len(tok)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok, who, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	f := newFixture(b)
	tok, _ := f.mint(b, baseReq)
	if _, err := f.ver.Verify(tok, who, t0); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(tok)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.ver.Verify(tok, who, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// The gate's real situation: a delegated token, a revocation set of
// 100,000 ids, and many callers at once.
func BenchmarkVerifyCachedParallel100kRevoked(b *testing.B) {
	f := newFixture(b)
	fillRevoked(f.rev, 100_000)
	_, root := f.mint(b, baseReq)
	tok, _, err := f.iss.Delegate(root, Request{Audience: "inst-2"})
	if err != nil {
		b.Fatal(err)
	}
	exp := Expect{Subject: who.Subject, Audience: "inst-2"}
	if _, err := f.ver.Verify(tok, exp, t0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.ver.Verify(tok, exp, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func fillRevoked(s *RevocationSet, n int) {
	var id [16]byte
	for i := range n {
		id[0], id[1], id[2], id[15] = byte(i), byte(i>>8), byte(i>>16), 0xff
		s.Revoke(base64.RawURLEncoding.EncodeToString(id[:]))
	}
}

// A full revocation check (jti, subject cut-off, a depth-2 chain) against
// 100,000 revoked ids: what a cached Verify pays after any revocation.
func BenchmarkRevocationCheck(b *testing.B) {
	f := newFixture(b)
	fillRevoked(f.rev, 100_000)
	f.rev.RevokeSubject("other.plugin", t0)
	_, root := f.mint(b, baseReq)
	_, child, _ := f.iss.Delegate(root, Request{Audience: "b"})
	_, grand, _ := f.iss.Delegate(child, Request{Audience: "c"})
	if f.rev.Len() != 100_000 {
		b.Fatalf("set has %d ids", f.rev.Len())
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := f.rev.Check(grand); err != nil {
			b.Fatal(err)
		}
	}
}

// Verify of a cached token right after a revocation elsewhere: the
// generation moved, so the entry re-checks the set once and goes back to
// the fast path.
func BenchmarkVerifyCachedAfterRevocations(b *testing.B) {
	f := newFixture(b)
	fillRevoked(f.rev, 100_000)
	tok, _ := f.mint(b, baseReq)
	f.ver.Verify(tok, who, t0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if i%1000 == 0 {
			f.rev.Revoke("x")
		}
		if _, err := f.ver.Verify(tok, who, t0.Add(time.Second)); err != nil {
			b.Fatal(err)
		}
	}
}

// A cached Verify of a depth-3 token delegated across three plugins, while
// the set holds 100,000 revoked ids and subject cut-offs for other plugins:
// while nothing is revoked the ancestors cost nothing; every 1000th call
// follows a revocation elsewhere and re-checks every ancestor's jti and
// subject cut-off once.
func BenchmarkVerifyCachedDelegated(b *testing.B) {
	f := newFixture(b)
	fillRevoked(f.rev, 100_000)
	f.rev.RevokeSubject("other.plugin", t0)
	f.rev.RevokeSubject("acme.sheets", t0.Add(-time.Hour))
	_, root := f.mint(b, baseReq)
	_, child, err := f.iss.Delegate(root, Request{Subject: "acme.viewer", Audience: "inst-2"})
	if err != nil {
		b.Fatal(err)
	}
	_, grand, err := f.iss.Delegate(child, Request{Subject: "acme.charts", Audience: "inst-3"})
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := f.iss.Delegate(grand, Request{Subject: "acme.export", Audience: "inst-4"})
	if err != nil {
		b.Fatal(err)
	}
	exp := Expect{Subject: "acme.export", Audience: "inst-4"}
	if _, err := f.ver.Verify(tok, exp, t0); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		every int
	}{{"stable", 0}, {"revocation-every-1000", 1000}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tok)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if bc.every != 0 && i%bc.every == 0 {
					f.rev.Revoke("x")
				}
				if _, err := f.ver.Verify(tok, exp, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
