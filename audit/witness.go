package audit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The witness is the ledger's memory of what it signed, kept outside the
// ledger directory (docs/audit-format.md §3.4). Everything inside the
// directory can be rewritten together by whoever can write it: delete
// "checkpoints", renumber the records, drop the hash cache, and the log looks
// like a young one nobody signed yet. Without a memory elsewhere the host
// would sign that forged history at its next checkpoint (threat model V-4).
// With the witness, Open refuses a log that does not extend the latest
// checkpoint it wrote, and a verifier can check the same thing.
//
// The witness is one signed checkpoint note, byte for byte as in the
// checkpoints file, replaced atomically after each checkpoint is durable:
// it is never ahead of the checkpoints file, so a crash leaves it equal to or
// older than the latest checkpoint, and older is fine (the log extends it).
// A new ledger writes a witness of its empty tree before it accepts an event,
// so "events but no witness" is never a crash state.

// maxWitnessSize bounds the witness file: a checkpoint note is far smaller.
const maxWitnessSize = 1 << 16

// ReadWitness reads the witness at path and checks its signature against
// verifiers. ok is false when there is no witness file. A damaged or foreign
// witness is an *IntegrityError naming the file (bad-signature or
// malformed-checkpoint).
func ReadWitness(path string, verifiers note.Verifiers) (c Checkpoint, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("read audit witness: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxWitnessSize+1))
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("read audit witness %s: %w", path, err)
	}
	if len(data) > maxWitnessSize {
		return Checkpoint{}, false, integrity(ErrMalformedCheckpoint, -1, -1, path, -1, "the witness is larger than %d bytes", maxWitnessSize)
	}
	if verifiers == nil {
		return Checkpoint{}, false, fmt.Errorf("read audit witness %s: no verifier key", path)
	}
	c, err = ParseCheckpoint(data, verifiers)
	if err != nil {
		return Checkpoint{}, false, &IntegrityError{Kind: kindOf(err), Index: -1, Checkpoint: -1, File: path, Offset: -1,
			Reason: "the witness: " + err.Error() + " (if the host key was rotated, pass the old verifier key too)"}
	}
	return c, true, nil
}

// writeWitness replaces the witness with msg: write a temporary file, fsync,
// rename over the old one, fsync the directory. A crash leaves either the old
// witness or the new one, never a torn one.
func (l *Ledger) writeWitness(msg []byte) error {
	path := l.cfg.witness
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write audit witness: %w", err)
	}
	tmp := path + ".tmp"
	if err := l.ops.writeFile(tmp, msg); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write audit witness %s: %w", tmp, err)
	}
	if err := l.ops.rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write audit witness %s: %w", path, err)
	}
	return l.ops.syncDir(dir)
}

// checkWitness compares the opened log with its witness. problem is what
// WithRecovery may accept; err is a failure nothing should paper over (I/O,
// or events that do not match their own latest checkpoint).
func (l *Ledger) checkWitness(ckptExisted bool) (problem *IntegrityError, err error) {
	path := l.cfg.witness
	n := l.count()
	w, ok, err := ReadWitness(path, l.verifier)
	if err != nil {
		var ie *IntegrityError
		if errors.As(err, &ie) {
			return ie, nil
		}
		return nil, err
	}
	var latestSize uint64
	if l.hasLatest {
		latestSize = l.latest.Size
	}
	switch {
	case !ok && n == 0:
		l.witnessFresh = true // a new (or empty) ledger: Open writes the first witness
	case !ok:
		return integrity(ErrWitnessMissing, 0, -1, path, -1,
			"the log holds %d events but there is no witness of its checkpoints; every ledger writes one before its first event, "+
				"so it was deleted, or the ledger directory was copied or moved without it, or its history was replaced", n), nil
	case w.Origin != l.origin:
		return integrity(ErrWitnessMismatch, -1, -1, path, -1,
			"the witness is of log %q but the ledger directory holds log %q: the directory was replaced", w.Origin, l.origin), nil
	case w.Size > latestSize:
		return integrity(ErrRollback, int64(latestSize), -1, path, -1,
			"the witness holds a checkpoint of %d events but the log's latest checkpoint covers %d: checkpoints were removed "+
				"(and the events after the last one left may have been rewritten), or the directory was restored from an older copy",
			w.Size, latestSize), nil
	default:
		consistent, err := l.extendsWitness(w)
		if err != nil {
			return nil, err
		}
		if !consistent {
			return integrity(ErrWitnessMismatch, int64(w.Size), -1, path, -1,
				"the witness's checkpoint of %d events is not a prefix of the log's latest checkpoint of %d events: the history was rewritten",
				w.Size, latestSize), nil
		}
		// A crash between a checkpoint and its witness: bring it forward now
		// rather than at the next checkpoint, to keep the window short.
		l.witnessFresh = w.Size < latestSize
	}
	if n > 0 && !ckptExisted {
		return integrity(ErrCheckpointsMissing, 0, -1, ckptFile, -1,
			"the log holds %d events but its checkpoints file, created with the log, is gone", n), nil
	}
	return nil, nil
}

// extendsWitness reports whether the latest checkpoint's tree has the
// witness's tree as a prefix: an RFC 6962 consistency proof between the two
// signed roots. The proof is built from the hash cache but checked against
// the signed roots, so a damaged cache can only make it fail, never pass; on
// failure the cache is rebuilt from the records and the proof tried again.
func (l *Ledger) extendsWitness(w Checkpoint) (bool, error) {
	if w.Size == 0 {
		empty, _ := tlog.TreeHash(0, nil)
		return w.Root == empty, nil
	}
	c := l.latest
	if w.Size == c.Size {
		return w.Root == c.Root, nil
	}
	check := func() bool {
		p, err := tlog.ProveTree(int64(c.Size), int64(w.Size), l.fileHashes())
		return err == nil && tlog.CheckTree(p, int64(c.Size), c.Root, int64(w.Size), w.Root) == nil
	}
	if check() {
		return true, nil
	}
	if err := l.resumeHashes(0); err != nil {
		return false, err
	}
	root, err := tlog.TreeHash(int64(c.Size), l.fileHashes())
	if err != nil {
		return false, err
	}
	if root != c.Root {
		return false, integrity(ErrRootMismatch, -1, -1, "", -1,
			"the %d events do not hash to the latest signed checkpoint; run 'warden audit verify' to find where", c.Size)
	}
	return check(), nil
}

// writeFirstWitness makes the witness the latest checkpoint or, for a ledger
// that has none, a signed checkpoint of the empty tree. A new ledger gets its
// witness before its first event, so a log with events and no witness is
// never a crash state.
func (l *Ledger) writeFirstWitness() error {
	c, ok := l.latest, l.hasLatest
	if !ok {
		empty, _ := tlog.TreeHash(0, nil)
		var err error
		if c, err = signCheckpoint(l.signer, l.origin, 0, empty); err != nil {
			return err
		}
	}
	return l.writeWitness(c.Note)
}
