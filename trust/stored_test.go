package trust

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/keyid"
)

// Attack tests for V-6: a local attacker rolls the stored enterprise
// documents back, swaps them for other signed ones, or deletes them, and the
// next Open must refuse instead of putting an older trust state in force.

func TestStoredDocumentFloor(t *testing.T) {
	type setup struct {
		home     string
		e        enterprise
		revoked  string // a key id the current list revokes
		dropped  string // a key id the current registry no longer trusts
		docs     map[string][]byte
		revPath  string
		regPath  string
		statePth string
	}
	mk := func(t *testing.T) setup {
		home := t.TempDir()
		r := open(t, home)
		e := newEnterprise(t, r)
		p1, _ := genKey(t)
		p2, _ := genKey(t)
		s := setup{home: home, e: e, revoked: keyid.Of(p1), dropped: keyid.Of(p2), docs: map[string][]byte{},
			revPath: filepath.Join(home, "trust", revocationsFile), regPath: filepath.Join(home, "trust", registryFile),
			statePth: filepath.Join(home, "trust", stateFile)}
		s.docs["rev1"] = e.revocations(t, RevocationDoc{Version: 1})
		s.docs["rev2"] = e.revocations(t, RevocationDoc{Version: 2, Keys: []RevokedKey{{ID: s.revoked, Reason: "stolen"}}})
		s.docs["rev2other"] = e.revocations(t, RevocationDoc{Version: 2, Issued: time.Unix(1, 0).UTC()})
		s.docs["reg1"] = e.registry(t, 1, p1, p2)
		s.docs["reg2"] = e.registry(t, 2, p1)
		for _, k := range []string{"rev1", "rev2", "reg1", "reg2"} {
			var err error
			if strings.HasPrefix(k, "rev") {
				_, err = r.LoadRevocations(s.docs[k])
			} else {
				_, err = r.LoadRegistry(s.docs[k])
			}
			must(t, err)
		}
		return s
	}
	cases := []struct {
		name   string
		attack func(s setup)
		want   error
		says   []string
	}{
		{"revocations rolled back", func(s setup) { os.WriteFile(s.revPath, s.docs["rev1"], 0o600) }, ErrRollback,
			[]string{revocationsFile, "version 1", "version 2", "warden trust revocations load"}},
		{"revocations deleted", func(s setup) { os.Remove(s.revPath) }, ErrMissing,
			[]string{revocationsFile, "version 2", "warden trust revocations load"}},
		{"revocations swapped for another signed v2", func(s setup) { os.WriteFile(s.revPath, s.docs["rev2other"], 0o600) }, ErrRollback,
			[]string{revocationsFile, "not the version-2 document"}},
		{"registry rolled back", func(s setup) { os.WriteFile(s.regPath, s.docs["reg1"], 0o600) }, ErrRollback,
			[]string{registryFile, "version 1", "version 2", "warden trust registry load"}},
		{"registry deleted", func(s setup) { os.Remove(s.regPath) }, ErrMissing,
			[]string{registryFile, "version 2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mk(t)
			c.attack(s)
			_, err := Open(s.home)
			if !errors.Is(err, c.want) {
				t.Fatalf("Open after the attack: %v, want %v", err, c.want)
			}
			for _, w := range c.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error does not say %q: %v", w, err)
				}
			}
			// ForReload opens, without the refused document in force, and
			// the current document (the same version) repairs the state.
			r, err := Open(s.home, ForReload())
			must(t, err)
			if _, ok := r.Revocations().RevokedKey(s.revoked); ok && strings.Contains(c.name, "revocations") {
				t.Fatal("ForReload put the refused list in force")
			}
			if _, ok := r.Lookup(s.dropped); ok {
				t.Fatal("ForReload put the rolled-back registry in force")
			}
			if _, err := r.LoadRevocations(s.docs["rev1"]); !errors.Is(err, ErrRollback) {
				t.Fatalf("ForReload accepted an older list: %v", err)
			}
			if _, err := r.LoadRevocations(s.docs["rev2other"]); !errors.Is(err, ErrRollback) {
				t.Fatalf("ForReload accepted another list of the floor's version: %v", err)
			}
			_, err = r.LoadRevocations(s.docs["rev2"])
			must(t, err)
			_, err = r.LoadRegistry(s.docs["reg2"])
			must(t, err)
			r = open(t, s.home)
			if _, ok := r.Revocations().RevokedKey(s.revoked); !ok {
				t.Fatal("the reloaded list is not in force")
			}
			if _, ok := r.Lookup(s.dropped); ok {
				t.Fatal("a key the current registry dropped is trusted")
			}
		})
	}
}

// A crash between writing a document and state.json leaves a stored document
// newer than the floor: that opens, and the floor catches up on disk.
func TestStoredDocumentAheadOfFloor(t *testing.T) {
	home := t.TempDir()
	r := open(t, home)
	e := newEnterprise(t, r)
	_, err := r.LoadRevocations(e.revocations(t, RevocationDoc{Version: 1}))
	must(t, err)
	v3 := e.revocations(t, RevocationDoc{Version: 3})
	must(t, os.WriteFile(filepath.Join(home, "trust", revocationsFile), v3, 0o600))
	r = open(t, home)
	if _, revs := r.Versions(); revs != 3 {
		t.Fatalf("floor %d after opening a stored v3, want 3", revs)
	}
	var st versions
	b, _ := os.ReadFile(filepath.Join(home, "trust", stateFile))
	must(t, json.Unmarshal(b, &st))
	if st.Revocations != 3 || st.RevocationsDigest != docDigest(v3) {
		t.Fatalf("state.json not brought forward: %+v", st)
	}
	if _, err := r.LoadRevocations(e.revocations(t, RevocationDoc{Version: 2})); !errors.Is(err, ErrRollback) {
		t.Fatalf("v2 after a stored v3: %v", err)
	}
}

// A state.json written before digests were recorded gets one at the next
// Open, from the document stored at the floor.
func TestStoredDocumentLegacyState(t *testing.T) {
	home := t.TempDir()
	r := open(t, home)
	e := newEnterprise(t, r)
	v2 := e.revocations(t, RevocationDoc{Version: 2})
	_, err := r.LoadRevocations(v2)
	must(t, err)
	p := filepath.Join(home, "trust", stateFile)
	must(t, os.WriteFile(p, []byte(`{"registry_version":0,"revocations_version":2}`), 0o600))
	open(t, home)
	var st versions
	b, _ := os.ReadFile(p)
	must(t, json.Unmarshal(b, &st))
	if st.RevocationsDigest != docDigest(v2) {
		t.Fatalf("digest not recorded: %+v", st)
	}
	// Floors of 0 with no documents are a fresh home, not a deletion.
	open(t, t.TempDir())
}
