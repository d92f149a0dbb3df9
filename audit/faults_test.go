package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Fault injection for the writer's failure path. A healthy disk never takes
// it, yet it is what makes every caller fail closed when the disk breaks or
// fills. These tests make one chosen file operation of the ledger fail
// through fileOps, with the error the kernel would give, and check what the
// writer does, what every caller is told, and that after a reopen the log
// verifies against its checkpoints and witness and holds every event that
// was acknowledged. The real kernel's ENOSPC and EFBIG are in outage_test.go;
// EIO cannot be had from a real disk in a test, hence this seam.
//
// No test here waits for time to pass: every wait is on a channel the
// ledger or the fault closes, bounded by a minute that only a hang reaches.

// faultOps wraps osFileOps and fails the calls its rules match.
type faultOps struct {
	mu      sync.Mutex
	rules   []*fault
	changed chan struct{} // closed and replaced at each injected failure
}

// fault fails calls of one operation on one file: after skip matching calls,
// every matching call fails with err until the rule is cleared.
type fault struct {
	op   string // a field of fileOps: openFile, write, writeAt, truncate, datasync, writeFile, rename, syncDir
	file string // filepath.Match pattern for the file's base name (a rename's target, a synced directory's own name)
	skip int
	err  error
	torn bool // a failing write first writes half its bytes, as a write cut short by a full disk does
	// hold, when set, makes the first failing call wait until it is
	// closed, with reached closed meanwhile, so a test can queue callers
	// behind a writer that is about to fail.
	hold    chan struct{}
	reached chan struct{}

	seen      int  // matching calls
	failed    int  // calls failed
	afterFail int  // matching calls after the first failure, failed or not: a retry
	cleared   bool // the disk has room again
}

func newFaultOps() *faultOps { return &faultOps{changed: make(chan struct{})} }

// option makes a ledger use fo.
func (fo *faultOps) option() Option {
	ops := fo.ops()
	return func(c *config) { c.ops = ops }
}

// fastRetry makes a stalled writer retry at once: the tests wait for its
// attempts, not for time.
func fastRetry(c *config) { c.retryMin, c.retryMax = time.Millisecond, 5*time.Millisecond }

func (fo *faultOps) add(r *fault) *fault {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	if r.hold != nil {
		r.reached = make(chan struct{})
	}
	fo.rules = append(fo.rules, r)
	return r
}

// clear lets every later call of r pass: the disk has room again.
func (fo *faultOps) clear(r *fault) {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	r.cleared = true
}

func (fo *faultOps) counts(r *fault) (seen, failed, afterFail int) {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	return r.seen, r.failed, r.afterFail
}

// check counts a call of op on path and returns the rule that fails it, if
// any.
func (fo *faultOps) check(op, path string) *fault {
	base := filepath.Base(path)
	fo.mu.Lock()
	var hit *fault
	for _, r := range fo.rules {
		if r.op != op {
			continue
		}
		if ok, _ := filepath.Match(r.file, base); !ok {
			continue
		}
		r.seen++
		if r.failed > 0 {
			r.afterFail++
		}
		if hit != nil || r.cleared || r.seen <= r.skip {
			continue
		}
		r.failed++
		hit = r
	}
	if hit != nil {
		close(fo.changed)
		fo.changed = make(chan struct{})
	}
	fo.mu.Unlock()
	if hit != nil && hit.hold != nil && hit.failed == 1 {
		close(hit.reached)
		<-hit.hold
	}
	return hit
}

// waitFailed waits until r has failed n calls: the writer retried.
func (fo *faultOps) waitFailed(t testing.TB, r *fault, n int) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		fo.mu.Lock()
		done, ch := r.failed >= n, fo.changed
		fo.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s %s failed %d times after a minute, want %d: the writer does not retry", r.op, r.file, r.failed, n)
		}
	}
}

func (fo *faultOps) ops() *fileOps {
	o := osFileOps
	pathErr := func(op, path string, err error) error { return &os.PathError{Op: op, Path: path, Err: err} }
	return &fileOps{
		openFile: func(p string, flag int, perm os.FileMode) (*os.File, error) {
			if r := fo.check("openFile", p); r != nil {
				return nil, pathErr("open", p, r.err)
			}
			return o.openFile(p, flag, perm)
		},
		write: func(f *os.File, b []byte) (int, error) {
			if r := fo.check("write", f.Name()); r != nil {
				n := 0
				if r.torn {
					n, _ = o.write(f, b[:len(b)/2])
				}
				return n, pathErr("write", f.Name(), r.err)
			}
			return o.write(f, b)
		},
		writeAt: func(f *os.File, b []byte, off int64) (int, error) {
			if r := fo.check("writeAt", f.Name()); r != nil {
				n := 0
				if r.torn {
					n, _ = o.writeAt(f, b[:len(b)/2], off)
				}
				return n, pathErr("write", f.Name(), r.err)
			}
			return o.writeAt(f, b, off)
		},
		truncate: func(f *os.File, size int64) error {
			if r := fo.check("truncate", f.Name()); r != nil {
				return pathErr("truncate", f.Name(), r.err)
			}
			return o.truncate(f, size)
		},
		datasync: func(f *os.File) error {
			if r := fo.check("datasync", f.Name()); r != nil {
				return pathErr("sync", f.Name(), r.err)
			}
			return o.datasync(f)
		},
		writeFile: func(p string, data []byte) error {
			if r := fo.check("writeFile", p); r != nil {
				if r.torn {
					o.writeFile(p, data[:len(data)/2])
				}
				return pathErr("write", p, r.err)
			}
			return o.writeFile(p, data)
		},
		rename: func(oldpath, newpath string) error {
			if r := fo.check("rename", newpath); r != nil {
				return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: r.err}
			}
			return o.rename(oldpath, newpath)
		},
		syncDir: func(dir string) error {
			if r := fo.check("syncDir", dir); r != nil {
				return fmt.Errorf("sync directory %s: %w", dir, pathErr("sync", dir, r.err))
			}
			return o.syncDir(dir)
		},
	}
}

// faultLedger is a ledger under test with the events it acknowledged.
type faultLedger struct {
	t     *testing.T
	dir   string // the ledger directory; its witness is beside it
	l     *Ledger
	fo    *faultOps
	acked map[uint64]string // index → Resource of every event whose Sync or Append returned nil
	n     int
}

func openFaulty(t *testing.T, opts ...Option) *faultLedger {
	t.Helper()
	fl := &faultLedger{t: t, dir: filepath.Join(t.TempDir(), "audit"), fo: newFaultOps(), acked: map[uint64]string{}}
	// A checkpoint interval no test reaches: checkpoints come every 4
	// events, at Close, and from Checkpoint, never from the clock.
	opts = append([]Option{WithCheckpointEvery(4), WithCheckpointInterval(time.Hour), fastRetry, fl.fo.option()}, opts...)
	fl.l = openTest(t, fl.dir, opts...)
	t.Cleanup(func() { fl.l.Close() })
	return fl
}

func (fl *faultLedger) event(tag string) *Event {
	fl.n++
	ev := testEvent(fl.n)
	ev.Resource = "fault:" + tag + ":" + strconv.Itoa(fl.n)
	return ev
}

// appendAcked appends n events that must be acknowledged.
func (fl *faultLedger) appendAcked(n int) {
	fl.t.Helper()
	for range n {
		ev := fl.event("ok")
		idx, err := fl.l.Append(context.Background(), ev)
		if err != nil {
			fl.t.Fatalf("append on a healthy disk: %v", err)
		}
		fl.acked[idx] = ev.Resource
	}
}

// untilFailure enqueues and syncs one event at a time, as the gate does,
// until the ledger refuses, and returns the error and where it came from.
func (fl *faultLedger) untilFailure() (err error, refused bool) {
	fl.t.Helper()
	ctx := context.Background()
	for range 200 {
		ev := fl.event("during")
		idx, err := fl.l.Enqueue(ev)
		if err != nil {
			return err, true
		}
		if err := fl.l.Sync(ctx); err != nil {
			return err, false
		}
		fl.acked[idx] = ev.Resource
	}
	fl.t.Fatal("200 events were written; the fault never fired")
	return nil, false
}

// awaitResume waits until the stall is over and everything queued, the
// ledger.outage event included, is durable.
func (fl *faultLedger) awaitResume() {
	fl.t.Helper()
	awaitResume(fl.t, fl.l)
}

func awaitResume(t testing.TB, l *Ledger) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		l.mu.Lock()
		werr, stall, done, ch := l.werr, l.stall, l.durable == l.next, l.durableCh
		l.mu.Unlock()
		if werr != nil {
			t.Fatalf("the writer stopped instead of resuming: %v", werr)
		}
		if stall == nil && done {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("the ledger did not resume within a minute: %v", stall)
		}
	}
}

// reopen closes nothing: call it after Close. It opens the directory
// without faults, verifies it against its checkpoints and witness, checks
// that every acknowledged event is there, and returns the events.
func (fl *faultLedger) reopen() (*Ledger, []*Event) {
	fl.t.Helper()
	t := fl.t
	l, err := Open(fl.dir, WithSigner(newTestKey("host")))
	if err != nil {
		t.Fatalf("reopen after the fault: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	v, _ := Verifiers(vkey(t, newTestKey("host")))
	if _, err := VerifyDir(context.Background(), fl.dir, v, VerifyOptions{Witness: DefaultWitnessPath(fl.dir)}); err != nil {
		t.Fatalf("verify after the fault: %v", err)
	}
	var evs []*Event
	for e, err := range l.Read(0) {
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e.Event)
	}
	for idx, res := range fl.acked {
		if idx >= uint64(len(evs)) || evs[idx].Resource != res {
			t.Fatalf("acknowledged event %d (%s) is missing after the reopen", idx, res)
		}
	}
	return l, evs
}

// faultCase is one file operation made to fail, and the options that make
// the writer reach it.
type faultCase struct {
	name string
	opts []Option
	// fault returns the rule, given the ledger (to name its files).
	fault func(fl *faultLedger) *fault
}

func segRule(op string, torn bool) func(*faultLedger) *fault {
	return func(*faultLedger) *fault { return &fault{op: op, file: "*" + segSuffix, torn: torn} }
}

func fileRule(op, file string, torn bool) func(*faultLedger) *fault {
	return func(*faultLedger) *fault { return &fault{op: op, file: file, torn: torn} }
}

// newSegRule fails op on the segment the next rotation creates. With a
// segment size of 1 every batch starts a segment, so the next one is named
// after the next index.
func newSegRule(op string, torn bool) func(*faultLedger) *fault {
	return func(fl *faultLedger) *fault {
		fl.l.mu.Lock()
		next := fl.l.next
		fl.l.mu.Unlock()
		return &fault{op: op, file: segName(next), torn: torn}
	}
}

func witnessRule(op string) func(*faultLedger) *fault {
	return func(fl *faultLedger) *fault {
		name := filepath.Base(DefaultWitnessPath(fl.dir))
		switch op {
		case "writeFile":
			name += ".tmp"
		case "syncDir":
			name = filepath.Base(filepath.Dir(fl.dir))
		}
		return &fault{op: op, file: name}
	}
}

var rotating = []Option{WithSegmentSize(1)}

// The failure points: every write, fsync, truncation and rename the writer
// makes while appending, checkpointing and rotating.
var faultPoints = []faultCase{
	{"segment write", nil, segRule("write", false)},
	{"segment write torn", nil, segRule("write", true)},
	{"segment fdatasync", nil, segRule("datasync", false)},
	{"hash cache write", nil, fileRule("writeAt", hashFile, false)},
	{"hash cache write torn", nil, fileRule("writeAt", hashFile, true)},
	{"hash cache fdatasync before a checkpoint", nil, fileRule("datasync", hashFile, false)},
	{"checkpoint write torn", nil, fileRule("write", ckptFile, true)},
	{"checkpoint fdatasync", nil, fileRule("datasync", ckptFile, false)},
	{"witness temporary file", nil, witnessRule("writeFile")},
	{"witness rename", nil, witnessRule("rename")},
	{"witness directory sync", nil, witnessRule("syncDir")},
	{"rotation: create the segment", rotating, newSegRule("openFile", false)},
	{"rotation: segment header torn", rotating, newSegRule("write", true)},
	{"rotation: segment header fdatasync", rotating, newSegRule("datasync", false)},
	{"rotation: directory sync", rotating, fileRule("syncDir", "audit", false)},
}

// TestLedgerStallsAndResumesAtEveryFailurePoint makes each failure point
// fail for want of space (ENOSPC; EDQUOT and EFBIG below): the writer must
// stall, refuse events while the disk is full however often it retries,
// resume by itself once there is room, and lose nothing it acknowledged.
func TestLedgerStallsAndResumesAtEveryFailurePoint(t *testing.T) {
	cases := append([]faultCase(nil), faultPoints...)
	cases = append(cases,
		faultCase{"segment write EDQUOT", nil, func(*faultLedger) *fault { return &fault{op: "write", file: "*.seg", err: syscall.EDQUOT} }},
		faultCase{"segment write EFBIG torn", nil, func(*faultLedger) *fault {
			return &fault{op: "write", file: "*.seg", err: syscall.EFBIG, torn: true}
		}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fl := openFaulty(t, c.opts...)
			fl.appendAcked(6)
			r := c.fault(fl)
			if r.err == nil {
				r.err = syscall.ENOSPC
			}
			fl.fo.add(r)
			err, refused := fl.untilFailure()
			if !errors.Is(err, ErrStalled) || !errors.Is(err, r.err) {
				t.Fatalf("first failure: %v; want ErrStalled wrapping %v", err, r.err)
			}
			wantRefused, wantWaits := 0, 0
			if refused {
				wantRefused++
			} else {
				wantWaits++
			}
			// Refused while the disk is full, however often the writer
			// retries in the meantime.
			for _, n := range []int{1, 3} {
				fl.fo.waitFailed(t, r, n)
				if _, err := fl.l.Enqueue(fl.event("refused")); !errors.Is(err, ErrStalled) {
					t.Fatalf("enqueue while the disk is full: %v; want ErrStalled", err)
				}
				wantRefused++
			}
			fl.fo.clear(r)
			fl.awaitResume()
			fl.appendAcked(2)
			if err := fl.l.Close(); err != nil {
				t.Fatalf("close after the outage: %v", err)
			}
			_, failed, _ := fl.fo.counts(r)
			_, evs := fl.reopen()
			var outages []*Event
			for _, ev := range evs {
				if ev.Action == ActionLedgerOutage {
					outages = append(outages, ev)
				}
			}
			if len(outages) != 1 {
				t.Fatalf("%d ledger.outage events, want 1", len(outages))
			}
			d := outages[0].Detail
			if d["refused"] != strconv.Itoa(wantRefused) || d["failed_waits"] != strconv.Itoa(wantWaits) || d["attempts"] != strconv.Itoa(failed) {
				t.Errorf("ledger.outage says refused %s, failed waits %s, attempts %s; want %d, %d, %d",
					d["refused"], d["failed_waits"], d["attempts"], wantRefused, wantWaits, failed)
			}
			if !strings.Contains(d["cause"], r.err.Error()) {
				t.Errorf("ledger.outage cause %q does not name %v", d["cause"], r.err)
			}
		})
	}
}

// TestLedgerStopsForGoodOnEIOAtEveryFailurePoint makes each failure point
// fail with EIO, after which the kernel may have dropped the data it was
// writing while reporting the next fsync a success: the writer must stop
// for good, never touch that operation again (no retried fsync), refuse
// everything after with the error, and leave a log that reopens, verifies
// and holds every acknowledged event.
func TestLedgerStopsForGoodOnEIOAtEveryFailurePoint(t *testing.T) {
	for _, c := range faultPoints {
		t.Run(c.name, func(t *testing.T) {
			fl := openFaulty(t, c.opts...)
			fl.appendAcked(6)
			r := c.fault(fl)
			r.err = syscall.EIO
			fl.fo.add(r)
			err, _ := fl.untilFailure()
			if !errors.Is(err, syscall.EIO) || errors.Is(err, ErrStalled) {
				t.Fatalf("first failure: %v; want EIO, not a stall", err)
			}
			ctx := context.Background()
			if _, err := fl.l.Enqueue(fl.event("after")); !errors.Is(err, syscall.EIO) {
				t.Errorf("enqueue after EIO: %v; want the writer's error", err)
			}
			if _, err := fl.l.Append(ctx, fl.event("after")); !errors.Is(err, syscall.EIO) {
				t.Errorf("append after EIO: %v; want the writer's error", err)
			}
			if _, err := fl.l.Checkpoint(ctx); !errors.Is(err, syscall.EIO) {
				t.Errorf("checkpoint after EIO: %v; want the writer's error", err)
			}
			if err := fl.l.Close(); !errors.Is(err, syscall.EIO) {
				t.Errorf("close after EIO: %v; want the writer's error", err)
			}
			if _, failed, after := fl.fo.counts(r); failed != 1 || after != 0 {
				t.Errorf("%s %s failed %d times and was called %d times after the failure; a stopped writer touches nothing", r.op, r.file, failed, after)
			}
			l, _ := fl.reopen()
			if r.torn && r.file == "*"+segSuffix && len(l.Recovered()) == 0 {
				t.Error("the torn record left by the failed write was not recorded as a ledger.recover event")
			}
		})
	}
}

// TestWriterFailureReachesEveryWaiter holds the writer inside a segment
// write that is about to fail with EIO while callers queue behind it:
// appenders waiting for durability, Syncs, and an Enqueue waiting for room
// in a full queue. Each must get the error; none may hang or succeed.
func TestWriterFailureReachesEveryWaiter(t *testing.T) {
	fl := openFaulty(t, func(c *config) { c.maxQueued = 1 })
	fl.appendAcked(3)
	r := fl.fo.add(&fault{op: "write", file: "*" + segSuffix, err: syscall.EIO, hold: make(chan struct{})})
	ctx := context.Background()
	results := make(chan error, 16)
	first := fl.event("first")
	go func() { _, err := fl.l.Append(ctx, first); results <- err }()
	<-r.reached // the writer is inside the failing write
	if _, err := fl.l.Enqueue(testEvent(1)); err != nil {
		t.Fatalf("enqueue while the writer writes: %v", err)
	}
	waiters := 1
	for range 3 {
		ev := testEvent(2)
		go func() { _, err := fl.l.Append(ctx, ev); results <- err }()
		go func() { results <- fl.l.Sync(ctx) }()
		waiters += 2
	}
	close(r.hold)
	for range waiters {
		select {
		case err := <-results:
			if !errors.Is(err, syscall.EIO) {
				t.Errorf("a waiter got %v; want the writer's EIO", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("a waiter still waits a minute after the writer failed")
		}
	}
	if err := fl.l.Close(); !errors.Is(err, syscall.EIO) {
		t.Errorf("close: %v; want the writer's EIO", err)
	}
	fl.reopen()
}

// TestStallBegunByCheckpointResumes: a stall that begins in Checkpoint,
// outside the writer's loop, must still be retried and end by itself, even
// when no event and no timer would wake the writer.
func TestStallBegunByCheckpointResumes(t *testing.T) {
	fl := openFaulty(t)
	fl.appendAcked(1)
	r := fl.fo.add(&fault{op: "datasync", file: hashFile, err: syscall.ENOSPC})
	if _, err := fl.l.Checkpoint(context.Background()); !errors.Is(err, ErrStalled) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("checkpoint on a full disk: %v; want ErrStalled", err)
	}
	fl.fo.waitFailed(t, r, 2) // retried by the writer
	fl.fo.clear(r)
	fl.awaitResume()
	fl.appendAcked(1)
	if err := fl.l.Close(); err != nil {
		t.Fatal(err)
	}
	fl.reopen()
}

// TestCheckpointWaitsForTheStalledWriter: Checkpoint called while the
// writer is stalled must not sign on top of files the writer has not
// repaired yet. Here the stall leaves a torn checkpoint frame; the disk has
// room again but the writer has not retried (its backoff is an hour): a
// checkpoint appended after the torn frame would make the checkpoints file
// damaged in the middle, a ledger Open refuses.
func TestCheckpointWaitsForTheStalledWriter(t *testing.T) {
	fl := openFaulty(t, func(c *config) { c.retryMin, c.retryMax = time.Hour, time.Hour })
	fl.appendAcked(2)
	r := fl.fo.add(&fault{op: "write", file: ckptFile, torn: true, err: syscall.ENOSPC})
	if _, err := fl.l.Checkpoint(context.Background()); !errors.Is(err, ErrStalled) {
		t.Fatalf("checkpoint on a full disk: %v; want ErrStalled", err)
	}
	fl.fo.clear(r)
	if _, err := fl.l.Checkpoint(context.Background()); !errors.Is(err, ErrStalled) {
		t.Fatalf("checkpoint before the writer repaired its files: %v; want ErrStalled", err)
	}
	// Close makes the writer resume once, and finish.
	if err := fl.l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	fl.reopen()
}

// TestFailedOpenStopsItsWriter: when Open cannot record the repair it made
// (the disk fails as it writes the ledger.recover event), it returns the
// error and leaves no writer running behind it.
func TestFailedOpenStopsItsWriter(t *testing.T) {
	fl := openFaulty(t)
	fl.appendAcked(3)
	if err := fl.l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(fl.dir)
	f, err := os.OpenFile(filepath.Join(fl.dir, segs[len(segs)-1]), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 0, 40, 1, 2, 3}) // a torn record
	f.Close()

	before := writerGoroutines()
	fo := newFaultOps()
	fo.add(&fault{op: "write", file: "*" + segSuffix, err: syscall.EIO})
	if _, err := Open(fl.dir, WithSigner(newTestKey("host")), fo.option()); !errors.Is(err, syscall.EIO) {
		t.Fatalf("open whose recovery event cannot be written: %v; want EIO", err)
	}
	// A writer that was stopped exits at once; one left running never does.
	deadline := time.Now().Add(time.Minute)
	for n := writerGoroutines(); n != before; n = writerGoroutines() {
		if time.Now().After(deadline) {
			t.Fatalf("%d ledger writers run a minute after the failed Open, %d before: it left its writer running", n, before)
		}
		time.Sleep(time.Millisecond)
	}
	fl.l, _ = fl.reopen() // the torn record is repaired this time
}

// writerGoroutines counts the goroutines running a ledger's writer.
func writerGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "audit.(*Ledger).run(")
		}
		buf = make([]byte, 2*len(buf))
	}
}
