package audit

import (
	"errors"
	"fmt"
)

// Integrity error kinds. Every failure Open or Verify finds wraps exactly one
// of these (and ErrMalformedCheckpoint or ErrBadSignature from checkpoint.go),
// inside an *IntegrityError that says where.
var (
	// ErrCorruptRecord: a record's checksum or length is wrong in the middle of
	// the log — a changed byte, not a crash (a crash only tears the tail).
	ErrCorruptRecord = errors.New("damaged record")
	// ErrSequence: a record carries the wrong index — an event was deleted,
	// inserted or moved without the attacker renumbering the rest.
	ErrSequence = errors.New("record out of sequence")
	// ErrMissingSegment: a segment file is missing or its header is wrong.
	ErrMissingSegment = errors.New("segment missing or renamed")
	// ErrTruncated: a signed checkpoint covers more events than the log holds.
	ErrTruncated = errors.New("log shorter than its checkpoint")
	// ErrRootMismatch: the events do not hash to a checkpoint's signed root —
	// something in the covered range was changed, inserted, deleted or reordered.
	ErrRootMismatch = errors.New("events do not match signed checkpoint")
	// ErrRollback: a checkpoint covers fewer events than one before it (or than
	// a checkpoint the verifier trusted from earlier).
	ErrRollback = errors.New("checkpoint rolled back")
	// ErrInconsistent: two checkpoints cannot both describe one append-only log.
	ErrInconsistent = errors.New("checkpoints inconsistent")
	// ErrHashCache: the stored tree hashes (a cache derived from the records)
	// differ from the recomputed ones; the records themselves are fine.
	ErrHashCache = errors.New("stored tree hashes wrong")
	// ErrWitnessMissing: the log holds events but the witness file, which every
	// ledger has from its creation on, is gone.
	ErrWitnessMissing = errors.New("witness of the latest checkpoint missing")
	// ErrWitnessMismatch: the witness belongs to another log, or the log's
	// checkpoints do not extend the checkpoint it holds — the history was
	// rewritten or replaced.
	ErrWitnessMismatch = errors.New("log does not extend its witness")
	// ErrCheckpointsMissing: the log holds events but its checkpoints file,
	// created with the log, is gone.
	ErrCheckpointsMissing = errors.New("checkpoints file missing")
)

// IntegrityError says what is wrong with a ledger and where: the first bad
// event index, or the checkpoint number, and the file and offset when known.
type IntegrityError struct {
	Kind       error  // one of the Err... kinds above
	Index      int64  // first bad event index, or -1
	Checkpoint int    // checkpoint number (0-based) involved, or -1
	File       string // file name inside the ledger directory, or the witness's path, if known
	Offset     int64  // byte offset in File, or -1
	Reason     string // a sentence for the person reading it
}

func (e *IntegrityError) Error() string {
	s := "audit ledger: " + e.Kind.Error()
	if e.Index >= 0 {
		s += fmt.Sprintf(" at event %d", e.Index)
	}
	if e.Checkpoint >= 0 {
		s += fmt.Sprintf(" (checkpoint #%d)", e.Checkpoint)
	}
	if e.File != "" {
		s += " in " + e.File
		if e.Offset >= 0 {
			s += fmt.Sprintf(" at offset %d", e.Offset)
		}
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func (e *IntegrityError) Unwrap() error { return e.Kind }

// KindName is the stable short name of the error's kind, for --json output.
func (e *IntegrityError) KindName() string { return KindName(e.Kind) }

// KindName returns the stable short name of an integrity error kind.
func KindName(kind error) string {
	switch kind {
	case ErrCorruptRecord:
		return "corrupt-record"
	case ErrSequence:
		return "sequence"
	case ErrMissingSegment:
		return "missing-segment"
	case ErrTruncated:
		return "truncated"
	case ErrRootMismatch:
		return "root-mismatch"
	case ErrRollback:
		return "rollback"
	case ErrInconsistent:
		return "inconsistent-checkpoints"
	case ErrHashCache:
		return "hash-cache"
	case ErrWitnessMissing:
		return "witness-missing"
	case ErrWitnessMismatch:
		return "witness-mismatch"
	case ErrCheckpointsMissing:
		return "checkpoints-missing"
	case ErrMalformedCheckpoint:
		return "malformed-checkpoint"
	case ErrBadSignature:
		return "bad-signature"
	}
	return "unknown"
}

func integrity(kind error, index int64, ckpt int, file string, off int64, format string, args ...any) *IntegrityError {
	return &IntegrityError{Kind: kind, Index: index, Checkpoint: ckpt, File: file, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Operational errors.
var (
	// ErrClosed is returned by Append, Enqueue and Sync after Close.
	ErrClosed = errors.New("audit ledger is closed")
	// ErrLocked is returned by Open when another process holds the ledger.
	ErrLocked = errors.New("audit ledger is in use by another process")
	// ErrReadOnly is returned by writing methods of a ledger opened ReadOnly.
	ErrReadOnly = errors.New("audit ledger is open read-only")
	// ErrNotFound is returned by Get and Find for an event the log does not hold.
	ErrNotFound = errors.New("audit event not found")
	// ErrNotCheckpointed is returned by ProveInclusion for an event newer than
	// the latest checkpoint.
	ErrNotCheckpointed = errors.New("audit event is not yet covered by a checkpoint")
)
