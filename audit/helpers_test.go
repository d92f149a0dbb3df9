package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

// testKey is the local Ed25519 adapter the tests sign with; hostkey's ring
// plays this role in the host.
type testKey struct{ priv ed25519.PrivateKey }

func newTestKey(seed string) *testKey {
	s := sha256.Sum256([]byte(seed))
	return &testKey{priv: ed25519.NewKeyFromSeed(s[:])}
}

func (k *testKey) KeyID() string                   { return "test:" + fmt.Sprintf("%x", k.Public()[:4]) }
func (k *testKey) Public() ed25519.PublicKey       { return k.priv.Public().(ed25519.PublicKey) }
func (k *testKey) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(k.priv, msg), nil }

func testEvent(i int) *Event {
	h := fmt.Sprintf("sha256:%064x", i)
	return &Event{
		Time:     time.Date(2025, 3, 1, 12, 0, 0, i, time.UTC),
		Actor:    Actor{Plugin: "sheet-gen", Version: "1.2.0", Publisher: "acme"},
		Session:  "s-1",
		Instance: "i-7",
		Action:   "fs.read",
		Resource: fmt.Sprintf("filesystem:/home/u/doc-%d.txt", i),
		CapHash:  h,
		Decision: Decision{Effect: EffectAllow, By: "grant:g-1"},
		Outcome:  OutcomeOK,
		Bytes:    int64(100 + i),
		Detail:   map[string]string{"tool": "summarize"},
	}
}

func openTest(t testing.TB, dir string, opts ...Option) *Ledger {
	t.Helper()
	l, err := Open(dir, append([]Option{WithSigner(newTestKey("host"))}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func vkey(t testing.TB, k *testKey) string {
	t.Helper()
	v, err := VerifierKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return v
}
