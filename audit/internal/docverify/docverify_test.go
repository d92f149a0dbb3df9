package docverify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/audit/internal/docverify"
)

// The ledger is used only to write the log; every check below is docverify's.

type key struct{ priv ed25519.PrivateKey }

func (k key) KeyID() string                   { return "k" }
func (k key) Public() ed25519.PublicKey       { return k.priv.Public().(ed25519.PublicKey) }
func (k key) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(k.priv, msg), nil }

func TestIndependentVerifier(t *testing.T) {
	seed := sha256.Sum256([]byte("docverify"))
	k := key{ed25519.NewKeyFromSeed(seed[:])}
	vkey, _ := audit.VerifierKey(k.Public())
	dir := filepath.Join(t.TempDir(), "audit")
	l, err := audit.Open(dir, audit.WithSigner(k), audit.WithCheckpointEvery(17), audit.WithSegmentSize(8<<10))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		ev := &audit.Event{Time: time.Unix(1700000000, int64(i)), Action: "fs.write",
			Actor:    audit.Actor{Plugin: "p\"q", Version: "1", Publisher: "ü\u2028<&>"},
			Resource: fmt.Sprintf("filesystem:/tmp/\x01\t%d", i), Bytes: int64(i), DurationNS: 1 << 52,
			Decision: audit.Decision{Effect: audit.EffectAsk, Answer: audit.EffectAllow, By: "rule\\1"},
			Error:    &audit.Error{Code: "E", Message: "line\nbreak"},
			Detail:   map[string]string{"z": "1", "a.b": "2", "_": "\x7f"}, Outcome: audit.OutcomeOK}
		if i%3 == 0 {
			ev.Detail = nil
			ev.Error = nil
		}
		if _, err := l.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []uint64{0, 1, 150, 255, 256, 299} {
		p, err := l.ProveInclusion(idx)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := json.Marshal(p)
		if err := docverify.VerifyProof(doc, vkey); err != nil {
			t.Fatalf("proof of %d: %v", idx, err)
		}
	}
	l.Close()
	n, err := docverify.Verify(dir, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if n != 300 {
		t.Fatalf("%d events, want 300", n)
	}
	// And it catches an edit too.
	seg := filepath.Join(dir, "00000000000000000000.seg")
	b, _ := os.ReadFile(seg)
	b[100] ^= 1
	os.WriteFile(seg, b, 0o600)
	if _, err := docverify.Verify(dir, vkey); err == nil {
		t.Fatal("independent verifier missed an edited byte")
	}
}
