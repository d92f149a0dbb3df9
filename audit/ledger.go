package audit

import (
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// File names inside the ledger directory (docs/audit-format.md, "Files").
const (
	originFile = "origin"
	ckptFile   = "checkpoints"
	hashFile   = "hashes"
	lockName   = "lock"
	segSuffix  = ".seg"
)

// Ledger is an append-only, tamper-evident log of audit events in one
// directory. It is safe for concurrent use.
//
// # Locks
//
// Four kinds of mutex, taken only in this order:
//
//	wmu → mu
//	wmu → segMu → segment.mu
//	wmu → ckptMu
//
// mu, ckptMu and segment.mu are leaves: nothing else is locked while one is
// held. wmu is the writer's: the writer goroutine holds it for each round of
// writing, and Checkpoint for a checkpoint on demand; once the writer runs,
// every write, fsync and truncation of the ledger's files happens under it.
// mu is the appenders': Enqueue holds it only to frame a record, and no file
// is touched under it, so an appender never waits for the disk. A reader
// takes segMu, then at most one segment.mu, and reads a file under the
// latter only to find records it has not indexed yet (an older segment read
// for the first time, or one another process is writing).
//
// Open fills every field before it starts the writer, without locks; the
// fields of the first group never change after.
type Ledger struct {
	// Fixed by Open.
	dir          string
	cfg          config
	origin       string
	logID        string
	lockF        *os.File
	signer       note.Signer
	verifier     note.Verifiers
	ops          fileOps
	witnessFresh bool     // the witness is absent (no events yet) or behind the latest checkpoint: Open writes it
	recovered    []string // what Open repaired or accepted, each logged as ledger.recover
	kick         chan struct{}
	closing      chan struct{}
	done         chan struct{}
	once         sync.Once // Close

	// The appenders' state, guarded by mu.
	mu        sync.Mutex
	space     *sync.Cond // on mu; signalled when the writer takes the pending buffer, stalls or stops
	next      uint64     // index the next Enqueue gets
	pending   []byte     // framed records up to next not yet handed to the writer (a failed batch goes back to its front)
	spare     []byte
	durable   uint64        // records [0, durable) are written and fsynced
	durableCh chan struct{} // closed and replaced whenever durable advances or the writer stalls or stops
	closed    bool
	werr      error // sticky: the writer failed in a way it cannot repair; the ledger is unusable
	// stall is set while the writer waits for room on its disk (outage.go):
	// new events are refused and waits fail, until it has repaired the
	// files and written what was pending.
	stall  error
	outage outage

	// The writer's state, guarded by wmu.
	wmu      sync.Mutex
	written  uint64   // records [0, written) are in the segments and the hash cache; equals durable between rounds
	active   *segment // the last segment, which the writer appends to
	actSize  int64    // bytes of the active segment up to its last fsynced record
	hashF    *os.File // the hash cache; readers read the hashes a checkpoint covers without a lock, as the writer never rewrites those
	hashEnd  int64    // byte offset after the last stored hash
	frontier [64]tlog.Hash
	frontIdx [64]int64
	ckptF    *os.File
	ckptEnd  int64 // offset after the last durable checkpoint frame
	lastCkpt time.Time
	hashBuf  []byte

	// The segment list, guarded by segMu: the writer appends at a rotation,
	// a read-only ledger when it finds a new file.
	segMu sync.RWMutex
	segs  []*segment

	// The latest checkpoint, guarded by ckptMu; changed only with wmu held.
	ckptMu    sync.RWMutex
	latest    Checkpoint
	hasLatest bool
}

// Origin is the log's checkpoint origin line, "warden.audit/<16 hex>".
func (l *Ledger) Origin() string { return l.origin }

// Dir is the ledger directory.
func (l *Ledger) Dir() string { return l.dir }

// WitnessPath is the witness file the ledger keeps (docs/audit-format.md §3.4).
func (l *Ledger) WitnessPath() string { return l.cfg.witness }

// Recovered lists the reasons of the ledger.recover events Open appended: a
// torn tail it truncated, or a history it accepted under WithRecovery.
func (l *Ledger) Recovered() []string { return slices.Clone(l.recovered) }

// VerifierKeys are the signed-note keys the ledger checks checkpoints with.
func (l *Ledger) VerifierKeys() []string {
	var out []string
	if l.cfg.signer != nil {
		if vk, err := VerifierKey(l.cfg.signer.Public()); err == nil {
			out = append(out, vk)
		}
	}
	return append(out, l.cfg.vkeys...)
}
