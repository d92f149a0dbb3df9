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
type Ledger struct {
	dir      string
	cfg      config
	origin   string
	logID    string
	lockF    *os.File
	signer   note.Signer
	verifier note.Verifiers
	ops      fileOps

	witnessFresh bool     // the witness is absent (no events yet) or behind the latest checkpoint: Open writes it
	recovered    []string // what Open repaired or accepted, each logged as ledger.recover

	mu        sync.Mutex
	space     *sync.Cond // signalled when the writer takes the pending buffer
	next      uint64     // index the next Enqueue gets
	pending   []byte     // framed records [durable, next) not yet handed to the writer
	spare     []byte
	durable   uint64        // records [0, durable) are written and fsynced
	durableCh chan struct{} // closed and replaced whenever durable advances
	closed    bool
	werr      error // sticky: the writer failed in a way it cannot repair; the ledger is unusable
	// stall is set while the writer waits for room on its disk (outage.go):
	// new events are refused and waits fail, until it has repaired the
	// files and written what was pending.
	stall  error
	outage outage

	kick    chan struct{}
	closing chan struct{}
	done    chan struct{}
	once    sync.Once

	// Writer state, guarded by wmu.
	wmu      sync.Mutex
	written  uint64
	active   *segment
	actSize  int64
	hashF    *os.File
	hashEnd  int64 // byte offset after the last stored hash
	frontier [64]tlog.Hash
	frontIdx [64]int64
	ckptF    *os.File
	ckptEnd  int64 // offset after the last durable checkpoint frame
	lastCkpt time.Time
	hashBuf  []byte

	segMu sync.RWMutex
	segs  []*segment

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
