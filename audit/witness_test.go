package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// Attack tests for the witness (V-4): whoever can write the ledger directory
// rewrites history in every way that leaves the directory self-consistent,
// and Open must refuse rather than sign the result.

func readWitnessT(t *testing.T, dir string) Checkpoint {
	t.Helper()
	v, _ := Verifiers(vkey(t, newTestKey("host")))
	c, ok, err := ReadWitness(DefaultWitnessPath(dir), v)
	if err != nil || !ok {
		t.Fatalf("read witness of %s: ok=%v err=%v", dir, ok, err)
	}
	return c
}

// openRefused opens dir and wants an *IntegrityError of kind want.
func openRefused(t *testing.T, dir string, want error) *IntegrityError {
	t.Helper()
	l, err := Open(dir, WithSigner(newTestKey("host")))
	if err == nil {
		l.Close()
		t.Fatalf("Open accepted the ledger; want %v", want)
	}
	var ie *IntegrityError
	if !errors.As(err, &ie) || !errors.Is(err, want) {
		t.Fatalf("Open: %v, want an *IntegrityError of kind %v", err, want)
	}
	return ie
}

func TestWitnessFollowsCheckpoints(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, WithCheckpointEvery(5))
	// Written before the first event, so "events but no witness" is never a
	// crash state.
	if w := readWitnessT(t, dir); w.Size != 0 || w.Origin != l.Origin() {
		t.Fatalf("witness of a new ledger: size %d origin %q", w.Size, w.Origin)
	}
	if l.WitnessPath() != DefaultWitnessPath(dir) || strings.HasPrefix(l.WitnessPath(), dir+string(filepath.Separator)) {
		t.Fatalf("witness path %s is inside the ledger directory %s", l.WitnessPath(), dir)
	}
	for i := range 12 {
		if _, err := l.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if w := readWitnessT(t, dir); w.Size != c.Size || !bytes.Equal(w.Note, c.Note) {
		t.Fatalf("witness holds %d events, latest checkpoint %d", w.Size, c.Size)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(DefaultWitnessPath(dir) + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary witness left behind: %v", err)
	}
}

func TestWitnessRefusesRewrittenHistory(t *testing.T) {
	base := buildLog(t, 30) // checkpoints at 10, 20, 30; witness at 30
	forge := func(t *testing.T, dir string, keep int) {
		r := readAllRecords(t, dir)
		r[keep+2].payload = bytes.Replace(r[keep+2].payload, []byte("fs.read"), []byte("fs.stat"), 1)
		writeAllRecords(t, dir, r, true)
	}
	t.Run("checkpoints deleted", func(t *testing.T) {
		dir := copyDir(t, base)
		forge(t, dir, 0)
		os.Remove(filepath.Join(dir, ckptFile))
		ie := openRefused(t, dir, ErrRollback)
		if ie.File != DefaultWitnessPath(dir) || !strings.Contains(ie.Error(), "30 events") {
			t.Fatalf("the error does not name the witness and its size: %v", ie)
		}
	})
	t.Run("checkpoints emptied", func(t *testing.T) {
		dir := copyDir(t, base)
		forge(t, dir, 0)
		writeNotes(t, dir, nil) // the magic header alone, as a new log has
		openRefused(t, dir, ErrRollback)
	})
	t.Run("checkpoints cut back and the rest rewritten", func(t *testing.T) {
		dir := copyDir(t, base)
		writeNotes(t, dir, readNotes(t, dir)[:1]) // keep the checkpoint of 10
		forge(t, dir, 10)
		openRefused(t, dir, ErrRollback)
	})
	t.Run("witness deleted too", func(t *testing.T) {
		dir := copyDir(t, base)
		forge(t, dir, 0)
		os.Remove(filepath.Join(dir, ckptFile))
		os.Remove(DefaultWitnessPath(dir))
		openRefused(t, dir, ErrWitnessMissing)
	})
	t.Run("witness deleted, checkpoints intact", func(t *testing.T) {
		dir := copyDir(t, base)
		os.Remove(DefaultWitnessPath(dir))
		openRefused(t, dir, ErrWitnessMissing)
	})
	t.Run("witness garbage", func(t *testing.T) {
		dir := copyDir(t, base)
		os.WriteFile(DefaultWitnessPath(dir), []byte("warden.audit/x\n30\nAAAA\n\n— warden-host AAAA\n"), 0o600)
		l, err := Open(dir, WithSigner(newTestKey("host")))
		var ie *IntegrityError
		if err == nil || !errors.As(err, &ie) || (ie.Kind != ErrBadSignature && ie.Kind != ErrMalformedCheckpoint) {
			if l != nil {
				l.Close()
			}
			t.Fatalf("Open with a damaged witness: %v", err)
		}
	})
	t.Run("witness of a foreign key", func(t *testing.T) {
		dir := copyDir(t, base)
		w := readWitnessT(t, dir)
		ns, _ := newNoteSigner(newTestKey("attacker"))
		c, _ := signCheckpoint(ns, w.Origin, 0, w.Root)
		os.WriteFile(DefaultWitnessPath(dir), c.Note, 0o600)
		openRefused(t, dir, ErrBadSignature)
	})
	t.Run("directory replaced by another log", func(t *testing.T) {
		dir := copyDir(t, base)
		other := buildLog(t, 30)
		for _, name := range []string{originFile, ckptFile, segName(0)} {
			os.Remove(filepath.Join(dir, name))
		}
		names, _ := listSegments(dir)
		for _, n := range names {
			os.Remove(filepath.Join(dir, n))
		}
		os.Remove(filepath.Join(dir, hashFile))
		ents, _ := os.ReadDir(other)
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(other, e.Name()))
			os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600)
		}
		openRefused(t, dir, ErrWitnessMismatch)
	})
	t.Run("forked history", func(t *testing.T) {
		// Two copies of one log grow apart; one gets the other's witness.
		a, b := copyDir(t, base), copyDir(t, base)
		grow := func(dir string, n int, tag string) {
			l := openTest(t, dir)
			for i := range n {
				ev := testEvent(100 + i)
				ev.Resource = "filesystem:/" + tag
				if _, err := l.Append(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}
		grow(a, 3, "a")
		grow(b, 5, "b")
		wa, _ := os.ReadFile(DefaultWitnessPath(a))
		os.WriteFile(DefaultWitnessPath(b), wa, 0o600)
		openRefused(t, b, ErrWitnessMismatch)
	})
	t.Run("directory wiped", func(t *testing.T) {
		dir := copyDir(t, base)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() != originFile {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
		openRefused(t, dir, ErrRollback)
	})
}

// A crash before the first checkpoint leaves events, an empty checkpoints
// file and a witness of the empty tree: that must open. Deleting the
// checkpoints file of that state must not.
func TestWitnessBeforeFirstCheckpoint(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, WithCheckpointInterval(1<<40), WithCheckpointEvery(1<<40))
	for i := range 5 {
		if _, err := l.Enqueue(testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	crashed := copyDir(t, dir) // the state a SIGKILL would leave
	l.Close()
	if c, ok := func() (Checkpoint, bool) { l := openTest(t, copyDir(t, crashed)); defer l.Close(); return l.Latest() }(); ok && c.Size != 0 {
		t.Fatalf("a crash before the first checkpoint left a checkpoint of %d", c.Size)
	}
	tampered := copyDir(t, crashed)
	os.Remove(filepath.Join(tampered, ckptFile))
	openRefused(t, tampered, ErrCheckpointsMissing)
}

// The witness may lag behind the checkpoints file (a crash between the two
// writes): the log extends it, so Open accepts it, even when the hash cache
// it builds the consistency proof from was damaged.
func TestWitnessOlderThanLatestIsFine(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir)
	for i := range 13 {
		if _, err := l.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(DefaultWitnessPath(dir))
	for i := 13; i < 40; i++ {
		if _, err := l.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(DefaultWitnessPath(dir), old, 0o600); err != nil {
		t.Fatal(err)
	}
	// Damage a stored hash the consistency proof 13 → 40 reads but the root
	// check of 40 does not: the leaf hash of event 12.
	p := filepath.Join(dir, hashFile)
	b, _ := os.ReadFile(p)
	b[hashHeaderSize+tlog.StoredHashIndex(0, 12)*tlog.HashSize] ^= 1
	os.WriteFile(p, b, 0o600)
	l = openTest(t, dir)
	defer l.Close()
	if got := l.Recovered(); len(got) != 0 {
		t.Fatalf("a lagging witness was treated as a recovery: %q", got)
	}
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w := readWitnessT(t, dir); w.Size != 40 {
		t.Fatalf("witness not brought forward: %d", w.Size)
	}
}

func TestWitnessRecovery(t *testing.T) {
	dir := copyDir(t, buildLog(t, 30))
	r := readAllRecords(t, dir)
	r[7].payload = bytes.Replace(r[7].payload, []byte("fs.read"), []byte("fs.stat"), 1)
	writeAllRecords(t, dir, r, true)
	os.Remove(filepath.Join(dir, ckptFile))

	l := openTest(t, dir, WithRecovery("restored from backup, ticket 42"))
	rec := l.Recovered()
	if len(rec) != 1 || !strings.Contains(rec[0], "rolled back") || !strings.Contains(rec[0], "30 events") {
		t.Fatalf("Recovered() = %q", rec)
	}
	e, err := l.Get(30)
	if err != nil || e.Event.Action != ActionLedgerRecover || e.Event.Detail["kind"] != "rollback" ||
		e.Event.Detail["note"] != "restored from backup, ticket 42" || e.Event.Detail["witness"] != DefaultWitnessPath(dir) {
		t.Fatalf("event 30 is not the recovery record: %+v, %v", e.Event, err)
	}
	c, ok := l.Latest()
	if !ok || c.Size != 31 {
		t.Fatalf("recovery did not sign a checkpoint covering its own record: %+v", c)
	}
	if w := readWitnessT(t, dir); w.Size != 31 {
		t.Fatalf("witness after recovery: %d", w.Size)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// From now on the ledger opens normally, and the gap stays on the record.
	l = openTest(t, dir)
	if len(l.Recovered()) != 0 {
		t.Fatal("a second open recovered again")
	}
	l.Close()

	// Recovery never papers over events that do not match their checkpoints.
	dir2 := copyDir(t, buildLog(t, 30))
	r2 := readAllRecords(t, dir2)
	r2[7].payload = bytes.Replace(r2[7].payload, []byte("fs.read"), []byte("fs.stat"), 1)
	writeAllRecords(t, dir2, r2, true)
	if _, err := Open(dir2, WithSigner(newTestKey("host")), WithRecovery("x")); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("recovery over rewritten signed events: %v, want ErrRootMismatch", err)
	}
}

func TestWitnessCatchesRewriteInVerify(t *testing.T) {
	base := buildLog(t, 30)
	v, _ := Verifiers(vkey(t, newTestKey("host")))
	dir := copyDir(t, base)
	r := readAllRecords(t, dir)
	r[7].payload = bytes.Replace(r[7].payload, []byte("fs.read"), []byte("fs.stat"), 1)
	writeAllRecords(t, dir, r, true)
	os.Remove(filepath.Join(dir, ckptFile))
	w, ok, err := ReadWitness(DefaultWitnessPath(dir), v)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := VerifyDir(context.Background(), dir, v, VerifyOptions{MoreTrusted: []Checkpoint{w}}); !errors.Is(err, ErrRollback) {
		t.Fatalf("verify with the witness, checkpoints gone: %v, want ErrRollback", err)
	}
	// The trusted checkpoint must belong to this log.
	other := readWitnessT(t, buildLog(t, 5))
	if _, err := VerifyDir(context.Background(), base, v, VerifyOptions{Trusted: &other}); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("verify with another log's checkpoint: %v, want ErrInconsistent", err)
	}
	if _, err := VerifyDir(context.Background(), base, v, VerifyOptions{MoreTrusted: []Checkpoint{readWitnessT(t, base)}}); err != nil {
		t.Fatalf("verify of an intact log with its witness: %v", err)
	}
}

func TestReadOnlyIgnoresWitness(t *testing.T) {
	dir := copyDir(t, buildLog(t, 10))
	os.Remove(DefaultWitnessPath(dir))
	l, err := Open(dir, ReadOnly())
	if err != nil {
		t.Fatalf("read-only open without a witness: %v", err)
	}
	l.Close()
	if _, err := os.Stat(DefaultWitnessPath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a read-only open wrote a witness")
	}
}

// TestVerifyAppliesTheWitnessRule: VerifyDir with VerifyOptions.Witness
// refuses what Open refuses (issue 10: verify used to pass a ledger whose
// witness was gone while the host refused it), and accepts a copy without
// its witness only when told to, saying so in the report.
func TestVerifyAppliesTheWitnessRule(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir)
	for i := range 4 {
		if _, err := l.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	v, _ := Verifiers(vkey(t, newTestKey("host")))
	wpath := DefaultWitnessPath(dir)
	rep, err := VerifyDir(context.Background(), dir, v, VerifyOptions{Witness: wpath})
	if err != nil || rep.Witness == nil || rep.Witness.Size != 4 || rep.WitnessMissing {
		t.Fatalf("verify with the witness: %+v, %v", rep, err)
	}
	if err := os.Remove(wpath); err != nil {
		t.Fatal(err)
	}
	openRefused(t, dir, ErrWitnessMissing)
	if _, err := VerifyDir(context.Background(), dir, v, VerifyOptions{Witness: wpath}); !errors.Is(err, ErrWitnessMissing) {
		t.Fatalf("verify without the witness: %v, want %v", err, ErrWitnessMissing)
	}
	rep, err = VerifyDir(context.Background(), dir, v, VerifyOptions{Witness: wpath, IgnoreMissingWitness: true})
	if err != nil || !rep.WitnessMissing || rep.Events != 4 {
		t.Fatalf("verify ignoring the missing witness: %+v, %v", rep, err)
	}
	// Without Witness, VerifyDir checks what it is given and no more.
	if _, err := VerifyDir(context.Background(), dir, v, VerifyOptions{}); err != nil {
		t.Fatalf("verify without a witness option: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, ckptFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyDir(context.Background(), dir, v, VerifyOptions{Witness: wpath, IgnoreMissingWitness: true}); !errors.Is(err, ErrCheckpointsMissing) {
		t.Fatalf("verify without checkpoints: %v, want %v", err, ErrCheckpointsMissing)
	}
}
