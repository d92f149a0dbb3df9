package audit

import (
	"fmt"
	"math/bits"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"
)

// loadHashes opens the stored-hash file and makes it cover every record.
// Hashes up to the latest checkpoint were fsynced before it was signed and are
// trusted once they reproduce its root; later ones are recomputed from the
// records, which are the source of truth.
func (l *Ledger) loadHashes() error {
	p := filepath.Join(l.dir, hashFile)
	f, err := l.ops.openFile(p, os.O_RDWR|os.O_CREATE, 0o600)
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
	if err := l.ops.truncate(l.hashF, l.hashEnd); err != nil {
		return fmt.Errorf("truncate audit hashes: %w", err)
	}
	if _, err := l.ops.writeAt(l.hashF, []byte(hashMagic), 0); err != nil {
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
	if _, err := l.ops.writeAt(l.hashF, buf, l.hashEnd); err != nil {
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
