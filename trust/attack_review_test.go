package trust

// Attack tests added by the independent security review (docs/threat-model.md).

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardenproject/warden/internal/keyid"
)

// TestReviewDocumentTypeConfusion: the enterprise root signs two kinds of
// document. A registry presented as a revocation list (or the reverse) is
// refused by its payload type before anything is decoded or stored, and the
// documents in force are unchanged.
func TestReviewDocumentTypeConfusion(t *testing.T) {
	home := t.TempDir()
	r := open(t, home)
	e := newEnterprise(t, r)
	p1, _ := genKey(t)
	reg := e.registry(t, 5, p1)
	rev := e.revocations(t, RevocationDoc{Version: 5, Keys: []RevokedKey{{ID: keyid.Of(p1), Reason: "x"}}})
	if _, err := r.LoadRevocations(reg); !errors.Is(err, ErrFormat) {
		t.Fatalf("registry loaded as revocations: %v, want ErrFormat", err)
	}
	if _, err := r.LoadRegistry(rev); !errors.Is(err, ErrFormat) {
		t.Fatalf("revocations loaded as registry: %v, want ErrFormat", err)
	}
	if reg, revs := r.Versions(); reg != 0 || revs != 0 {
		t.Fatalf("a refused document moved the version floors to %d, %d", reg, revs)
	}
	if _, ok := r.Lookup(keyid.Of(p1)); ok {
		t.Fatal("a refused document's key is trusted")
	}
}

// TestReviewRollbackFloorSurvivesInterleaving: after v3 of the revocation
// list, neither v2, nor v3 with other content, nor v1 is accepted, whether
// loaded directly or after a reopen, and the floors of the two document
// kinds are independent (a registry v9 does not lower or raise the list's).
func TestReviewRollbackFloorSurvivesInterleaving(t *testing.T) {
	home := t.TempDir()
	r := open(t, home)
	e := newEnterprise(t, r)
	pub, _ := genKey(t)
	docs := map[uint64][]byte{}
	for v := uint64(1); v <= 3; v++ {
		docs[v] = e.revocations(t, RevocationDoc{Version: v, Keys: []RevokedKey{{ID: keyid.Of(pub), Reason: "v"}}})
	}
	for v := uint64(1); v <= 3; v++ {
		if _, err := r.LoadRevocations(docs[v]); err != nil {
			t.Fatalf("load v%d: %v", v, err)
		}
	}
	if _, err := r.LoadRegistry(e.registry(t, 9, pub)); err != nil {
		t.Fatal(err)
	}
	other3 := e.revocations(t, RevocationDoc{Version: 3})
	for _, rr := range []*Registry{r, open(t, home)} {
		for _, d := range [][]byte{docs[1], docs[2], other3} {
			if _, err := rr.LoadRevocations(d); !errors.Is(err, ErrRollback) {
				t.Fatalf("rollback accepted: %v", err)
			}
		}
		if _, ok := rr.Revocations().RevokedKey(keyid.Of(pub)); !ok || rr.Revocations().Version() != 3 {
			t.Fatalf("v3 not in force: version %d", rr.Revocations().Version())
		}
	}
}

// TestReviewStoredDocumentRollback: the version floor is kept in state.json,
// but Open loads whatever signed document lies in the trust directory
// without comparing its version with that floor, and a missing document is
// simply "no list". Whoever can write the directory can therefore roll the
// revocation list back (or remove it) for every later process. Fixed (V-6):
// Open holds stored documents to the floor (stored_test.go has the variants).
func TestReviewStoredDocumentRollback(t *testing.T) {
	home := t.TempDir()
	r := open(t, home)
	e := newEnterprise(t, r)
	pub, _ := genKey(t)
	v1 := e.revocations(t, RevocationDoc{Version: 1})
	v2 := e.revocations(t, RevocationDoc{Version: 2, Keys: []RevokedKey{{ID: keyid.Of(pub), Reason: "stolen"}}})
	_, err := r.LoadRevocations(v1)
	must(t, err)
	_, err = r.LoadRevocations(v2)
	must(t, err)
	p := filepath.Join(home, "trust", revocationsFile)
	must(t, os.WriteFile(p, v1, 0o600))
	if r2, err := Open(home); err == nil {
		if _, revoked := r2.Revocations().RevokedKey(keyid.Of(pub)); !revoked {
			t.Errorf("an older stored list (v1 under a v2 floor) was put in force at Open")
		}
	}
	must(t, os.Remove(p))
	if r3, err := Open(home); err == nil {
		if _, revoked := r3.Revocations().RevokedKey(keyid.Of(pub)); !revoked {
			t.Errorf("a deleted stored list (floor v2) opened as no revocations at all")
		}
	}
}
