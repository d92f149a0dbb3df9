package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyOptions tunes VerifyDir.
type VerifyOptions struct {
	// Progress, if set, is called now and then with events done and the
	// number of events expected (an estimate until the last segment is read).
	Progress func(done, total uint64)
	// Trusted is a checkpoint the verifier saw earlier (kept by a monitor or
	// a previous run). The log must extend it: a smaller latest checkpoint,
	// or none, is a rollback; a different root at its size, or another
	// origin, an inconsistency.
	Trusted *Checkpoint
	// MoreTrusted are further checkpoints checked like Trusted: a copy an
	// auditor kept.
	MoreTrusted []Checkpoint
	// Witness is the path of the host's witness (DefaultWitnessPath of the
	// ledger directory). When set, VerifyDir reads it before anything else,
	// trusts its checkpoint like Trusted, and holds the log to the rule the
	// host's Open applies: a log that holds events must have its witness
	// (ErrWitnessMissing) and its checkpoints file (ErrCheckpointsMissing),
	// and the witness must be of this log (ErrWitnessMismatch). A verifier
	// that passed what the host then refuses would tell a person the log is
	// fine when it is not. Report.Witness is the checkpoint it held.
	Witness string
	// IgnoreMissingWitness accepts a log with events whose witness is
	// missing (a ledger directory copied without it); the report says so
	// in Report.WitnessMissing. A witness that exists is always checked.
	IgnoreMissingWitness bool
}

func (o VerifyOptions) trusted() []Checkpoint {
	out := slices.Clone(o.MoreTrusted)
	if o.Trusted != nil {
		out = append(out, *o.Trusted)
	}
	return out
}

// Report describes a log that verified.
type Report struct {
	Origin      string
	Events      uint64
	Segments    int
	Checkpoints int
	Latest      *Checkpoint `json:",omitempty"`
	// Witness is the witness checkpoint the log was checked against
	// (VerifyOptions.Witness), nil when none was given or it was missing.
	Witness *Checkpoint `json:",omitempty"`
	// WitnessMissing: VerifyOptions.Witness names no file, and the log's
	// events were accepted only because IgnoreMissingWitness said so.
	WitnessMissing bool `json:",omitempty"`
	// Unsigned counts the events after the latest checkpoint: intact records
	// that no signature covers yet (the next checkpoint will).
	Unsigned uint64
	// TornTail is the number of bytes after the last complete record of the
	// last segment, left by a crash; Open truncates them.
	TornTail int64
}

// Verify recomputes the ledger's whole tree from its records and checks every
// checkpoint against it; see VerifyDir.
func (l *Ledger) Verify(ctx context.Context, progress func(done, total uint64)) error {
	if l.verifier == nil {
		return errors.New("verify audit ledger: no verifier key (open with WithVerifierKeys or a signer)")
	}
	_, err := VerifyDir(ctx, l.dir, l.verifier, VerifyOptions{Progress: progress})
	return err
}

// VerifyDir checks the ledger in dir with nothing but the host's verifier
// keys: every record's framing, checksum and index; every checkpoint's
// signature; that checkpoint sizes never go back; that every checkpoint's root
// is the RFC 6962 tree hash of the events it covers (which makes consecutive
// checkpoints consistent); and that the stored hash cache matches. It returns
// an *IntegrityError naming the first problem.
func VerifyDir(ctx context.Context, dir string, verifiers note.Verifiers, opts VerifyOptions) (*Report, error) {
	rep := &Report{}
	// The witness is read before the checkpoints: a running host replaces it
	// only after a checkpoint is durable, so read in this order it is never
	// ahead of the file.
	haveWitness := false
	if opts.Witness != "" {
		w, ok, err := ReadWitness(opts.Witness, verifiers)
		if err != nil {
			return nil, err
		}
		if ok {
			haveWitness = true
			rep.Witness = &w
			opts.MoreTrusted = append(slices.Clone(opts.MoreTrusted), w)
		}
	}
	trusted := opts.trusted()
	ob, err := os.ReadFile(filepath.Join(dir, originFile))
	if errors.Is(err, os.ErrNotExist) {
		for _, t := range trusted {
			if t.Size > 0 {
				return nil, integrity(ErrRollback, 0, -1, originFile, -1,
					"the ledger has no origin file, but a trusted checkpoint covers %d events of log %q: the ledger was deleted", t.Size, t.Origin)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("verify audit ledger %s: %w", dir, err)
	}
	if rep.Origin, err = parseOrigin(ob); err != nil {
		return nil, fmt.Errorf("verify audit ledger %s: origin file: %w", dir, err)
	}

	// Checkpoints first: a concurrent writer only adds records after them.
	cdata, err := os.ReadFile(filepath.Join(dir, ckptFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("verify audit ledger: %w", err)
	}
	ckptExisted := err == nil
	var cps []Checkpoint
	if len(cdata) > 0 {
		notes, _, err := scanCheckpoints(cdata)
		if err != nil {
			return nil, err
		}
		for k, msg := range notes {
			c, err := ParseCheckpoint(msg, verifiers)
			if err != nil {
				return nil, &IntegrityError{Kind: kindOf(err), Index: -1, Checkpoint: k, File: ckptFile, Offset: -1, Reason: err.Error()}
			}
			if c.Origin != rep.Origin {
				return nil, integrity(ErrMalformedCheckpoint, -1, k, ckptFile, -1, "origin %q is not this log's %q", c.Origin, rep.Origin)
			}
			cps = append(cps, c)
		}
	}
	rep.Checkpoints = len(cps)
	for k := 1; k < len(cps); k++ {
		if cps[k].Size < cps[k-1].Size {
			return nil, integrity(ErrRollback, int64(cps[k].Size), k, ckptFile, -1,
				"checkpoint #%d covers %d events, fewer than the %d of checkpoint #%d before it", k, cps[k].Size, cps[k-1].Size, k-1)
		}
		if cps[k].Size == cps[k-1].Size && cps[k].Root != cps[k-1].Root {
			return nil, integrity(ErrInconsistent, int64(cps[k].Size), k, ckptFile, -1,
				"checkpoints #%d and #%d both cover %d events but sign different roots", k-1, k, cps[k].Size)
		}
	}
	if rep.Witness != nil && rep.Witness.Origin != rep.Origin {
		return nil, integrity(ErrWitnessMismatch, -1, -1, opts.Witness, -1,
			"the witness is of log %q but the ledger directory holds log %q: the directory was replaced", rep.Witness.Origin, rep.Origin)
	}
	for _, t := range trusted {
		if t.Origin != rep.Origin {
			return nil, integrity(ErrInconsistent, -1, -1, "", -1,
				"the trusted checkpoint is of log %q, this is log %q: the ledger was replaced (or the wrong checkpoint was given)", t.Origin, rep.Origin)
		}
		if len(cps) == 0 && t.Size > 0 {
			// Without this, a log whose checkpoints were deleted and whose
			// events were rewritten would verify as merely "unsigned".
			return nil, integrity(ErrRollback, 0, -1, ckptFile, -1,
				"the log has no checkpoint, but a trusted checkpoint covers %d events: its checkpoints were removed", t.Size)
		}
		if len(cps) == 0 {
			continue
		}
		last := cps[len(cps)-1]
		if last.Size < t.Size {
			return nil, integrity(ErrRollback, int64(last.Size), len(cps)-1, ckptFile, -1,
				"the latest checkpoint covers %d events, fewer than the %d of the trusted checkpoint", last.Size, t.Size)
		}
	}

	// Which tree sizes need a root.
	want := map[uint64]bool{}
	for _, c := range cps {
		want[c.Size] = true
	}
	for _, t := range trusted {
		want[t.Size] = true
	}
	roots, torn, hashErr, err := scanTree(ctx, dir, want, opts.Progress, rep)
	if err != nil {
		return nil, err
	}
	rep.TornTail = torn
	n := rep.Events

	match := make([]bool, len(cps))
	for k, c := range cps {
		r, ok := roots[c.Size]
		match[k] = ok && r == c.Root
	}
	prevGood := uint64(0)
	for k, c := range cps {
		if c.Size > n {
			return nil, integrity(ErrTruncated, int64(n), k, "", -1,
				"checkpoint #%d covers %d events but the log holds %d; events were removed from the end", k, c.Size, n)
		}
		if match[k] {
			prevGood = c.Size
			continue
		}
		for j := k + 1; j < len(cps); j++ {
			if match[j] && cps[j].Size >= c.Size {
				return nil, integrity(ErrInconsistent, int64(c.Size), k, ckptFile, -1,
					"checkpoint #%d (%d events) is not a prefix of checkpoint #%d (%d events), which matches the log: two views of one log were signed",
					k, c.Size, j, cps[j].Size)
			}
		}
		return nil, integrity(ErrRootMismatch, int64(prevGood), k, "", -1,
			"events %d to %d do not hash to the root signed by checkpoint #%d: an event in that range was changed, inserted, deleted or reordered",
			prevGood, c.Size-1, k)
	}
	for _, t := range trusted {
		if t.Size > n {
			return nil, integrity(ErrTruncated, int64(n), -1, "", -1,
				"a trusted checkpoint covers %d events but the log holds %d; events were removed from the end", t.Size, n)
		}
		if r, ok := roots[t.Size]; !ok || r != t.Root {
			return nil, integrity(ErrInconsistent, int64(t.Size), -1, "", -1,
				"the log's first %d events do not hash to the trusted checkpoint's root: the history it vouches for was rewritten", t.Size)
		}
	}
	if hashErr != nil {
		return nil, hashErr
	}
	if opts.Witness != "" && n > 0 {
		// The same refusals as the host's Open (checkWitness), in its order.
		switch {
		case !haveWitness && !opts.IgnoreMissingWitness:
			return nil, integrity(ErrWitnessMissing, 0, -1, opts.Witness, -1,
				"the log holds %d events but there is no witness of its checkpoints; every ledger writes one before its first event, "+
					"so it was deleted, or the ledger directory was copied or moved without it, or its history was replaced", n)
		case !haveWitness:
			rep.WitnessMissing = true
		}
		if !ckptExisted {
			return nil, integrity(ErrCheckpointsMissing, 0, -1, ckptFile, -1,
				"the log holds %d events but its checkpoints file, created with the log, is gone", n)
		}
	}
	if len(cps) > 0 {
		last := cps[len(cps)-1]
		rep.Latest = &last
		rep.Unsigned = n - last.Size
	} else {
		rep.Unsigned = n
	}
	return rep, nil
}

// scanTree reads every segment in order, checks each record, hashes the
// leaves on all cores, builds the tree and returns the root at each wanted
// size. It also compares the stored hash cache as it goes.
func scanTree(ctx context.Context, dir string, want map[uint64]bool, progress func(done, total uint64), rep *Report) (map[uint64]tlog.Hash, int64, error, error) {
	names, err := listSegments(dir)
	if err != nil {
		return nil, 0, nil, err
	}
	rep.Segments = len(names)
	roots := map[uint64]tlog.Hash{}
	if want[0] {
		roots[0], _ = tlog.TreeHash(0, nil)
	}
	var hc *hashCache
	if f, err := os.Open(filepath.Join(dir, hashFile)); err == nil {
		defer f.Close()
		hc = &hashCache{r: bufio.NewReaderSize(f, 1<<20)}
		var hdr [hashHeaderSize]byte
		if _, err := io.ReadFull(hc.r, hdr[:]); err != nil || string(hdr[:]) != hashMagic {
			hc.err = integrity(ErrHashCache, -1, -1, hashFile, 0, "the file does not start with %q; delete it and open the ledger for writing to rebuild it", hashMagic)
		}
	}
	var st treeStack
	var buf []byte
	var count uint64
	var torn int64
	total := uint64(0)
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, 0, nil, fmt.Errorf("verify audit ledger: %w", err)
		}
		first, _ := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if first != count {
			kind := ErrMissingSegment
			if first < count {
				kind = ErrSequence
			}
			return nil, 0, nil, integrity(kind, int64(count), -1, name, 0,
				"the segment is named for event %d but the segments before it end at event %d", first, count)
		}
		data, err := readInto(buf, filepath.Join(dir, name))
		if err != nil {
			return nil, 0, nil, fmt.Errorf("verify audit ledger: %w", err)
		}
		buf = data
		lastSeg := i == len(names)-1
		if lastSeg && len(data) < segHeaderSize && bytes.HasPrefix(segHeader(first), data) {
			break // a writer is creating it
		}
		seg := &segment{first: first, path: name}
		if err := checkSegHeader(data, seg); err != nil {
			return nil, 0, nil, err
		}
		offs, end, err := scanRecords(data, segHeaderSize, first)
		if err != nil {
			ie := err.(*IntegrityError)
			ie.File = name
			return nil, 0, nil, ie
		}
		if end < int64(len(data)) {
			if !lastSeg {
				return nil, 0, nil, integrity(ErrCorruptRecord, int64(first)+int64(len(offs)), -1, name, end,
					"a sealed segment ends in an incomplete record")
			}
			torn = int64(len(data)) - end
		}
		if total == 0 && len(offs) > 0 {
			// Segments are about the same size: a fair estimate for progress.
			total = uint64(len(offs)) * uint64(len(names))
		}
		leaves := hashLeaves(data, offs)
		for k, leaf := range leaves {
			idx := count + uint64(k)
			st.push(leaf, idx, hc)
			if want[idx+1] {
				roots[idx+1] = st.root()
			}
		}
		count += uint64(len(offs))
		if progress != nil {
			if lastSeg {
				total = count
			}
			progress(count, max(total, count))
		}
	}
	rep.Events = count
	var hashErr error
	if hc != nil {
		hashErr = hc.err
	}
	return roots, torn, hashErr, nil
}

// readInto reads a whole file, reusing buf's memory when it is big enough.
func readInto(buf []byte, p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := int(fi.Size())
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	n, err := io.ReadFull(f, buf)
	if err == io.ErrUnexpectedEOF {
		err = nil // a writer may have truncated nothing yet appended less: read what is there
	}
	return buf[:n], err
}

// hashLeaves computes the RFC 6962 leaf hash of every record payload, split
// across the available cores.
func hashLeaves(data []byte, offs []int64) []tlog.Hash {
	leaves := make([]tlog.Hash, len(offs))
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(offs) + workers - 1) / workers
	if chunk < 1024 {
		chunk = len(offs)
	}
	var wg sync.WaitGroup
	for lo := 0; lo < len(offs); lo += chunk {
		hi := min(lo+chunk, len(offs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for k := lo; k < hi; k++ {
				// scanRecords already checked framing and checksum.
				off := offs[k]
				size := int64(binary.BigEndian.Uint32(data[off:]))
				buf = append(append(buf[:0], 0x00), data[off+recHeaderSize:off+recHeaderSize+size]...)
				leaves[k] = sha256.Sum256(buf) // RFC 6962 leaf: SHA-256(0x00 || data), as tlog.RecordHash
			}
		}()
	}
	wg.Wait()
	return leaves
}

// treeStack holds the roots of the complete subtrees of the tree so far, the
// left-most first; pushing a leaf merges equal-sized neighbours. The hashes it
// produces, in order, are exactly tlog's stored hashes.
type treeStack struct {
	h   []tlog.Hash
	lvl []int
}

func (s *treeStack) push(leaf tlog.Hash, index uint64, hc *hashCache) {
	s.h = append(s.h, leaf)
	s.lvl = append(s.lvl, 0)
	hc.check(leaf, index)
	for n := len(s.h); n >= 2 && s.lvl[n-1] == s.lvl[n-2]; n = len(s.h) {
		h := tlog.NodeHash(s.h[n-2], s.h[n-1])
		s.h = append(s.h[:n-2], h)
		s.lvl = append(s.lvl[:n-2], s.lvl[n-2]+1)
		hc.check(h, index)
	}
}

func (s *treeStack) root() tlog.Hash {
	h := s.h[len(s.h)-1]
	for i := len(s.h) - 2; i >= 0; i-- {
		h = tlog.NodeHash(s.h[i], h)
	}
	return h
}

// hashCache compares the stored hash file, read in order, with the hashes
// the verifier recomputes. It stops at the file's end: a writer may not have
// stored the newest ones yet.
type hashCache struct {
	r    *bufio.Reader
	pos  int64
	done bool
	err  error
	got  tlog.Hash // read buffer: a local would escape through io.ReadFull, once per stored hash
}

func (c *hashCache) check(h tlog.Hash, index uint64) {
	if c == nil || c.done || c.err != nil {
		return
	}
	if _, err := io.ReadFull(c.r, c.got[:]); err != nil {
		c.done = true
		return
	}
	if c.got != h {
		c.err = integrity(ErrHashCache, int64(index), -1, hashFile, hashHeaderSize+c.pos*tlog.HashSize,
			"stored tree hash %d differs from the one recomputed from the records; the records are intact — delete the hashes file and open the ledger for writing to rebuild it", c.pos)
	}
	c.pos++
}
