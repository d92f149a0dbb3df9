package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardenproject/warden/internal/atomicfile"
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

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

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

// segment is one segment file and what is known of its records.
type segment struct {
	first uint64
	path  string

	mu      sync.Mutex
	f       *os.File
	offsets []int64 // byte offset of each record known to be complete
	end     int64   // offset just after the last known record
}

// Open opens (creating if needed) the ledger in dir, which is <home>/audit.
// Unless ReadOnly, it takes an exclusive lock, truncates a torn tail left by a
// crash and logs that as a ledger.recover event, and refuses to open a ledger
// whose records are damaged in the middle or no longer match their latest
// signed checkpoint: those are never repaired silently. It also refuses a
// ledger that does not extend its witness (WithWitness; by default
// DefaultWitnessPath(dir)), so that a history rewritten inside the directory
// is never signed by the next checkpoint; WithRecovery accepts it on the
// record instead. ReadOnly neither checks nor writes the witness.
func Open(dir string, opts ...Option) (*Ledger, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.witness == "" {
		cfg.witness = DefaultWitnessPath(dir)
	}
	l := &Ledger{dir: dir, cfg: cfg, durableCh: make(chan struct{}), kick: make(chan struct{}, 1),
		closing: make(chan struct{}), done: make(chan struct{})}
	l.space = sync.NewCond(&l.mu)
	vkeys := cfg.vkeys
	if !cfg.readOnly {
		if cfg.signer == nil {
			return nil, fmt.Errorf("open audit ledger %s: no signer (pass audit.WithSigner, or audit.ReadOnly to only read)", dir)
		}
		ns, err := newNoteSigner(cfg.signer)
		if err != nil {
			return nil, err
		}
		l.signer = ns
		vk, err := VerifierKey(cfg.signer.Public())
		if err != nil {
			return nil, err
		}
		vkeys = append([]string{vk}, vkeys...)
	}
	if len(vkeys) > 0 {
		v, err := Verifiers(vkeys...)
		if err != nil {
			return nil, err
		}
		l.verifier = v
	}
	if err := l.open(); err != nil {
		l.closeFiles()
		return nil, err
	}
	return l, nil
}

func (l *Ledger) open() error {
	if !l.cfg.readOnly {
		if err := os.MkdirAll(l.dir, 0o700); err != nil {
			return fmt.Errorf("create audit ledger directory: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(l.dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("open audit ledger lock: %w", err)
		}
		l.lockF = f
		if err := lockFile(f); err != nil {
			return fmt.Errorf("lock audit ledger %s: %w", l.dir, err)
		}
	}
	if err := l.loadOrigin(); err != nil {
		return err
	}
	_, statErr := os.Stat(filepath.Join(l.dir, ckptFile))
	ckptExisted := statErr == nil
	recovered, err := l.loadSegments()
	if err != nil {
		return err
	}
	if err := l.loadCheckpoints(); err != nil {
		return err
	}
	n := l.count()
	if l.hasLatest && l.latest.Size > n {
		return integrity(ErrTruncated, int64(n), -1, "", -1,
			"the latest checkpoint covers %d events but the log holds %d; events were removed", l.latest.Size, n)
	}
	l.next, l.durable, l.written = n, n, n
	if l.cfg.readOnly {
		if f, err := os.Open(filepath.Join(l.dir, hashFile)); err == nil {
			l.hashF = f
		}
		return nil
	}
	if err := l.loadHashes(); err != nil {
		return err
	}
	problem, err := l.checkWitness(ckptExisted)
	if err != nil {
		return err
	}
	if problem != nil && l.cfg.recovery == "" {
		return problem
	}
	if l.witnessFresh {
		if err := l.writeFirstWitness(); err != nil {
			return err
		}
	}
	l.lastCkpt = time.Now()
	go l.run()
	if recovered != "" {
		if err := l.logRecovery(map[string]string{"reason": recovered}); err != nil {
			return err
		}
	}
	if problem != nil {
		// The operator asked for this history to be accepted: say so in it,
		// and sign it at once so the witness vouches for it from now on.
		if err := l.logRecovery(map[string]string{
			"reason":  "opened with explicit recovery: " + problem.Error(),
			"kind":    problem.KindName(),
			"note":    l.cfg.recovery,
			"witness": l.cfg.witness,
		}); err != nil {
			return err
		}
		if _, err := l.Checkpoint(context.Background()); err != nil {
			return fmt.Errorf("checkpoint the recovered audit ledger: %w", err)
		}
	}
	return nil
}

func (l *Ledger) logRecovery(detail map[string]string) error {
	ev := &Event{Action: ActionLedgerRecover, Actor: Actor{Plugin: "warden"}, Outcome: OutcomeOK, Detail: detail}
	if _, err := l.Append(context.Background(), ev); err != nil {
		return fmt.Errorf("log recovery of audit ledger: %w", err)
	}
	l.recovered = append(l.recovered, detail["reason"])
	return nil
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
	return writeWitness(l.cfg.witness, c.Note)
}

func (l *Ledger) loadOrigin() error {
	p := filepath.Join(l.dir, originFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) && !l.cfg.readOnly {
		if m, _ := filepath.Glob(filepath.Join(l.dir, "*"+segSuffix)); len(m) > 0 {
			return fmt.Errorf("open audit ledger %s: segments exist but the origin file is missing; restore %s from a backup", l.dir, p)
		}
		var id [8]byte
		if _, err := rand.Read(id[:]); err != nil {
			return err
		}
		b = []byte("warden.audit/" + hex.EncodeToString(id[:]) + "\n")
		if err := writeFileSync(p, b); err != nil {
			return fmt.Errorf("create audit ledger origin: %w", err)
		}
		if err := syncDir(l.dir); err != nil {
			return err
		}
	} else if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("open audit ledger %s: %w: no events have been logged there yet", l.dir, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("read audit ledger origin: %w", err)
	}
	origin, err := parseOrigin(b)
	if err != nil {
		return fmt.Errorf("read audit ledger origin %s: %w", p, err)
	}
	l.origin = origin
	l.logID = strings.TrimPrefix(origin, "warden.audit/")
	return nil
}

func parseOrigin(b []byte) (string, error) {
	s := string(b)
	if !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 || len(s) < 2 || len(s) > 256 {
		return "", errors.New("not one line")
	}
	return s[:len(s)-1], nil
}

// loadSegments lists the segment files and scans the last one. It returns a
// description of a torn tail it truncated, or "".
func (l *Ledger) loadSegments() (string, error) {
	names, err := listSegments(l.dir)
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		if l.cfg.readOnly {
			return "", nil
		}
		s, err := l.createSegment(0)
		if err != nil {
			return "", err
		}
		l.segs = []*segment{s}
		l.active, l.actSize = s, segHeaderSize
		return "", nil
	}
	for i, name := range names {
		first, _ := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if i == 0 && first != 0 {
			return "", integrity(ErrMissingSegment, 0, -1, name, -1, "the first segment starts at event %d, not 0", first)
		}
		l.segs = append(l.segs, &segment{first: first, path: filepath.Join(l.dir, name)})
	}
	last := l.segs[len(l.segs)-1]
	flag := os.O_RDWR
	if l.cfg.readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(last.path, flag, 0)
	if err != nil {
		return "", fmt.Errorf("open audit segment: %w", err)
	}
	last.f = f
	data, err := io.ReadAll(f)
	if err != nil {
		return "", fmt.Errorf("read audit segment %s: %w", last.path, err)
	}
	recovered := ""
	if len(data) < segHeaderSize && bytes.HasPrefix(segHeader(last.first), data) && len(l.segs) > 1 && !l.cfg.readOnly {
		// A crash while starting a new segment: write its header again.
		if err := f.Truncate(0); err != nil {
			return "", err
		}
		if _, err := f.WriteAt(segHeader(last.first), 0); err != nil {
			return "", err
		}
		if err := datasync(f); err != nil {
			return "", err
		}
		data = segHeader(last.first)
		recovered = fmt.Sprintf("rewrote the torn header of segment %s", filepath.Base(last.path))
	}
	if l.cfg.readOnly && len(data) < segHeaderSize && bytes.HasPrefix(segHeader(last.first), data) {
		return "", nil // a writer is creating this segment right now
	}
	if err := checkSegHeader(data, last); err != nil {
		return "", err
	}
	offs, end, tornErr := scanRecords(data, segHeaderSize, last.first)
	if tornErr != nil {
		var ie *IntegrityError
		if errors.As(tornErr, &ie) && ie.Kind != nil {
			ie.File = filepath.Base(last.path)
			return "", ie
		}
	}
	last.offsets, last.end = offs, end
	if end < int64(len(data)) && !l.cfg.readOnly {
		if err := f.Truncate(end); err != nil {
			return "", fmt.Errorf("truncate torn tail of %s: %w", last.path, err)
		}
		if err := datasync(f); err != nil {
			return "", err
		}
		recovered = fmt.Sprintf("truncated a torn tail of %d bytes after event %d in segment %s (a crash interrupted an append that was never acknowledged)",
			int64(len(data))-end, int64(last.first)+int64(len(offs))-1, filepath.Base(last.path))
	}
	if !l.cfg.readOnly {
		if _, err := f.Seek(end, io.SeekStart); err != nil {
			return "", err
		}
		l.active, l.actSize = last, end
	}
	return recovered, nil
}

func checkSegHeader(data []byte, s *segment) error {
	if len(data) < segHeaderSize || string(data[:8]) != segMagic || binary.BigEndian.Uint64(data[8:]) != s.first {
		return integrity(ErrMissingSegment, int64(s.first), -1, filepath.Base(s.path), 0,
			"the segment header is not %q with first event %d", segMagic, s.first)
	}
	return nil
}

// scanRecords decodes the records of one segment whose bytes from offset base
// on are data[base:]. It returns their offsets and the offset after the last
// good one. A damaged record that is not a torn tail is an *IntegrityError.
func scanRecords(data []byte, base int64, first uint64) ([]int64, int64, error) {
	var offs []int64
	off := base
	for off < int64(len(data)) {
		rest := data[off:]
		idx, _, n, err := decodeRecord(rest)
		want := first + uint64(len(offs))
		if err != nil {
			if isTorn(rest, err, n) {
				return offs, off, nil
			}
			return offs, off, integrity(ErrCorruptRecord, int64(want), -1, "", off, "%v", err)
		}
		if idx != want {
			return offs, off, integrity(ErrSequence, int64(want), -1, "", off,
				"the record here carries index %d; an event was deleted, inserted or reordered", idx)
		}
		offs = append(offs, off)
		off += int64(n)
	}
	return offs, off, nil
}

func listSegments(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list audit ledger %s: %w", dir, err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, segSuffix) && len(n) == 20+len(segSuffix) {
			if _, err := strconv.ParseUint(n[:20], 10, 64); err == nil {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

func (l *Ledger) createSegment(first uint64) (*segment, error) {
	p := filepath.Join(l.dir, segName(first))
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create audit segment: %w", err)
	}
	// A segment that could not be made whole holds no record: it is removed,
	// so that a writer retrying after a full disk can create it again.
	if _, err := f.Write(segHeader(first)); err != nil {
		f.Close()
		os.Remove(p)
		return nil, fmt.Errorf("write audit segment header %s: %w", p, err)
	}
	if err := datasync(f); err != nil {
		f.Close()
		os.Remove(p)
		return nil, fmt.Errorf("fsync audit segment %s: %w", p, err)
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		os.Remove(p)
		return nil, err
	}
	return &segment{first: first, path: p, f: f, end: segHeaderSize}, nil
}

// loadCheckpoints reads the checkpoint file, truncating a torn tail when
// writing, and keeps the latest checkpoint.
func (l *Ledger) loadCheckpoints() error {
	p := filepath.Join(l.dir, ckptFile)
	flag := os.O_RDWR | os.O_CREATE
	if l.cfg.readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(p, flag, 0o600)
	if errors.Is(err, os.ErrNotExist) && l.cfg.readOnly {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open audit checkpoints: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return err
	}
	if len(data) == 0 && !l.cfg.readOnly {
		data = []byte(ckptMagic)
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		if err := datasync(f); err != nil {
			f.Close()
			return err
		}
		// Open refuses a log with events and no checkpoints file, so the
		// file's name must be as durable as the events that follow.
		if err := syncDir(l.dir); err != nil {
			f.Close()
			return err
		}
	}
	notes, end, err := scanCheckpoints(data)
	if err != nil {
		f.Close()
		return err
	}
	if end < int64(len(data)) && !l.cfg.readOnly {
		if err := f.Truncate(end); err != nil {
			f.Close()
			return err
		}
	}
	if l.cfg.readOnly {
		f.Close()
	} else {
		if _, err := f.Seek(end, io.SeekStart); err != nil {
			f.Close()
			return err
		}
		l.ckptF, l.ckptEnd = f, end
	}
	if len(notes) == 0 {
		return nil
	}
	msg := notes[len(notes)-1]
	var c Checkpoint
	if l.verifier != nil {
		c, err = ParseCheckpoint(msg, l.verifier)
	} else {
		c, err = parseUnverifiedCheckpoint(msg)
	}
	if err != nil {
		return &IntegrityError{Kind: kindOf(err), Index: -1, Checkpoint: len(notes) - 1, File: ckptFile, Offset: -1,
			Reason: err.Error() + " (if the host key was rotated, open with the old verifier key too)"}
	}
	if c.Origin != l.origin {
		return integrity(ErrMalformedCheckpoint, -1, len(notes)-1, ckptFile, -1, "origin %q is not this log's %q", c.Origin, l.origin)
	}
	l.latest, l.hasLatest = c, true
	return nil
}

func kindOf(err error) error {
	if errors.Is(err, ErrBadSignature) {
		return ErrBadSignature
	}
	return ErrMalformedCheckpoint
}

func parseUnverifiedCheckpoint(msg []byte) (Checkpoint, error) {
	i := bytes.Index(msg, []byte("\n\n"))
	if i < 0 {
		return Checkpoint{}, fmt.Errorf("%w: no blank line before the signatures", ErrMalformedCheckpoint)
	}
	c, err := parseCheckpointText(string(msg[:i+1]))
	if err != nil {
		return c, err
	}
	c.Note = append([]byte(nil), msg...)
	return c, nil
}

// scanCheckpoints splits the checkpoint file into notes. A torn last frame
// ends the list; a damaged frame before the end is an error.
func scanCheckpoints(data []byte) ([][]byte, int64, error) {
	if len(data) < ckptHeaderSize {
		if bytes.HasPrefix([]byte(ckptMagic), data) {
			return nil, 0, nil
		}
		return nil, 0, integrity(ErrMalformedCheckpoint, -1, -1, ckptFile, 0, "file does not start with %q", ckptMagic)
	}
	if string(data[:ckptHeaderSize]) != ckptMagic {
		return nil, 0, integrity(ErrMalformedCheckpoint, -1, -1, ckptFile, 0, "file does not start with %q", ckptMagic)
	}
	var notes [][]byte
	off := int64(ckptHeaderSize)
	for off < int64(len(data)) {
		rest := data[off:]
		msg, n, err := decodeCkptFrame(rest)
		if err != nil {
			if isTorn(rest, err, n) {
				break
			}
			return notes, off, integrity(ErrMalformedCheckpoint, -1, len(notes), ckptFile, off, "%v", err)
		}
		notes = append(notes, msg)
		off += int64(n)
	}
	return notes, off, nil
}

// loadHashes opens the stored-hash file and makes it cover every record.
// Hashes up to the latest checkpoint were fsynced before it was signed and are
// trusted once they reproduce its root; later ones are recomputed from the
// records, which are the source of truth.
func (l *Ledger) loadHashes() error {
	p := filepath.Join(l.dir, hashFile)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open audit hashes: %w", err)
	}
	l.hashF = f
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var k uint64
	if l.hasLatest {
		k = l.latest.Size
	}
	have := (fi.Size() - hashHeaderSize) / tlog.HashSize
	var hdr [hashHeaderSize]byte
	_, herr := f.ReadAt(hdr[:], 0)
	rebuild := fi.Size() < hashHeaderSize || herr != nil || string(hdr[:]) != hashMagic || have < tlog.StoredHashCount(int64(k))
	if !rebuild {
		if err := l.resumeHashes(k); err != nil {
			return err
		}
		if l.hasLatest {
			root, err := tlog.TreeHash(int64(k), l.fileHashes())
			if err != nil || root != l.latest.Root {
				rebuild = true
			}
		}
	}
	if rebuild {
		if err := l.resumeHashes(0); err != nil {
			return err
		}
	}
	if l.hasLatest {
		root, err := tlog.TreeHash(int64(k), l.fileHashes())
		if err != nil {
			return err
		}
		if root != l.latest.Root {
			return integrity(ErrRootMismatch, -1, -1, "", -1,
				"the %d events do not hash to the latest signed checkpoint; run 'warden audit verify' to find where", k)
		}
	}
	return nil
}

// resumeHashes keeps the stored hashes of records [0, k), recomputes the rest
// from the records, and loads the frontier the writer extends.
func (l *Ledger) resumeHashes(k uint64) error {
	l.hashEnd = hashHeaderSize + tlog.StoredHashCount(int64(k))*tlog.HashSize
	if err := l.hashF.Truncate(l.hashEnd); err != nil {
		return fmt.Errorf("truncate audit hashes: %w", err)
	}
	if _, err := l.hashF.WriteAt([]byte(hashMagic), 0); err != nil {
		return err
	}
	if err := l.loadFrontier(k); err != nil {
		return err
	}
	buf := l.hashBuf[:0]
	i := k
	for e, err := range l.readRaw(k, l.written) {
		if err != nil {
			return err
		}
		if buf, err = l.appendStoredHashes(buf, i, tlog.RecordHash(e.Raw)); err != nil {
			return err
		}
		i++
		if len(buf) > 1<<20 {
			if err := l.flushHashes(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if err := l.flushHashes(buf); err != nil {
		return err
	}
	l.hashBuf = buf[:0]
	return nil
}

func (l *Ledger) flushHashes(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if _, err := l.hashF.WriteAt(buf, l.hashEnd); err != nil {
		return fmt.Errorf("write audit hashes: %w", err)
	}
	l.hashEnd += int64(len(buf))
	return nil
}

// loadFrontier reads, for a tree of n records, the newest complete node at
// every level: exactly the hashes StoredHashes asks for next.
func (l *Ledger) loadFrontier(n uint64) error {
	for lvl := range l.frontIdx {
		l.frontIdx[lvl] = -1
		if n>>uint(lvl) == 0 {
			continue
		}
		idx := tlog.StoredHashIndex(lvl, int64(n>>uint(lvl))-1)
		h, err := l.fileHashes().ReadHashes([]int64{idx})
		if err != nil {
			return err
		}
		l.frontier[lvl], l.frontIdx[lvl] = h[0], idx
	}
	return nil
}

// appendStoredHashes appends the hashes tlog stores for record n with leaf
// hash h, and advances the frontier. It computes what
// tlog.StoredHashesForRecordHash does, straight from the frontier and without
// allocating: the writer runs it for every event.
func (l *Ledger) appendStoredHashes(buf []byte, n uint64, h tlog.Hash) ([]byte, error) {
	// Each trailing 1 bit of n completes a subtree, whose left half is the
	// frontier node at that level.
	m := bits.TrailingZeros64(n + 1)
	for lvl := range m {
		if idx := tlog.StoredHashIndex(lvl, int64(n>>uint(lvl))-1); l.frontIdx[lvl] != idx {
			return buf, fmt.Errorf("store tree hashes of event %d: hash %d (level %d) is not on the frontier", n, idx, lvl)
		}
	}
	for lvl := 0; ; lvl++ {
		left := l.frontier[lvl]
		l.frontier[lvl] = h
		l.frontIdx[lvl] = tlog.StoredHashIndex(lvl, int64(n>>uint(lvl)))
		buf = append(buf, h[:]...)
		if lvl == m {
			return buf, nil
		}
		h = tlog.NodeHash(left, h)
	}
}

// fileHashes reads stored hashes from the hash file.
func (l *Ledger) fileHashes() tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, idx := range indexes {
			if _, err := l.hashF.ReadAt(out[i][:], hashHeaderSize+idx*tlog.HashSize); err != nil {
				return nil, fmt.Errorf("read stored hash %d: %w", idx, err)
			}
		}
		return out, nil
	})
}

// count is the number of complete records on disk that Open found.
func (l *Ledger) count() uint64 {
	if len(l.segs) == 0 {
		return 0
	}
	last := l.segs[len(l.segs)-1]
	return last.first + uint64(len(last.offsets))
}

// Enqueue appends ev to the log and returns its index without waiting for it
// to be durable; Sync waits. It sets ev.ID (replacing any value) and, if zero,
// ev.Time. Until the next Sync returns, a crash may lose the event.
func (l *Ledger) Enqueue(ev *Event) (uint64, error) {
	if l.cfg.readOnly {
		return 0, ErrReadOnly
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if err := ev.validate(); err != nil {
		return 0, err
	}
	bp := encPool.Get().(*[]byte)
	b := ev.appendBeforeID((*bp)[:0])
	split := len(b)
	b = ev.appendAfterID(b)
	*bp = b
	defer encPool.Put(bp)
	if len(b)+len(l.logID)+48 > MaxEventSize {
		return 0, fmt.Errorf("%w: encoding is %d bytes, more than %d", ErrInvalidEvent, len(b), MaxEventSize)
	}

	l.mu.Lock()
	for len(l.pending) > l.cfg.maxQueued && !l.closed && l.werr == nil && l.stall == nil {
		l.space.Wait()
	}
	if l.closed || l.werr != nil {
		err := l.werr
		l.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return 0, err
	}
	if l.stall != nil {
		// Fail closed: the caller withholds whatever this event records.
		l.outage.refused++
		err := l.stall
		l.mu.Unlock()
		return 0, err
	}
	idx := l.appendLocked(ev, b, split)
	l.mu.Unlock()

	select {
	case l.kick <- struct{}{}:
	default:
	}
	return idx, nil
}

// appendLocked frames the encoded event b (split where its id goes) as the
// next record, sets ev.ID and returns its index. Call with mu held.
func (l *Ledger) appendLocked(ev *Event, b []byte, split int) uint64 {
	idx := l.next
	l.next++
	start := len(l.pending)
	p := appendRecordHeader(l.pending)
	p = append(p, b[:split]...)
	p = append(p, `"id":"`...)
	idStart := len(p)
	p = append(p, l.logID...)
	p = append(p, '-')
	p = strconv.AppendUint(p, idx, 10)
	ev.ID = string(p[idStart:])
	p = append(p, '"')
	p = append(p, b[split:]...)
	frameRecord(p[start:], idx)
	l.pending = p
	return idx
}

var encPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Append appends ev and returns its index once it is durable: written and
// fsynced, sharing the fsync with every concurrent appender (group commit).
func (l *Ledger) Append(ctx context.Context, ev *Event) (uint64, error) {
	idx, err := l.Enqueue(ev)
	if err != nil {
		return 0, err
	}
	return idx, l.waitDurable(ctx, idx+1)
}

// Sync returns once every event enqueued before the call is durable.
func (l *Ledger) Sync(ctx context.Context) error {
	if l.cfg.readOnly {
		return ErrReadOnly
	}
	l.mu.Lock()
	n := l.next
	l.mu.Unlock()
	return l.waitDurable(ctx, n)
}

func (l *Ledger) waitDurable(ctx context.Context, n uint64) error {
	l.mu.Lock()
	for l.durable < n {
		if l.werr != nil {
			err := l.werr
			l.mu.Unlock()
			return err
		}
		if l.stall != nil {
			// The events stay queued and are written when the disk has
			// room; the caller fails closed now rather than hang.
			l.outage.failedWaits++
			err := l.stall
			l.mu.Unlock()
			return err
		}
		ch := l.durableCh
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for audit event to be durable: %w", ctx.Err())
		}
		l.mu.Lock()
	}
	l.mu.Unlock()
	return nil
}

// run is the single writer: it takes everything enqueued so far, writes it
// with one write and one fdatasync, and wakes the waiters; while it syncs, the
// next batch accumulates. That is the group commit.
//
// A write that fails for want of space (see transient) does not end it: it
// stalls the ledger and retries with backoff, repairing the files first
// (outage.go).
func (l *Ledger) run() {
	defer close(l.done)
	tick := time.NewTicker(l.cfg.interval)
	defer tick.Stop()
	var retry <-chan time.Time
	backoff := l.cfg.retryMin
	for {
		closing, due := false, false
		select {
		case <-l.kick:
		case <-tick.C:
		case <-retry:
			due = true
		case <-l.closing:
			closing = true
		}
		stalled := l.stalled()
		if stalled && !closing && !due {
			if retry == nil { // stalled by Checkpoint, outside this loop
				backoff = l.cfg.retryMin
				retry = time.After(backoff)
			}
			continue // waiting out the backoff
		}
		l.wmu.Lock()
		var err error
		if stalled {
			err = l.resume()
		}
		if err == nil {
			err = l.drain()
		}
		if err == nil && (closing || stalled || time.Since(l.lastCkpt) >= l.cfg.interval) {
			err = l.checkpointLocked()
		}
		l.wmu.Unlock()
		if err != nil && closing {
			// No retry after Close: what was not written is reported.
			l.failHard(err)
			return
		}
		if err != nil {
			l.fail(err)
		}
		switch {
		case err != nil && l.stalled():
			if retry == nil {
				backoff = l.cfg.retryMin
			} else {
				backoff = min(2*backoff, l.cfg.retryMax)
			}
			retry = time.After(backoff)
		default:
			retry = nil
		}
		if closing {
			return
		}
	}
}

// fail stops the writer: for a while when err is transient (the disk is
// full), for good otherwise.
func (l *Ledger) fail(err error) {
	if transient(err) {
		l.stallWith(err)
		return
	}
	l.failHard(err)
}

func (l *Ledger) failHard(err error) {
	l.mu.Lock()
	if l.werr == nil {
		l.werr = fmt.Errorf("audit ledger %s stopped writing: %w", l.dir, err)
		close(l.durableCh)
		l.durableCh = make(chan struct{})
		l.space.Broadcast()
	}
	l.mu.Unlock()
}

// drain commits batches until nothing is pending. Call with wmu held.
func (l *Ledger) drain() error {
	for {
		l.mu.Lock()
		if l.werr != nil {
			err := l.werr
			l.mu.Unlock()
			return err
		}
		if len(l.pending) == 0 {
			l.mu.Unlock()
			return nil
		}
		buf := l.pending
		end := l.next
		l.pending, l.spare = l.spare[:0], nil
		l.space.Broadcast()
		l.mu.Unlock()

		if err := l.commit(buf, l.written, end); err != nil {
			// The batch stays first in line: a writer that resumes after a
			// full disk writes it again, under the same indexes.
			l.mu.Lock()
			l.pending = append(append(make([]byte, 0, len(buf)+len(l.pending)), buf...), l.pending...)
			l.mu.Unlock()
			return err
		}
		l.mu.Lock()
		l.written, l.durable = end, end
		close(l.durableCh)
		l.durableCh = make(chan struct{})
		if cap(buf) <= 8<<20 {
			l.spare = buf[:0]
		}
		l.mu.Unlock()
		if l.written-l.latestSize() >= l.cfg.every {
			if err := l.checkpointLocked(); err != nil {
				return err
			}
		}
	}
}

// commit writes records [start, end) framed in buf to the active segment,
// stores their tree hashes and fsyncs the segment.
func (l *Ledger) commit(buf []byte, start, end uint64) error {
	if l.actSize >= l.cfg.segSize {
		if err := l.rotate(start); err != nil {
			return err
		}
	}
	seg := l.active
	offs := make([]int64, 0, end-start)
	hb := l.hashBuf[:0]
	p := 0
	for i := start; i < end; i++ {
		size := int(binary.BigEndian.Uint32(buf[p:]))
		rec := buf[p : p+recHeaderSize+size]
		sealRecord(rec) // Enqueue framed it; the checksum is the writer's job
		offs = append(offs, l.actSize+int64(p))
		var err error
		if hb, err = l.appendStoredHashes(hb, i, tlog.RecordHash(rec[recHeaderSize:])); err != nil {
			return err
		}
		p += len(rec)
	}
	if _, err := seg.f.Write(buf); err != nil {
		return fmt.Errorf("append to audit segment: %w", err)
	}
	if err := l.flushHashes(hb); err != nil {
		return err
	}
	l.hashBuf = hb[:0]
	if err := datasync(seg.f); err != nil {
		return fmt.Errorf("fsync %s: %w", seg.path, err)
	}
	l.actSize += int64(len(buf))
	seg.mu.Lock()
	seg.offsets = append(seg.offsets, offs...)
	seg.end = l.actSize
	seg.mu.Unlock()
	return nil
}

func (l *Ledger) rotate(first uint64) error {
	s, err := l.createSegment(first)
	if err != nil {
		return err
	}
	l.segMu.Lock()
	l.segs = append(l.segs, s)
	l.segMu.Unlock()
	l.active, l.actSize = s, segHeaderSize
	return nil
}

func (l *Ledger) latestSize() uint64 {
	l.ckptMu.RLock()
	defer l.ckptMu.RUnlock()
	if !l.hasLatest {
		return 0
	}
	return l.latest.Size
}

// checkpointLocked signs and appends a checkpoint for everything written, if
// the latest one does not already cover it. Call with wmu held.
func (l *Ledger) checkpointLocked() error {
	n := l.written
	l.ckptMu.RLock()
	covered := l.hasLatest && l.latest.Size == n
	l.ckptMu.RUnlock()
	l.lastCkpt = time.Now()
	if covered {
		return nil
	}
	// The hashes must be on disk before a checkpoint vouches for them: Open
	// trusts stored hashes only up to the latest checkpoint.
	if err := datasync(l.hashF); err != nil {
		return fmt.Errorf("fsync audit hashes: %w", err)
	}
	root, err := tlog.TreeHash(int64(n), l.fileHashes())
	if err != nil {
		return err
	}
	c, err := signCheckpoint(l.signer, l.origin, n, root)
	if err != nil {
		return err
	}
	frame := ckptFrame(c.Note)
	if _, err := l.ckptF.Write(frame); err != nil {
		return fmt.Errorf("write audit checkpoint: %w", err)
	}
	if err := datasync(l.ckptF); err != nil {
		return fmt.Errorf("fsync audit checkpoints: %w", err)
	}
	l.ckptEnd += int64(len(frame))
	// Only now, with the checkpoint durable, so the witness is never ahead of
	// the checkpoints file.
	if err := writeWitness(l.cfg.witness, c.Note); err != nil {
		return err
	}
	l.ckptMu.Lock()
	l.latest, l.hasLatest = c, true
	l.ckptMu.Unlock()
	return nil
}

// Checkpoint makes everything enqueued so far durable and signs a checkpoint
// covering it, unless one already does.
func (l *Ledger) Checkpoint(ctx context.Context) (Checkpoint, error) {
	if l.cfg.readOnly {
		return Checkpoint{}, ErrReadOnly
	}
	if err := l.Sync(ctx); err != nil {
		return Checkpoint{}, err
	}
	l.wmu.Lock()
	err := l.checkpointLocked()
	l.wmu.Unlock()
	if err != nil {
		l.fail(err)
		return Checkpoint{}, err
	}
	c, _ := l.Latest()
	return c, nil
}

// Latest returns the newest checkpoint and whether there is one.
func (l *Ledger) Latest() (Checkpoint, bool) {
	l.ckptMu.RLock()
	defer l.ckptMu.RUnlock()
	return l.latest, l.hasLatest
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

// Close makes everything enqueued durable, writes a final checkpoint and
// releases the directory.
func (l *Ledger) Close() error {
	var err error
	l.once.Do(func() {
		if !l.cfg.readOnly {
			l.mu.Lock()
			l.closed = true
			l.space.Broadcast()
			l.mu.Unlock()
			close(l.closing)
			<-l.done
			l.mu.Lock()
			err = l.werr
			l.mu.Unlock()
		}
		if cerr := l.closeFiles(); err == nil {
			err = cerr
		}
	})
	return err
}

func (l *Ledger) closeFiles() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	l.segMu.Lock()
	for _, s := range l.segs {
		s.mu.Lock()
		if s.f != nil {
			keep(s.f.Close())
			s.f = nil
		}
		s.mu.Unlock()
	}
	l.segMu.Unlock()
	for _, f := range []*os.File{l.hashF, l.ckptF, l.lockF} {
		if f != nil {
			keep(f.Close())
		}
	}
	l.hashF, l.ckptF, l.lockF = nil, nil, nil
	return first
}

func writeFileSync(p string, data []byte) error {
	return atomicfile.WriteSynced(p, data, os.O_CREATE|os.O_TRUNC)
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }
