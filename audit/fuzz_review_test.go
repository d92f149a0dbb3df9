package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gowebpki/jcs"
)

// FuzzVerifyProof fuzzes the offline inclusion-proof verifier, which reads
// documents anyone can hand a verifier. Nothing panics, every refusal has a
// stable kind, and, since the fuzzer holds no host key, it can only reuse the
// signed checkpoints of the seeds: for one signed root, each index must prove
// exactly one event (each fuzz worker builds its own ledger, so the check is
// against what this process has accepted, not against a fixed list).
func FuzzVerifyProof(f *testing.F) {
	l := openTest(f, f.TempDir())
	defer l.Close()
	for i := range 5 {
		if _, err := l.Append(context.Background(), testEvent(i)); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(context.Background()); err != nil {
		f.Fatal(err)
	}
	for i := range uint64(5) {
		p, err := l.ProveInclusion(i)
		if err != nil {
			f.Fatal(err)
		}
		data, err := json.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		if i == 2 {
			// The interesting wrong shapes of one genuine proof.
			q := *p
			q.Index = 3
			f.Add(mustJSON(f, q))
			q = *p
			q.Hashes = append(slices.Clone(q.Hashes), q.Hashes[0])
			f.Add(mustJSON(f, q))
			q = *p
			q.Hashes = q.Hashes[:len(q.Hashes)-1]
			f.Add(mustJSON(f, q))
			q = *p
			q.Event = json.RawMessage(`{"action":"fs.write"}`)
			f.Add(mustJSON(f, q))
			q = *p
			q.Event = nil
			f.Add(mustJSON(f, q))
			q = *p
			q.TreeSize = 1 << 63
			f.Add(mustJSON(f, q))
			q = *p
			q.Hashes[0] = "AAAA"
			f.Add(mustJSON(f, q))
			q = *p
			q.Checkpoint = strings.Replace(q.Checkpoint, "\n5\n", "\n18446744073709551615\n", 1)
			f.Add(mustJSON(f, q))
		}
	}
	f.Add([]byte(`{"format":"x"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	v, err := Verifiers(vkey(f, newTestKey("host")))
	if err != nil {
		f.Fatal(err)
	}
	var mu sync.Mutex
	accepted := map[string]string{} // origin, root, index -> event_canonical
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, c, err := VerifyProof(data, v)
		if err != nil {
			if !errors.Is(err, ErrBadProof) && !errors.Is(err, ErrMalformedCheckpoint) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("refusal of no stable kind: %v", err)
			}
			return
		}
		var p Proof
		if json.Unmarshal(data, &p) != nil {
			t.Fatal("accepted a document that does not decode")
		}
		if ev == nil || c.Size != 5 {
			t.Fatalf("accepted a proof against a tree of %d, not the signed tree of 5", c.Size)
		}
		key := fmt.Sprintf("%s %x %d", c.Origin, c.Root, p.Index)
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := accepted[key]; ok && prev != p.Canonical {
			t.Fatalf("two events proved at index %d of one signed root:\n%q\n%q", p.Index, prev, p.Canonical)
		}
		accepted[key] = p.Canonical
	})
}

// FuzzParseEvent: ParseEvent reads events out of proofs and exports; it
// must refuse with an error, never panic. Whatever it accepts and the
// canonical encoder takes must be a fixed point: the canonical bytes are
// valid JSON, an outside RFC 8785 implementation (gowebpki/jcs) leaves them
// unchanged, and they parse back to the same canonical bytes (RFC 8785 is
// idempotent; a verifier re-hashing a re-encoded event relies on it).
func FuzzParseEvent(f *testing.F) {
	for i := range 3 {
		e := testEvent(i)
		e.ID = "a-" + string(rune('0'+i))
		b, err := json.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{}`, `null`, `[]`, `{"time":"x"}`, `{"bytes":1e400}`, `{"detail":{"a":1}}`, `{"decision":null}`,
		"{\"id\":\"x\",\"action\":\"\xff\",\"time\":\"2025-01-01T00:00:00Z\"}",
		`{"id":"x","action":"a","time":"2025-01-01T00:00:00+01:00","detail":{"k":"\u2028\ud800"}}`,
		`{"id":"x","action":"a","time":"2025-01-01T00:00:00.123456789123Z","bytes":9007199254740993}`,
		`{"time":"2025-01-01T00:00:00Z","time":"0000-01-01T00:00:00Z"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvent(data)
		if err != nil {
			return
		}
		if e == nil {
			t.Fatal("nil event without error")
		}
		canon, err := e.AppendCanonical(nil)
		if err != nil {
			return
		}
		if !json.Valid(canon) {
			t.Fatalf("canonical encoding is not JSON: %q", canon)
		}
		// An outside RFC 8785 implementation leaves it as it is.
		if outside, err := jcs.Transform(canon); err != nil || !bytes.Equal(outside, canon) {
			t.Fatalf("canonical encoding is not RFC 8785 canonical:\n%q\njcs: %q (%v)", canon, outside, err)
		}
		e2, err := ParseEvent(canon)
		if err != nil {
			t.Fatalf("canonical encoding %q does not parse: %v", canon, err)
		}
		again, err := e2.AppendCanonical(nil)
		if err != nil || string(again) != string(canon) {
			t.Fatalf("canonical encoding is not a fixed point:\n%q\n%q (%v)", canon, again, err)
		}
	})
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
