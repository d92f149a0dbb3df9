package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// buildLog writes n events with a checkpoint every 10 into several segments.
func buildLog(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	l := openTest(t, dir, WithCheckpointEvery(10), WithSegmentSize(4096))
	for i := range n {
		if _, err := l.Enqueue(testEvent(i)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			if _, err := l.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The witness lives beside the directory; a copy of the ledger is a copy
	// of both, as a backup that restores cleanly would be.
	if b, err := os.ReadFile(DefaultWitnessPath(src)); err == nil {
		if err := os.WriteFile(DefaultWitnessPath(dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func verifyWith(t *testing.T, dir string, opts VerifyOptions) error {
	t.Helper()
	v, _ := Verifiers(vkey(t, newTestKey("host")))
	_, err := VerifyDir(context.Background(), dir, v, opts)
	return err
}

// storedRecord is one record as an attacker reads it from disk.
type storedRecord struct {
	index   uint64
	payload []byte
}

func readAllRecords(t *testing.T, dir string) []storedRecord {
	t.Helper()
	names, _ := listSegments(dir)
	var out []storedRecord
	for _, name := range names {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		off := segHeaderSize
		for off < len(data) {
			idx, p, n, err := decodeRecord(data[off:])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, storedRecord{idx, append([]byte(nil), p...)})
			off += n
		}
	}
	return out
}

// writeAllRecords replaces every segment by one holding recs. With renumber,
// it gives them consecutive indexes and fresh checksums, as a careful attacker
// would; without, it keeps each record's own index.
func writeAllRecords(t *testing.T, dir string, recs []storedRecord, renumber bool) {
	t.Helper()
	names, _ := listSegments(dir)
	for _, name := range names {
		os.Remove(filepath.Join(dir, name))
	}
	buf := segHeader(0)
	for i, r := range recs {
		idx := r.index
		if renumber {
			idx = uint64(i)
		}
		start := len(buf)
		buf = appendRecordHeader(buf)
		buf = append(buf, r.payload...)
		finishRecord(buf[start:], idx)
	}
	if err := os.WriteFile(filepath.Join(dir, segName(0)), buf, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, hashFile)) // a careful attacker drops the cache too
}

func readNotes(t *testing.T, dir string) [][]byte {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(dir, ckptFile))
	notes, _, err := scanCheckpoints(data)
	if err != nil {
		t.Fatal(err)
	}
	return notes
}

func writeNotes(t *testing.T, dir string, notes [][]byte) {
	t.Helper()
	buf := []byte(ckptMagic)
	for _, n := range notes {
		buf = append(buf, ckptFrame(n)...)
	}
	if err := os.WriteFile(filepath.Join(dir, ckptFile), buf, 0o600); err != nil {
		t.Fatal(err)
	}
}

func origin(t *testing.T, dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, originFile))
	o, err := parseOrigin(b)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func forgeCheckpoint(t *testing.T, dir string, key *testKey, size uint64, root tlog.Hash) []byte {
	t.Helper()
	s, err := newNoteSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := signCheckpoint(s, origin(t, dir), size, root)
	if err != nil {
		t.Fatal(err)
	}
	return c.Note
}

// treeRoot is the root an attacker computes for the first n records: tlog's
// (reference_test.go), not this package's tree code.
func treeRoot(t *testing.T, recs []storedRecord, n int) tlog.Hash {
	t.Helper()
	payloads := make([][]byte, n)
	for i := range n {
		payloads[i] = recs[i].payload
	}
	return tlogRoot(t, payloads, n)
}

func TestTamperDetected(t *testing.T) {
	base := buildLog(t, 100)
	if err := verifyWith(t, base, VerifyOptions{}); err != nil {
		t.Fatalf("intact log does not verify: %v", err)
	}
	forged := testEvent(999)
	forged.ID = "x-1"
	forgedBytes, _ := forged.AppendCanonical(nil)

	cases := []struct {
		name        string
		attack      func(t *testing.T, dir string)
		want        error
		openRefuses bool
	}{
		{"deleted event", func(t *testing.T, dir string) {
			r := readAllRecords(t, dir)
			writeAllRecords(t, dir, append(r[:45:45], r[46:]...), false)
		}, ErrSequence, true},
		{"deleted event, renumbered", func(t *testing.T, dir string) {
			r := readAllRecords(t, dir)
			writeAllRecords(t, dir, append(r[:45:45], r[46:]...), true)
		}, ErrRootMismatch, true},
		{"two events swapped", func(t *testing.T, dir string) {
			r := readAllRecords(t, dir)
			r[30], r[31] = r[31], r[30]
			writeAllRecords(t, dir, r, false)
		}, ErrSequence, true},
		{"two events swapped, renumbered", func(t *testing.T, dir string) {
			r := readAllRecords(t, dir)
			r[30], r[31] = r[31], r[30]
			writeAllRecords(t, dir, r, true)
		}, ErrRootMismatch, true},
		{"forged event inserted", func(t *testing.T, dir string) {
			r := readAllRecords(t, dir)
			ins := append(append(r[:20:20], storedRecord{20, forgedBytes}), r[20:]...)
			writeAllRecords(t, dir, ins, false)
		}, ErrSequence, true},
		{"forged event inserted, renumbered", func(t *testing.T, dir string) {
			r := readAllRecords(t, dir)
			ins := append(append(r[:20:20], storedRecord{20, forgedBytes}), r[20:]...)
			writeAllRecords(t, dir, ins, true)
		}, ErrRootMismatch, true},
		{"event rewritten, checksum fixed", func(t *testing.T, dir string) {
			r := readAllRecords(t, dir)
			r[57].payload = bytes.Replace(r[57].payload, []byte("fs.read"), []byte("fs.stat"), 1)
			writeAllRecords(t, dir, r, false)
		}, ErrRootMismatch, true},
		{"truncated at a record boundary", func(t *testing.T, dir string) {
			r := readAllRecords(t, dir)
			writeAllRecords(t, dir, r[:97], false)
		}, ErrTruncated, true},
		{"truncated mid-record", func(t *testing.T, dir string) {
			names, _ := listSegments(dir)
			p := filepath.Join(dir, names[len(names)-1])
			fi, _ := os.Stat(p)
			os.Truncate(p, fi.Size()-7)
		}, ErrTruncated, true},
		{"last segment deleted", func(t *testing.T, dir string) {
			names, _ := listSegments(dir)
			os.Remove(filepath.Join(dir, names[len(names)-1]))
		}, ErrTruncated, true},
		{"middle segment deleted", func(t *testing.T, dir string) {
			names, _ := listSegments(dir)
			os.Remove(filepath.Join(dir, names[1]))
		}, ErrMissingSegment, false},
		{"checkpoint signed by another key", func(t *testing.T, dir string) {
			r := readAllRecords(t, dir)
			notes := readNotes(t, dir)
			notes = append(notes, forgeCheckpoint(t, dir, newTestKey("attacker"), 100, treeRoot(t, r, 100)))
			writeNotes(t, dir, notes)
		}, ErrBadSignature, true},
		{"rolled-back checkpoint", func(t *testing.T, dir string) {
			notes := readNotes(t, dir)
			writeNotes(t, dir, append(notes, notes[3]))
		}, ErrRollback, false},
		{"extra checkpoint inconsistent with an earlier one", func(t *testing.T, dir string) {
			// Signed with the real key (a stolen key, or a host showing two
			// views): same size as the last, different root.
			notes := readNotes(t, dir)
			root := sha256.Sum256([]byte("another history"))
			writeNotes(t, dir, append(notes, forgeCheckpoint(t, dir, newTestKey("host"), 100, root)))
		}, ErrInconsistent, false},
		{"extra checkpoint between two good ones", func(t *testing.T, dir string) {
			notes := readNotes(t, dir)
			root := sha256.Sum256([]byte("another history"))
			extra := forgeCheckpoint(t, dir, newTestKey("host"), 55, root)
			out := append(append(append([][]byte(nil), notes[:5]...), extra), notes[5:]...)
			writeNotes(t, dir, out)
		}, ErrInconsistent, false},
		{"checkpoint frame damaged", func(t *testing.T, dir string) {
			p := filepath.Join(dir, ckptFile)
			b, _ := os.ReadFile(p)
			b[ckptHeaderSize+ckptFrameSize+3] ^= 0x20
			os.WriteFile(p, b, 0o600)
		}, ErrMalformedCheckpoint, false},
		{"stored hash cache edited", func(t *testing.T, dir string) {
			p := filepath.Join(dir, hashFile)
			b, _ := os.ReadFile(p)
			b[hashHeaderSize+5*32+1] ^= 1
			os.WriteFile(p, b, 0o600)
		}, ErrHashCache, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, base)
			c.attack(t, dir)
			err := verifyWith(t, dir, VerifyOptions{})
			if !errors.Is(err, c.want) {
				t.Fatalf("verify: %v\nwant kind %v", err, c.want)
			}
			var ie *IntegrityError
			if !errors.As(err, &ie) {
				t.Fatalf("verify error is not an *IntegrityError: %T", err)
			}
			t.Logf("%s: %v", ie.KindName(), err)
			// A writer must refuse to sign on top of a log whose latest
			// checkpoint no longer matches (Open is not a full verifier, so
			// damage elsewhere is verify's to find).
			l, err := Open(dir, WithSigner(newTestKey("host")))
			if err == nil {
				l.Close()
			}
			if c.openRefuses && err == nil {
				t.Errorf("Open accepted the tampered log")
			}
		})
	}
}

func TestTrustedCheckpointRollback(t *testing.T) {
	base := buildLog(t, 100)
	dir := copyDir(t, base)
	notes := readNotes(t, dir)
	v, _ := Verifiers(vkey(t, newTestKey("host")))
	trusted, err := ParseCheckpoint(notes[len(notes)-1], v)
	if err != nil {
		t.Fatal(err)
	}
	// Cut records and checkpoints back together: consistent on its own, but
	// behind what a monitor already saw.
	r := readAllRecords(t, dir)
	writeAllRecords(t, dir, r[:50], false)
	writeNotes(t, dir, notes[:5])
	if err := verifyWith(t, dir, VerifyOptions{}); err != nil {
		t.Fatalf("the cut-back log verifies on its own, as it must: %v", err)
	}
	if err := verifyWith(t, dir, VerifyOptions{Trusted: &trusted}); !errors.Is(err, ErrRollback) {
		t.Fatalf("verify with trusted checkpoint: %v, want ErrRollback", err)
	}
}

func TestRandomByteEdits(t *testing.T) {
	base := buildLog(t, 60)
	rng := rand.New(rand.NewPCG(1, 2))
	files := []string{originFile, ckptFile, hashFile}
	names, _ := listSegments(base)
	files = append(files, names...)
	for i := range 200 {
		dir := copyDir(t, base)
		name := files[rng.IntN(len(files))]
		p := filepath.Join(dir, name)
		b, _ := os.ReadFile(p)
		off := rng.IntN(len(b))
		b[off] ^= byte(1 + rng.IntN(255))
		os.WriteFile(p, b, 0o600)
		if err := verifyWith(t, dir, VerifyOptions{}); err == nil {
			t.Fatalf("edit %d: byte %d of %s changed and verify passed", i, off, name)
		}
		os.RemoveAll(dir)
	}
}
