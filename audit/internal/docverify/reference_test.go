package docverify

// The independent verifier is checked against outside implementations too:
// its tree against golang.org/x/mod/sumdb/tlog, its canonical form against
// github.com/gowebpki/jcs, on the pinned vectors and on random input. Were
// it wrong in the same way as package audit, the tests that run it on the
// ledger's logs could not see it.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	rfc8785 "github.com/gowebpki/jcs"
	"golang.org/x/mod/sumdb/tlog"
	"pgregory.net/rapid"
)

type memHashes []tlog.Hash

func (s memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(s)) {
			return nil, fmt.Errorf("stored hash %d of %d", x, len(s))
		}
		out[i] = s[x]
	}
	return out, nil
}

// TestTreeIsTlog: mth and leafHash give tlog.TreeHash and tlog.RecordHash
// for every size up to 130 (around 2^5, 2^6 and 2^7).
func TestTreeIsTlog(t *testing.T) {
	var stored memHashes
	var leaves [][32]byte
	for n := 0; n <= 130; n++ {
		want, err := tlog.TreeHash(int64(n), stored)
		if err != nil {
			t.Fatal(err)
		}
		if got := mth(leaves); got != want {
			t.Fatalf("mth of %d leaves %x, tlog.TreeHash %x", n, got, want)
		}
		rec := fmt.Appendf(nil, "record %d", n)
		if leafHash(rec) != tlog.RecordHash(rec) {
			t.Fatalf("leafHash(%q) is not tlog.RecordHash", rec)
		}
		hs, err := tlog.StoredHashes(int64(n), rec, stored)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		leaves = append(leaves, leafHash(rec))
	}
}

// TestCanonicalIsJCS: the vectors' canonical events pass checkCanonical and
// their hand-written forms do not (unless already canonical); random JSON
// objects of strings and safe integers are canonical to checkCanonical
// exactly when gowebpki/jcs leaves them unchanged.
func TestCanonicalIsJCS(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Events []struct {
			Event     json.RawMessage `json:"event"`
			Canonical string          `json:"canonical"`
			LeafHash  string          `json:"leaf_hash"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for i, v := range f.Events {
		if err := checkCanonical([]byte(v.Canonical)); err != nil {
			t.Errorf("vector %d: %v", i, err)
		}
		if h := leafHash([]byte(v.Canonical)); base64.StdEncoding.EncodeToString(h[:]) != v.LeafHash {
			t.Errorf("vector %d: leaf hash", i)
		}
		if checkCanonical(v.Event) == nil {
			t.Errorf("vector %d: the hand-written event passed as canonical", i)
		}
	}
	str := rapid.OneOf(rapid.String(), rapid.SampledFrom([]string{"\u2028", "\x7f", "\x00", "\b", "/", "<&>", "\U0001F600", "é", "\\", `"`}))
	rapid.Check(t, func(rt *rapid.T) {
		obj := map[string]any{}
		for _, k := range rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z_.-]{1,8}`), 1, 6, rapid.ID).Draw(rt, "keys") {
			if rapid.Bool().Draw(rt, "int") {
				obj[k] = rapid.Int64Range(0, 1<<53-1).Draw(rt, "n")
			} else {
				obj[k] = rapid.String().Draw(rt, "s") + str.Draw(rt, "tail")
			}
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			rt.Fatal(err)
		}
		canon, err := rfc8785.Transform(raw)
		if err != nil {
			rt.Fatal(err)
		}
		if err := checkCanonical(canon); err != nil {
			rt.Fatalf("docverify refuses RFC 8785 output %q: %v", canon, err)
		}
		// encoding/json escapes <, > and & and sorts keys bytewise: when
		// that differs from JCS, docverify must say so.
		if string(canon) != string(raw) && checkCanonical(raw) == nil {
			rt.Fatalf("docverify accepts %q, whose RFC 8785 form is %q", raw, canon)
		}
	})
}
