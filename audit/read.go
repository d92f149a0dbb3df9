package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"strconv"
	"strings"
)

// Entry is one event as stored: its index in the log, its canonical bytes
// exactly as hashed, and the decoded event.
type Entry struct {
	Index uint64
	Raw   []byte
	Event *Event
}

// Len is the number of events that can be read: in a writing ledger the
// durable ones, in a read-only one every complete record on disk now.
func (l *Ledger) Len() uint64 {
	if l.cfg.readOnly {
		if err := l.refresh(); err != nil {
			return l.countLocked()
		}
		return l.countLocked()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.durable
}

func (l *Ledger) countLocked() uint64 {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	if len(l.segs) == 0 {
		return 0
	}
	last := l.segs[len(l.segs)-1]
	last.mu.Lock()
	defer last.mu.Unlock()
	return last.first + uint64(len(last.offsets))
}

// refresh picks up segments and records a concurrent writer added since.
func (l *Ledger) refresh() error {
	names, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	l.segMu.Lock()
	for _, name := range names {
		first, _ := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if len(l.segs) == 0 || first > l.segs[len(l.segs)-1].first {
			l.segs = append(l.segs, &segment{first: first, path: filepath.Join(l.dir, name)})
		}
	}
	segs := l.segs
	l.segMu.Unlock()
	// Only the segments from the last fully scanned one on can have grown.
	for i := len(segs) - 1; i >= 0; i-- {
		if i < len(segs)-2 {
			break
		}
		if _, err := segs[i].offset(^uint64(0) >> 1); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// Get returns the event at index.
func (l *Ledger) Get(index uint64) (Entry, error) {
	if index >= l.Len() {
		return Entry{}, fmt.Errorf("get audit event %d: %w (the log holds %d)", index, ErrNotFound, l.Len())
	}
	raw, err := l.raw(index)
	if err != nil {
		return Entry{}, err
	}
	ev, err := ParseEvent(raw)
	if err != nil {
		return Entry{}, fmt.Errorf("event %d: %w", index, err)
	}
	return Entry{Index: index, Raw: raw, Event: ev}, nil
}

// Find returns the event with the given id: the full id ("<log id>-<index>")
// or just its index.
func (l *Ledger) Find(id string) (Entry, error) {
	s := id
	if i := strings.LastIndexByte(id, '-'); i >= 0 {
		if id[:i] != l.logID {
			return Entry{}, fmt.Errorf("find audit event %q: %w (this log's ids start with %q)", id, ErrNotFound, l.logID+"-")
		}
		s = id[i+1:]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("find audit event %q: %w (an id is <log id>-<index> or an index)", id, ErrNotFound)
	}
	return l.Get(n)
}

// Read iterates over the events from index from to the end of the log as it
// is when iteration starts. It stops after yielding an error.
func (l *Ledger) Read(from uint64) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		n := l.Len()
		for e, err := range l.readRaw(from, n) {
			if err == nil {
				e.Event, err = ParseEvent(e.Raw)
				if err != nil {
					err = fmt.Errorf("event %d: %w", e.Index, err)
				}
			}
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

// readRaw iterates over the stored bytes of events [from, to).
func (l *Ledger) readRaw(from, to uint64) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		for i := from; i < to; i++ {
			raw, err := l.raw(i)
			if !yield(Entry{Index: i, Raw: raw}, err) || err != nil {
				return
			}
		}
	}
}

// raw reads and checks the record of event index.
func (l *Ledger) raw(index uint64) ([]byte, error) {
	seg := l.segmentFor(index)
	if seg == nil {
		return nil, fmt.Errorf("read audit event %d: %w", index, ErrNotFound)
	}
	off, err := seg.offset(index - seg.first)
	if err != nil {
		return nil, fmt.Errorf("read audit event %d: %w", index, err)
	}
	var hdr [recHeaderSize]byte
	if _, err := seg.f.ReadAt(hdr[:], off); err != nil {
		return nil, fmt.Errorf("read audit event %d from %s: %w", index, seg.path, err)
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size == 0 || size > MaxEventSize {
		return nil, integrity(ErrCorruptRecord, int64(index), -1, filepath.Base(seg.path), off, "length %d out of range", size)
	}
	buf := make([]byte, recHeaderSize+int(size))
	if _, err := seg.f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("read audit event %d from %s: %w", index, seg.path, err)
	}
	idx, payload, _, err := decodeRecord(buf)
	if err != nil {
		return nil, integrity(ErrCorruptRecord, int64(index), -1, filepath.Base(seg.path), off, "%v", err)
	}
	if idx != index {
		return nil, integrity(ErrSequence, int64(index), -1, filepath.Base(seg.path), off, "the record carries index %d", idx)
	}
	return payload, nil
}
