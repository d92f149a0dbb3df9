package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

// segment is one segment file and what is known of its records.
type segment struct {
	first uint64 // fixed
	path  string // fixed

	// mu guards what follows. f is set before the segment is shared (or, in
	// a read-only ledger, by scanMore before the first offset is handed
	// out) and cleared only by Close, so a caller holding an offset from
	// offset reads f without mu, and so does the writer.
	mu      sync.Mutex
	f       *os.File
	offsets []int64 // byte offset of each record known to be complete
	end     int64   // offset just after the last known record
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
	f, err := l.ops.openFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create audit segment: %w", err)
	}
	// A segment that could not be made whole holds no record: it is removed,
	// so that a writer retrying after a full disk can create it again.
	if _, err := l.ops.write(f, segHeader(first)); err != nil {
		f.Close()
		os.Remove(p)
		return nil, fmt.Errorf("write audit segment header %s: %w", p, err)
	}
	if err := l.ops.datasync(f); err != nil {
		f.Close()
		os.Remove(p)
		return nil, fmt.Errorf("fsync audit segment %s: %w", p, err)
	}
	if err := l.ops.syncDir(l.dir); err != nil {
		f.Close()
		os.Remove(p)
		return nil, err
	}
	return &segment{first: first, path: p, f: f, end: segHeaderSize}, nil
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

func (l *Ledger) segmentFor(index uint64) *segment {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first > index })
	if i == 0 {
		return nil
	}
	return l.segs[i-1]
}

// offset returns the byte offset of the k-th record of the segment, scanning
// the file further when that record has not been seen yet.
func (s *segment) offset(k uint64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k < uint64(len(s.offsets)) {
		return s.offsets[k], nil
	}
	if err := s.scanMore(); err != nil {
		return 0, err
	}
	if k < uint64(len(s.offsets)) {
		return s.offsets[k], nil
	}
	return 0, ErrNotFound
}

// scanMore reads the segment from the last known record to its current end.
// Call with s.mu held.
func (s *segment) scanMore() error {
	if s.f == nil {
		f, err := os.Open(s.path)
		if err != nil {
			return fmt.Errorf("open audit segment: %w", err)
		}
		s.f = f
	}
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	if s.end < segHeaderSize {
		hdr := make([]byte, segHeaderSize)
		if n, _ := s.f.ReadAt(hdr, 0); n < segHeaderSize {
			return nil // being created; nothing to read yet
		}
		if err := checkSegHeader(hdr, s); err != nil {
			return err
		}
		s.end = segHeaderSize
	}
	if fi.Size() <= s.end {
		return nil
	}
	data := make([]byte, fi.Size()-s.end)
	if _, err := s.f.ReadAt(data, s.end); err != nil && err != io.EOF {
		return fmt.Errorf("read audit segment %s: %w", s.path, err)
	}
	offs, end, err := scanRecords(data, 0, s.first+uint64(len(s.offsets)))
	for _, o := range offs {
		s.offsets = append(s.offsets, s.end+o)
	}
	if err != nil {
		var ie *IntegrityError
		if errors.As(err, &ie) {
			ie.File, ie.Offset = filepath.Base(s.path), s.end+ie.Offset
		}
		s.end += end
		return err
	}
	s.end += end
	return nil
}
