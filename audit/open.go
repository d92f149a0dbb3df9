package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

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
	l.ops = osFileOps
	if cfg.ops != nil {
		l.ops = *cfg.ops
	}
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
	recovered, problem, err := l.load()
	if err != nil {
		l.closeFiles()
		return nil, err
	}
	if l.cfg.readOnly {
		return l, nil
	}
	l.lastCkpt = time.Now()
	go l.run()
	if err := l.logOpen(recovered, problem); err != nil {
		// The writer must not outlive a failed Open: stop it, then close.
		l.Close()
		return nil, err
	}
	return l, nil
}

// load takes the lock, reads the files, repairs a torn tail and checks the
// log against its checkpoint and witness; all before the writer starts. It
// returns what it repaired and what the witness check found that
// WithRecovery accepts, for logOpen to record.
func (l *Ledger) load() (recovered string, problem *IntegrityError, err error) {
	if !l.cfg.readOnly {
		if err := os.MkdirAll(l.dir, 0o700); err != nil {
			return "", nil, fmt.Errorf("create audit ledger directory: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(l.dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return "", nil, fmt.Errorf("open audit ledger lock: %w", err)
		}
		l.lockF = f
		if err := lockFile(f); err != nil {
			return "", nil, fmt.Errorf("lock audit ledger %s: %w", l.dir, err)
		}
	}
	if err := l.loadOrigin(); err != nil {
		return "", nil, err
	}
	_, statErr := os.Stat(filepath.Join(l.dir, ckptFile))
	ckptExisted := statErr == nil
	recovered, err = l.loadSegments()
	if err != nil {
		return "", nil, err
	}
	if err := l.loadCheckpoints(); err != nil {
		return "", nil, err
	}
	n := l.count()
	if l.hasLatest && l.latest.Size > n {
		return "", nil, integrity(ErrTruncated, int64(n), -1, "", -1,
			"the latest checkpoint covers %d events but the log holds %d; events were removed", l.latest.Size, n)
	}
	l.next, l.durable, l.written = n, n, n
	if l.cfg.readOnly {
		if f, err := os.Open(filepath.Join(l.dir, hashFile)); err == nil {
			l.hashF = f
		}
		return "", nil, nil
	}
	if err := l.loadHashes(); err != nil {
		return "", nil, err
	}
	problem, err = l.checkWitness(ckptExisted)
	if err != nil {
		return "", nil, err
	}
	if problem != nil && l.cfg.recovery == "" {
		return "", nil, problem
	}
	if l.witnessFresh {
		if err := l.writeFirstWitness(); err != nil {
			return "", nil, err
		}
	}
	return recovered, problem, nil
}

// logOpen records, through the running writer, what load repaired or
// accepted.
func (l *Ledger) logOpen(recovered string, problem *IntegrityError) error {
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
		if err := l.ops.writeFile(p, b); err != nil {
			return fmt.Errorf("create audit ledger origin: %w", err)
		}
		if err := l.ops.syncDir(l.dir); err != nil {
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
	f, err := l.ops.openFile(last.path, flag, 0)
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
		if err := l.ops.truncate(f, 0); err != nil {
			return "", err
		}
		if _, err := l.ops.writeAt(f, segHeader(last.first), 0); err != nil {
			return "", err
		}
		if err := l.ops.datasync(f); err != nil {
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
		if err := l.ops.truncate(f, end); err != nil {
			return "", fmt.Errorf("truncate torn tail of %s: %w", last.path, err)
		}
		if err := l.ops.datasync(f); err != nil {
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

// count is the number of complete records on disk that Open found.
func (l *Ledger) count() uint64 {
	if len(l.segs) == 0 {
		return 0
	}
	last := l.segs[len(l.segs)-1]
	return last.first + uint64(len(last.offsets))
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
