package audit

import "time"

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
}

func defaultConfig() config {
	return config{
		every:     65536,
		interval:  time.Second,
		segSize:   64 << 20,
		maxQueued: 64 << 20,
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
