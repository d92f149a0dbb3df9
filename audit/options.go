package audit

import (
	"path/filepath"
	"time"
)

// Option configures Open. Options are applied once; the ledger's configuration
// never changes after Open returns.
type Option func(*config)

type config struct {
	signer    Signer
	every     uint64
	interval  time.Duration
	segSize   int64
	readOnly  bool
	vkeys     []string
	maxQueued int
	witness   string // "" until Open fills in DefaultWitnessPath(dir)
	recovery  string // non-empty: accept a history the witness does not vouch for, and say so in the log
	// retryMin and retryMax bound the backoff of a writer waiting for room
	// on its disk (outage.go).
	retryMin, retryMax time.Duration
	// ops, when set, replaces osFileOps: only tests set it (faults_test.go).
	ops *fileOps
}

func defaultConfig() config {
	return config{
		every:     65536,
		interval:  time.Second,
		segSize:   64 << 20,
		maxQueued: 64 << 20,
		retryMin:  50 * time.Millisecond,
		retryMax:  5 * time.Second,
	}
}

// WithSigner sets the host key that signs checkpoints. Required unless ReadOnly.
func WithSigner(s Signer) Option { return func(c *config) { c.signer = s } }

// WithCheckpointEvery writes a checkpoint at least every n events (default 65536).
func WithCheckpointEvery(n uint64) Option {
	return func(c *config) {
		if n > 0 {
			c.every = n
		}
	}
}

// WithCheckpointInterval writes a checkpoint at most d after an event became
// durable (default 1s), so proofs are available soon even on a quiet host.
func WithCheckpointInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.interval = d
		}
	}
}

// WithSegmentSize starts a new segment file once the active one reaches n
// bytes (default 64 MiB), so that old segments can be archived whole.
func WithSegmentSize(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.segSize = n
		}
	}
}

// WithVerifierKeys adds signed-note verifier keys (for example the host's keys
// before a rotation) that Open accepts on existing checkpoints besides the
// signer's own key.
func WithVerifierKeys(vkeys ...string) Option {
	return func(c *config) { c.vkeys = append(append([]string(nil), c.vkeys...), vkeys...) }
}

// ReadOnly opens the ledger for reading while another process may be writing
// it: no lock is taken, nothing is repaired or written, and a torn tail is
// simply not read.
func ReadOnly() Option { return func(c *config) { c.readOnly = true } }

// WithWitness sets the witness file: a copy of the latest signed checkpoint
// kept outside the ledger directory (default DefaultWitnessPath(dir)). On Open
// the log must extend it; see docs/audit-format.md §3.4. An empty path keeps
// the default: the witness cannot be switched off.
func WithWitness(path string) Option {
	return func(c *config) {
		if path != "" {
			c.witness = path
		}
	}
}

// WithRecovery lets Open accept a ledger that its witness does not vouch for
// (no witness beside a non-empty log, a witness the log does not extend, a
// missing checkpoints file) instead of refusing it with an *IntegrityError.
// What was found, and note, go into a ledger.recover event, and a fresh
// checkpoint and witness are written at once. It never repairs damaged
// records or checkpoints that do not match the events. For an operator who
// restored a backup or moved a home, never for a host starting by itself.
func WithRecovery(note string) Option {
	return func(c *config) {
		if note == "" {
			note = "recovery requested"
		}
		c.recovery = note
	}
}

// DefaultWitnessPath is where Open keeps the witness of the ledger in dir when
// WithWitness is not given: beside the directory, not in it, so that
// replacing the ledger directory does not replace its witness
// (<home>/audit → <home>/audit.witness).
func DefaultWitnessPath(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Clean(dir) + ".witness"
}
