package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Signer is the host key as the ledger needs it. The hostkey package's ring
// satisfies it; Sign must return a plain Ed25519 signature of msg.
type Signer interface {
	KeyID() string
	Public() ed25519.PublicKey
	Sign(msg []byte) ([]byte, error)
}

// KeyName is the signer name in every checkpoint note and verifier key.
const KeyName = "warden-host"

// noteSigner adapts a Signer to note.Signer (C2SP signed-note, Ed25519 type 0x01).
type noteSigner struct {
	s    Signer
	hash uint32
}

func newNoteSigner(s Signer) (*noteSigner, error) {
	pub := s.Public()
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("audit signer %s: public key is %d bytes, want %d", s.KeyID(), len(pub), ed25519.PublicKeySize)
	}
	return &noteSigner{s: s, hash: KeyHash(KeyName, pub)}, nil
}

func (n *noteSigner) Name() string                    { return KeyName }
func (n *noteSigner) KeyHash() uint32                 { return n.hash }
func (n *noteSigner) Sign(msg []byte) ([]byte, error) { return n.s.Sign(msg) }

// KeyHash is the signed-note key hash of an Ed25519 key: the first four bytes,
// big-endian, of SHA-256(name || "\n" || 0x01 || pub).
func KeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{0x01})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// VerifierKey returns the signed-note verifier key for pub:
// "warden-host+<8 hex key hash>+<base64(0x01 || pub)>". It is all a third
// party needs to check checkpoints and proofs.
func VerifierKey(pub ed25519.PublicKey) (string, error) {
	return note.NewEd25519VerifierKey(KeyName, pub)
}

// Verifiers parses verifier keys into the list note.Open takes.
func Verifiers(vkeys ...string) (note.Verifiers, error) {
	var list []note.Verifier
	seen := map[string]bool{}
	for _, k := range vkeys {
		k = strings.TrimSpace(k)
		if seen[k] {
			continue // the same key twice is one key, not an ambiguity
		}
		seen[k] = true
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("parse verifier key %q: %w (want name+hash+base64 as printed by 'warden audit pubkey')", k, err)
		}
		list = append(list, v)
	}
	return note.VerifierList(list...), nil
}

// Checkpoint is a signed statement by the host that its log held Size events
// whose RFC 6962 tree hash is Root.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   tlog.Hash
	// Note is the whole signed note as written: text, blank line, signatures.
	Note []byte
}

// ErrMalformedCheckpoint is returned (wrapped) when a checkpoint note cannot be
// parsed, and by verify when the checkpoint file is damaged.
var ErrMalformedCheckpoint = errors.New("malformed checkpoint")

// ErrBadSignature is returned (wrapped) when a checkpoint is not signed by a
// key the verifier trusts, or its signature is invalid.
var ErrBadSignature = errors.New("checkpoint signature not valid")

func formatCheckpointText(origin string, size uint64, root tlog.Hash) string {
	return origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
}

// ParseCheckpoint checks the note's signature against verifiers and parses its
// text: origin line, decimal tree size, base64 root hash, then optional
// extension lines that are ignored.
func ParseCheckpoint(msg []byte, verifiers note.Verifiers) (Checkpoint, error) {
	n, err := note.Open(msg, verifiers)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return Checkpoint{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrMalformedCheckpoint, err)
	}
	c, err := parseCheckpointText(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	c.Note = append([]byte(nil), msg...)
	return c, nil
}

func parseCheckpointText(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return Checkpoint{}, fmt.Errorf("%w: fewer than three lines", ErrMalformedCheckpoint)
	}
	origin := lines[0]
	if origin == "" {
		return Checkpoint{}, fmt.Errorf("%w: empty origin line", ErrMalformedCheckpoint)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || lines[1] != strconv.FormatUint(size, 10) || size > 1<<62 {
		return Checkpoint{}, fmt.Errorf("%w: tree size %q is not a canonical decimal number", ErrMalformedCheckpoint, lines[1])
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("%w: root hash %q is not base64 of 32 bytes", ErrMalformedCheckpoint, lines[2])
	}
	var root tlog.Hash
	copy(root[:], raw)
	return Checkpoint{Origin: origin, Size: size, Root: root}, nil
}

func signCheckpoint(s note.Signer, origin string, size uint64, root tlog.Hash) (Checkpoint, error) {
	msg, err := note.Sign(&note.Note{Text: formatCheckpointText(origin, size, root)}, s)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign checkpoint of %d events: %w", size, err)
	}
	return Checkpoint{Origin: origin, Size: size, Root: root, Note: msg}, nil
}

// loadCheckpoints reads the checkpoint file, truncating a torn tail when
// writing, and keeps the latest checkpoint.
func (l *Ledger) loadCheckpoints() error {
	p := filepath.Join(l.dir, ckptFile)
	flag := os.O_RDWR | os.O_CREATE
	if l.cfg.readOnly {
		flag = os.O_RDONLY
	}
	f, err := l.ops.openFile(p, flag, 0o600)
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
		if _, err := l.ops.write(f, data); err != nil {
			f.Close()
			return err
		}
		if err := l.ops.datasync(f); err != nil {
			f.Close()
			return err
		}
		// Open refuses a log with events and no checkpoints file, so the
		// file's name must be as durable as the events that follow.
		if err := l.ops.syncDir(l.dir); err != nil {
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
		if err := l.ops.truncate(f, end); err != nil {
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
	if err := l.ops.datasync(l.hashF); err != nil {
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
	if _, err := l.ops.write(l.ckptF, frame); err != nil {
		return fmt.Errorf("write audit checkpoint: %w", err)
	}
	if err := l.ops.datasync(l.ckptF); err != nil {
		return fmt.Errorf("fsync audit checkpoints: %w", err)
	}
	l.ckptEnd += int64(len(frame))
	// Only now, with the checkpoint durable, so the witness is never ahead of
	// the checkpoints file.
	if err := l.writeWitness(c.Note); err != nil {
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
	// A writer that stopped or stalled has files it has not repaired (a
	// torn checkpoint frame, hashes whose fsync failed): signing on top of
	// them is its job once it resumes, never a caller's.
	err := l.failure()
	if err == nil {
		if err = l.checkpointLocked(); err != nil {
			l.fail(err)
			err = l.failure()
		}
	}
	l.wmu.Unlock()
	if err != nil {
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
