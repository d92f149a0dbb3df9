package audit

// Attack tests added by the independent security review (docs/threat-model.md).

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestReviewTamperedHashCacheNeverYieldsAWrongProof: the stored-hash cache
// is derived data that Open trusts only where it reproduces the latest
// checkpoint's root. An attacker edits a leaf hash that the root check does
// not read. The ledger must still open and keep appending correctly, and
// ProveInclusion must refuse (ErrHashCache) rather than hand a third party a
// proof that does not verify; every proof it does return must verify.
func TestReviewTamperedHashCacheNeverYieldsAWrongProof(t *testing.T) {
	dir := copyDir(t, buildLog(t, 40))
	const victim = 5
	p := filepath.Join(dir, hashFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	off := hashHeaderSize + tlog.StoredHashIndex(0, victim)*tlog.HashSize
	b[off] ^= 0xff
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}

	l := openTest(t, dir)
	defer l.Close()
	v, _ := Verifiers(vkey(t, newTestKey("host")))
	for i := uint64(0); i < 40; i++ {
		pr, err := l.ProveInclusion(i)
		if err != nil {
			if !errors.Is(err, ErrHashCache) {
				t.Fatalf("prove %d: %v, want ErrHashCache or a good proof", i, err)
			}
			continue
		}
		data, _ := jsonMarshal(pr)
		if _, _, err := VerifyProof(data, v); err != nil {
			t.Fatalf("ProveInclusion(%d) returned a proof that does not verify: %v", i, err)
		}
	}
	// The edited leaf hash is the sibling on the proof path of event 4
	// (event 5's own proof starts from its record, not from the cache).
	if _, err := l.ProveInclusion(victim ^ 1); !errors.Is(err, ErrHashCache) {
		t.Fatalf("prove the sibling of the event whose stored hash was edited: %v, want ErrHashCache", err)
	}
	// New events and a new checkpoint still commit to the true records.
	for i := 40; i < 45; i++ {
		if _, err := l.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := treeRoot(t, readAllRecords(t, dir), int(c.Size)); c.Root != want {
		t.Fatalf("checkpoint after a tampered cache commits to %x, the records hash to %x", c.Root, want)
	}
	// And the offline verifier names the cache, so the damage is not silent.
	if err := verifyWith(t, dir, VerifyOptions{}); !errors.Is(err, ErrHashCache) {
		t.Fatalf("verify: %v, want ErrHashCache", err)
	}
}

// TestReviewHistoryRewriteNeedsTheCheckpoints: an attacker without the host
// key deletes the checkpoint file and rewrites history (an event edited,
// records renumbered, the cache dropped). No signature covers the forged
// records, so verify must not report them as signed; with a checkpoint kept
// by a monitor the rewrite is refused outright.
func TestReviewHistoryRewriteNeedsTheCheckpoints(t *testing.T) {
	base := buildLog(t, 30)
	notes := readNotes(t, base)
	v, _ := Verifiers(vkey(t, newTestKey("host")))
	trusted, err := ParseCheckpoint(notes[len(notes)-1], v)
	if err != nil {
		t.Fatal(err)
	}
	dir := copyDir(t, base)
	r := readAllRecords(t, dir)
	r[7].payload = bytes.Replace(r[7].payload, []byte("fs.read"), []byte("fs.stat"), 1)
	writeAllRecords(t, dir, r, true)
	if err := os.Remove(filepath.Join(dir, ckptFile)); err != nil {
		t.Fatal(err)
	}

	rep, err := VerifyDir(context.Background(), dir, v, VerifyOptions{})
	t.Logf("verify without checkpoints: report %+v, error %v", rep, err)
	if err == nil && (rep.Checkpoints != 0 || rep.Latest != nil || rep.Unsigned != uint64(len(r))) {
		t.Fatalf("a rewritten log without checkpoints verified as signed: %+v", rep)
	}
	if _, err := VerifyDir(context.Background(), dir, v, VerifyOptions{Trusted: &trusted}); err == nil {
		t.Fatal("a rewritten log verified against the checkpoint a monitor kept")
	}
	// Putting the old checkpoints back on the rewritten records is caught.
	writeNotes(t, dir, notes)
	if _, err := VerifyDir(context.Background(), dir, v, VerifyOptions{}); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("old checkpoints over rewritten records: %v, want ErrRootMismatch", err)
	}
}

// TestReviewRewrittenHistoryIsNotResigned: the same rewrite as above, then
// the host opens the ledger. With no checkpoint left to compare against,
// Open accepts the forged records as its history, and the next checkpoint
// signs them with the host key: from then on verify passes. The host must
// at least not do so silently (refuse, or log the missing checkpoints as a
// ledger.recover event) — better, remember its latest checkpoint outside the
// ledger directory. Fixed (V-4): Open compares the log with its witness
// (witness_test.go has the variants).
func TestReviewRewrittenHistoryIsNotResigned(t *testing.T) {
	dir := copyDir(t, buildLog(t, 30))
	r := readAllRecords(t, dir)
	r[7].payload = bytes.Replace(r[7].payload, []byte("fs.read"), []byte("fs.stat"), 1)
	writeAllRecords(t, dir, r, true)
	if err := os.Remove(filepath.Join(dir, ckptFile)); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir, WithSigner(newTestKey("host")))
	if err != nil {
		return // refused: fixed
	}
	defer l.Close()
	for e, err := range l.Read(uint64(len(r))) {
		if err == nil && e.Event.Action == ActionLedgerRecover {
			return // the gap is on the record: fixed
		}
	}
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := verifyWith(t, dir, VerifyOptions{}); err == nil {
		t.Fatal("the host re-signed a rewritten history without a word, and verify passes")
	}
}
