package audit

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

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
	l.wake()
	return idx, nil
}

// wake tells the writer there is work: events to write, or a stall to
// retry.
func (l *Ledger) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
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

// failure is why the writer cannot take events now: it stopped for good, or
// it is stalled; nil when it is writing.
func (l *Ledger) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.werr != nil {
		return l.werr
	}
	return l.stall
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
		l.written = end
		l.mu.Lock()
		l.durable = end
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
	// A segment holds at least one record, whatever the segment size: the
	// next one is named after its first record, which must differ.
	if l.actSize >= l.cfg.segSize && start > l.active.first {
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
	if _, err := l.ops.write(seg.f, buf); err != nil {
		return fmt.Errorf("append to audit segment: %w", err)
	}
	if err := l.flushHashes(hb); err != nil {
		return err
	}
	l.hashBuf = hb[:0]
	if err := l.ops.datasync(seg.f); err != nil {
		return fmt.Errorf("fsync %s: %w", seg.path, err)
	}
	l.actSize += int64(len(buf))
	seg.mu.Lock()
	seg.offsets = append(seg.offsets, offs...)
	seg.end = l.actSize
	seg.mu.Unlock()
	return nil
}
