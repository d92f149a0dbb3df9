package audit

// This file is the ledger's answer to a full disk: the writer stalls instead
// of stopping for good, refuses new events (their callers fail closed, as
// they would for a dead ledger), retries with backoff, and resumes by itself
// once the disk has room again, after bringing its files back to the last
// state it knows to be durable, exactly as Open does after a crash.

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"syscall"
	"time"
)

// ErrStalled is wrapped by the errors Append, Enqueue and Sync return while
// the ledger waits for room on its disk. Unlike any other write error it
// passes: the ledger resumes by itself, and logs the outage in a
// ledger.outage event.
var ErrStalled = errors.New("audit ledger is waiting for room on its disk")

// outage is what the writer remembers of a stall, for its ledger.outage
// event.
type outage struct {
	from        time.Time
	cause       error
	refused     int64 // events Enqueue refused
	failedWaits int64 // Append and Sync calls that failed instead of waiting
	attempts    int64 // writes tried and failed, the first included
}

// transient reports whether err is a lack of room that may pass: the disk or
// the user's quota is full, or the process's file size limit was hit (on
// Windows, the same three under their own error codes: noRoomOS).
// Everything else — EIO above all, after which the kernel may have dropped
// dirty pages while reporting success on the next fsync — stops the writer
// for good, as before: it never resumes past a state it does not know.
func transient(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG) ||
		noRoomOS(err)
}

func (l *Ledger) stalled() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stall != nil && l.werr == nil
}

// stallWith stalls the ledger for the transient error err, or counts one
// more failed attempt of a stall under way.
func (l *Ledger) stallWith(err error) {
	l.mu.Lock()
	if l.werr != nil {
		l.mu.Unlock()
		return
	}
	if l.stall == nil {
		l.stall = fmt.Errorf("audit ledger %s cannot write (%w), so it refuses events until it can: %w", l.dir, err, ErrStalled)
		l.outage = outage{from: time.Now(), cause: err}
		// Waiters fail closed now rather than hang until their deadline.
		close(l.durableCh)
		l.durableCh = make(chan struct{})
		l.space.Broadcast()
	}
	l.outage.attempts++
	l.mu.Unlock()
	// A stall that began in Checkpoint, outside the writer's loop, must
	// reach the writer now: while stalled, no Enqueue wakes it, and its
	// clock may be hours away.
	l.wake()
}

// resume repairs the files, writes what was pending when the disk filled
// and a checkpoint over it, and only then ends the stall, with a
// ledger.outage event (the first event after the ones that were pending).
// The event itself is queued like any other: should the disk fill again
// before it is written, it waits for the next resume. Call with wmu held,
// from the writer.
func (l *Ledger) resume() error {
	if err := l.repair(); err != nil {
		return err
	}
	if err := l.drain(); err != nil {
		return err
	}
	if err := l.checkpointLocked(); err != nil {
		return err
	}
	l.mu.Lock()
	o := l.outage
	to := time.Now()
	ev := &Event{Time: to, Action: ActionLedgerOutage, Actor: Actor{Plugin: "warden"}, Outcome: OutcomeOK, Detail: map[string]string{
		"from":         o.from.UTC().Format(time.RFC3339Nano),
		"to":           to.UTC().Format(time.RFC3339Nano),
		"cause":        o.cause.Error(),
		"refused":      strconv.FormatInt(o.refused, 10),
		"failed_waits": strconv.FormatInt(o.failedWaits, 10),
		"attempts":     strconv.FormatInt(o.attempts, 10),
	}}
	b := ev.appendBeforeID(nil)
	split := len(b)
	b = ev.appendAfterID(b)
	l.appendLocked(ev, b, split)
	l.stall = nil
	l.space.Broadcast()
	l.mu.Unlock()
	return nil
}

// repair brings the files back to what was durable before the failed write,
// as Open does after a crash: the active segment is cut after the last
// fsynced record and read back, and must hold exactly the records written
// (anything else stops the writer for good); the stored hashes after the
// latest checkpoint are recomputed from the records, which also resets the
// tree frontier the failed batch had advanced; a torn checkpoint frame is
// cut. Call with wmu held.
func (l *Ledger) repair() error {
	seg := l.active
	if err := l.ops.truncate(seg.f, l.actSize); err != nil {
		return fmt.Errorf("cut the failed write from %s: %w", seg.path, err)
	}
	if _, err := seg.f.Seek(l.actSize, io.SeekStart); err != nil {
		return fmt.Errorf("cut the failed write from %s: %w", seg.path, err)
	}
	data := make([]byte, l.actSize)
	if _, err := seg.f.ReadAt(data, 0); err != nil {
		return fmt.Errorf("read back %s: %w", seg.path, err)
	}
	if err := checkSegHeader(data, seg); err != nil {
		return err
	}
	offs, end, err := scanRecords(data, segHeaderSize, seg.first)
	if err == nil && (end != l.actSize || seg.first+uint64(len(offs)) != l.written) {
		err = integrity(ErrCorruptRecord, int64(seg.first)+int64(len(offs)), -1, seg.path, end,
			"after a failed write the segment holds %d records ending at %d; %d ending at %d were written",
			len(offs), end, l.written-seg.first, l.actSize)
	}
	if err != nil {
		return fmt.Errorf("re-validate the audit ledger after a failed write: %w", err)
	}
	// A reader may have scanned records of the failed batch.
	seg.mu.Lock()
	seg.offsets, seg.end = offs, end
	seg.mu.Unlock()

	if err := l.resumeHashes(l.latestSize()); err != nil {
		return err
	}
	if err := l.ops.truncate(l.ckptF, l.ckptEnd); err != nil {
		return fmt.Errorf("cut a torn audit checkpoint: %w", err)
	}
	if _, err := l.ckptF.Seek(l.ckptEnd, io.SeekStart); err != nil {
		return fmt.Errorf("cut a torn audit checkpoint: %w", err)
	}
	return nil
}
