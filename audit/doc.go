// Package audit is warden's tamper-evident audit ledger: the event schema,
// an append-only log whose events are the leaves of an RFC 6962 Merkle tree,
// checkpoints signed by the host key in the C2SP signed-note format, inclusion
// proofs, and a verifier. docs/audit-format.md specifies every byte; the
// package audit/internal/docverify re-implements the verifier from that
// document alone, and the tests run it against logs this package writes.
//
// # Standards and libraries
//
// Events are encoded with RFC 8785 (JCS) over a fixed schema, so one event
// hashes identically in every implementation. The tree hashing, stored-hash
// layout and proofs are golang.org/x/mod/sumdb/tlog, and checkpoints are
// golang.org/x/mod/sumdb/note: the code Go's checksum database has run on
// since 2019, already in warden's module graph for note, small, and written
// against RFC 6962 with a compatibility test (tlog's ct_test.go). The
// transparency-dev/merkle module would do the same job but adds a dependency
// and a second hashing vocabulary for no gain here.
//
// # What differs from a transparency log, and why
//
// A transparency log serves tiles to the world; this ledger lives on one
// desktop and is verified offline, so it stores records in segment files
// (length + CRC-32C + index framing, rotation at 64 MiB) and keeps tlog's
// stored hashes in one flat cache file ("hashes"). The cache makes appends,
// checkpoints and proofs O(log n) without holding the tree in memory (64
// bytes per event would be gigabytes after a year); it is derived data,
// fsynced before each checkpoint, trusted on open only up to the latest
// checkpoint and only if it reproduces that checkpoint's root, and Verify
// recomputes everything from the records anyway.
//
// Event ids are "<log id>-<index>": stable (they are part of the hashed
// bytes), unique across hosts (the log id is 64 random bits fixed at
// creation), and Find is a lookup, not a scan.
//
// # Durability
//
// Append returns only when the event is written and fdatasync'ed. One writer
// goroutine takes everything enqueued so far, writes it with one write and
// syncs once, while the next batch accumulates: concurrent appenders share
// fsyncs (group commit). Enqueue + Sync let the gate pay one shared fsync per
// invocation boundary, as docs/architecture.md "Where durability is paid" requires; an
// enqueued event not yet covered by a returned Sync can be lost in a crash,
// and nothing else can. Checkpoints are signed only over fsynced events.
//
// A full disk (ENOSPC, EDQUOT, EFBIG) stalls the writer instead of stopping
// it: new events are refused and waits fail (callers fail closed), the
// queued batch stays queued, and the writer retries with backoff, first
// cutting its files back to the last durable state as Open does after a
// crash (outage.go). It resumes by itself and logs a ledger.outage event.
// Any other write error, EIO above all, still stops it until reopened, and
// nothing it failed at is tried again: after EIO a kernel may have dropped
// the dirty pages and report the next fsync a success. While the writer is
// stalled or stopped, Checkpoint refuses too: only the writer signs, and
// only over files it has repaired.
//
// That failure path is never taken on a healthy disk, so the tests take it
// on purpose: every change the ledger makes to its files goes through one
// unexported seam (fileops.go), and faults_test.go fails each write, fsync,
// truncation and rename in turn, with ENOSPC and with EIO, then reopens the
// directory, verifies it and looks for every acknowledged event;
// gate_fault_test.go does the same under the real hostapi gate. A real full
// disk and a real file size limit are in outage_test.go.
//
// A torn tail (a crash mid-append) is truncated on Open and the truncation
// itself is logged as a ledger.recover event. Anything else wrong is an
// *IntegrityError naming its kind and the first bad index; Open refuses a log
// damaged in the middle, shorter than its checkpoint, or whose events no
// longer hash to the latest checkpoint, rather than sign on top of it.
//
// # The witness
//
// A transparency log is kept honest by the clients and monitors that
// remember its checkpoints; this one lives in a directory its own user can
// rewrite whole. So the writer remembers for itself: after every checkpoint
// it replaces a witness file outside the directory (<home>/audit.witness)
// with that checkpoint, and Open refuses a log that does not extend it (an
// RFC 6962 consistency proof between the two signed roots). Without it a
// rewritten history with its checkpoints deleted would be signed by the next
// checkpoint. WithRecovery accepts such a log on the record, in a
// ledger.recover event. An attacker who can also rewrite the witness, or who
// holds the host key, is beyond it: docs/audit-format.md §3.4.
//
// The crash test (TestCrashRecovery) SIGKILLs an appending child 5 times by
// default; WARDEN_SOAK=1 runs 100 rounds.
//
// # Files
//
// One idea each, in the order a reader meets them:
//
//	event.go       the event schema and its canonical (JCS) encoding
//	record.go      the framing of records, checkpoint frames and headers
//	errors.go      the integrity error kinds and operational errors
//	ledger.go      the Ledger: its files, its fields and the lock order
//	options.go     Open's options
//	open.go        Open and Close: lock, origin, torn-tail recovery, the
//	               witness check, the ledger.recover event
//	segment.go     segment files: naming, creation, rotation, scanning and
//	               finding a record
//	hashcache.go   the stored tree hashes and the writer's frontier
//	writer.go      Enqueue, Append, Sync and the writer goroutine: group
//	               commit, fdatasync, stopping on a write error
//	outage.go      a full disk: stall, repair, resume, ledger.outage
//	checkpoint.go  signed checkpoints and the checkpoints file
//	witness.go     the witness outside the directory
//	read.go        Len, Get, Find, Read
//	proof.go       inclusion proofs and their verification
//	verify.go      VerifyDir: the whole log from its records
//	fileops.go     the seam every file change goes through
//	lock_unix.go   the directory lock; datasync_*.go, fdatasync
package audit
