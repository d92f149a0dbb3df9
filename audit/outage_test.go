//go:build linux

package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/testenv"
)

// The outage tests fill the ledger's disk for real, in a child process, and
// check that the ledger stalls (refusing events: their callers fail closed),
// then resumes by itself once there is room again, without a reopen, with
// its files repaired and a ledger.outage event on record.
//
//   - TestLedgerResumesAfterDiskFull mounts a 4 MiB tmpfs in a new user and
//     mount namespace and fills it: the kernel's own ENOSPC.
//   - TestLedgerResumesAfterFileSizeLimit lowers the child's RLIMIT_FSIZE
//     below the active segment's size: the kernel's own EFBIG, with a short
//     write that leaves a torn record to repair. It needs no privilege, so it
//     runs wherever the first cannot.

const outageEnv = "WARDEN_AUDIT_OUTAGE" // "tmpfs:DIR" or "fsize:DIR"

// exitNoNamespace is the child's exit code when it cannot mount its tmpfs.
const exitNoNamespace = 7

type outageReport struct {
	Acked       int    `json:"acked"`
	Refused     int    `json:"refused"`
	Queued      string `json:"queued"`       // the event queued when the disk filled, "" if the stall began at a checkpoint
	QueuedIndex int64  `json:"queued_index"` // its index
	Cause       string `json:"cause"`
	Outages     int    `json:"outages"`
}

// TestLedgerOutageChild is the child side of the outage tests.
func TestLedgerOutageChild(t *testing.T) {
	v := os.Getenv(outageEnv)
	if v == "" {
		t.Skip("child process of TestLedgerResumesAfterDiskFull and TestLedgerResumesAfterFileSizeLimit")
	}
	mode, dir, _ := strings.Cut(v, ":")
	rep, err := runOutage(mode, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "outage child:", err)
		var ns *noNamespaceError
		if errors.As(err, &ns) {
			os.Exit(exitNoNamespace)
		}
		os.Exit(3)
	}
	b, _ := json.Marshal(rep)
	fmt.Println("OUTAGE-REPORT " + string(b))
}

type noNamespaceError struct{ err error }

func (e *noNamespaceError) Error() string { return e.err.Error() }

func runOutage(mode, dir string) (*outageReport, error) {
	var fill, free func() error
	ldir := filepath.Join(dir, "audit")
	switch mode {
	case "tmpfs":
		// Private first, so that nothing mounted here reaches the parent.
		if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
			return nil, &noNamespaceError{fmt.Errorf("make mounts private: %w", err)}
		}
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
			return nil, &noNamespaceError{fmt.Errorf("mount a tmpfs on %s: %w", dir, err)}
		}
		filler := filepath.Join(dir, "filler")
		fill = func() error {
			f, err := os.Create(filler)
			if err != nil {
				return err
			}
			defer f.Close()
			chunk := make([]byte, 4096)
			for {
				if _, err := f.Write(chunk); err != nil {
					if errors.Is(err, syscall.ENOSPC) {
						return nil
					}
					return fmt.Errorf("fill the tmpfs: %w", err)
				}
			}
		}
		free = func() error { return os.Remove(filler) }
	case "fsize":
		var saved syscall.Rlimit
		fill = func() error {
			if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &saved); err != nil {
				return err
			}
			segs, err := filepath.Glob(filepath.Join(ldir, "*"+segSuffix))
			if err != nil || len(segs) == 0 {
				return fmt.Errorf("no segment in %s: %v", ldir, err)
			}
			fi, err := os.Stat(segs[len(segs)-1])
			if err != nil {
				return err
			}
			// A little room past the end: the next batch is written short
			// and then refused, leaving a torn record behind.
			lim := syscall.Rlimit{Cur: uint64(fi.Size()) + 100, Max: saved.Max}
			return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim)
		}
		free = func() error { return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &saved) }
	default:
		return nil, fmt.Errorf("unknown mode %q", mode)
	}

	fast := func(c *config) { c.retryMin, c.retryMax = 5*time.Millisecond, 50*time.Millisecond }
	l, err := Open(ldir, WithSigner(newTestKey("host")), WithCheckpointEvery(16), WithCheckpointInterval(10*time.Millisecond), fast)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	rep := &outageReport{QueuedIndex: -1}
	var acked []string
	for i := range 20 {
		ev := testEvent(i)
		ev.Resource = "outage:before:" + strconv.Itoa(i)
		if _, err := l.Append(ctx, ev); err != nil {
			return nil, fmt.Errorf("append before the disk filled: %w", err)
		}
		acked = append(acked, ev.Resource)
	}
	if err := fill(); err != nil {
		return nil, err
	}
	// Append until the disk refuses. The event queued then stays queued.
	for i := 0; ; i++ {
		if i == 100000 {
			return nil, errors.New("the ledger never ran out of room")
		}
		ev := testEvent(i)
		ev.Resource = "outage:during:" + strconv.Itoa(i)
		idx, err := l.Enqueue(ev)
		if err != nil {
			// A checkpoint write hit the full disk after the last event
			// became durable: the stall began there.
			if !errors.Is(err, ErrStalled) {
				return nil, fmt.Errorf("enqueue on a full disk: %v; want ErrStalled", err)
			}
			rep.Refused++
			break
		}
		if err := l.Sync(ctx); err != nil {
			if !errors.Is(err, ErrStalled) {
				return nil, fmt.Errorf("sync on a full disk: %v; want ErrStalled", err)
			}
			rep.Queued, rep.QueuedIndex = ev.Resource, int64(idx)
			break
		}
		acked = append(acked, ev.Resource)
	}
	// Stalled: refused at once, and still refused after failed retries.
	for i := range 5 {
		ev := testEvent(i)
		ev.Resource = "outage:refused:" + strconv.Itoa(i)
		if _, err := l.Enqueue(ev); !errors.Is(err, ErrStalled) {
			return nil, fmt.Errorf("enqueue while stalled: %v; want ErrStalled", err)
		}
		rep.Refused++
	}
	if err := waitFor(func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.outage.attempts >= 3
	}); err != nil {
		return nil, fmt.Errorf("the writer did not retry: %w", err)
	}
	if _, err := l.Enqueue(testEvent(0)); !errors.Is(err, ErrStalled) {
		return nil, fmt.Errorf("enqueue after failed retries: %v; want ErrStalled", err)
	}
	rep.Refused++
	if err := free(); err != nil {
		return nil, err
	}
	// Resumes by itself: no reopen.
	ev := testEvent(1)
	ev.Resource = "outage:after"
	if err := waitFor(func() bool {
		_, err := l.Append(ctx, ev)
		if err != nil && !errors.Is(err, ErrStalled) {
			rep.Cause = "append after room returned: " + err.Error()
			return true
		}
		if err != nil {
			rep.Refused++
		}
		return err == nil
	}); err != nil {
		return nil, fmt.Errorf("the ledger did not resume: %w", err)
	}
	if rep.Cause != "" {
		return nil, errors.New(rep.Cause)
	}
	acked = append(acked, ev.Resource)
	rep.Acked = len(acked)
	if err := l.Close(); err != nil {
		return nil, fmt.Errorf("close after the outage: %w", err)
	}

	// Reopened: everything acknowledged is there, the queued event too, and
	// the whole log verifies against its checkpoints and witness.
	l, err = Open(ldir, WithSigner(newTestKey("host")))
	if err != nil {
		return nil, fmt.Errorf("reopen after the outage: %w", err)
	}
	defer l.Close()
	if err := l.Verify(ctx, nil); err != nil {
		return nil, fmt.Errorf("verify after the outage: %w", err)
	}
	seen := map[string]int64{}
	var outages []*Event
	var outageIdx int64
	for e, err := range l.Read(0) {
		if err != nil {
			return nil, err
		}
		seen[e.Event.Resource] = int64(e.Index)
		if e.Event.Action == ActionLedgerOutage {
			outages = append(outages, e.Event)
			outageIdx = int64(e.Index)
		}
	}
	for _, r := range acked {
		if _, ok := seen[r]; !ok {
			return nil, fmt.Errorf("acknowledged event %s is missing", r)
		}
	}
	if rep.Queued != "" && seen[rep.Queued] != rep.QueuedIndex {
		return nil, fmt.Errorf("the event queued when the disk filled is at %d, want it written at %d on resume", seen[rep.Queued], rep.QueuedIndex)
	}
	// A nearly full disk may let a small write through between refusals,
	// so one filling can make more than one outage; together they account
	// for every refusal.
	if len(outages) == 0 {
		return nil, errors.New("no ledger.outage event")
	}
	if rep.Queued != "" && outageIdx <= rep.QueuedIndex {
		return nil, fmt.Errorf("ledger.outage at %d is not after the queued event at %d", outageIdx, rep.QueuedIndex)
	}
	refused := 0
	for _, o := range outages {
		n, _ := strconv.Atoi(o.Detail["refused"])
		refused += n
		from, err1 := time.Parse(time.RFC3339Nano, o.Detail["from"])
		to, err2 := time.Parse(time.RFC3339Nano, o.Detail["to"])
		if err1 != nil || err2 != nil || to.Before(from) {
			return nil, fmt.Errorf("ledger.outage from %q to %q", o.Detail["from"], o.Detail["to"])
		}
	}
	if refused != rep.Refused {
		return nil, fmt.Errorf("ledger.outage events say %d events were refused; the child saw %d", refused, rep.Refused)
	}
	rep.Outages = len(outages)
	rep.Cause = outages[0].Detail["cause"]
	return rep, nil
}

// waitFor polls cond until it holds, for at most a minute: a deadline that
// only a hang reaches.
func waitFor(cond func() bool) error {
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("gave up after a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func runOutageChild(t *testing.T, mode string, attr *syscall.SysProcAttr) (*outageReport, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLedgerOutageChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), outageEnv+"="+mode+":"+t.TempDir())
	cmd.SysProcAttr = attr
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		if attr != nil {
			t.Logf("cannot start a child in a new user and mount namespace: %v", err)
			return nil, false
		}
		t.Fatal(err)
	}
	var rep *outageReport
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "OUTAGE-REPORT "); ok {
			rep = new(outageReport)
			if err := json.Unmarshal([]byte(s), rep); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == exitNoNamespace {
		t.Logf("the child could not mount its tmpfs: %s", stderr.String())
		return nil, false
	}
	if err != nil || rep == nil {
		t.Fatalf("outage child (%s): %v\n%s", mode, err, stderr.String())
	}
	return rep, true
}

func TestLedgerResumesAfterDiskFull(t *testing.T) {
	rep, ok := runOutageChild(t, "tmpfs", &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	})
	if !ok {
		testenv.Need(t, "a user and mount namespace to mount a small tmpfs in", errors.New("the child could not mount one (TestLedgerResumesAfterFileSizeLimit runs the same recovery with a real EFBIG)"))
	}
	if !strings.Contains(rep.Cause, "no space left on device") {
		t.Errorf("ledger.outage cause %q, want the kernel's ENOSPC", rep.Cause)
	}
	t.Logf("tmpfs full: %d events acknowledged, %d refused while stalled, queued at the stall: %q (index %d); %d outage(s), cause %q",
		rep.Acked, rep.Refused, rep.Queued, rep.QueuedIndex, rep.Outages, rep.Cause)
}

func TestLedgerResumesAfterFileSizeLimit(t *testing.T) {
	rep, _ := runOutageChild(t, "fsize", nil)
	if !strings.Contains(rep.Cause, "file too large") {
		t.Errorf("ledger.outage cause %q, want the kernel's EFBIG", rep.Cause)
	}
	if rep.Queued == "" {
		t.Error("the stall did not begin in the middle of a batch; the torn-record repair was not exercised")
	}
	if rep.Outages != 1 {
		t.Errorf("%d ledger.outage events for one stall, want 1", rep.Outages)
	}
	t.Logf("file size limit: %d events acknowledged, %d refused while stalled, queued at the stall: %q (index %d); cause %q",
		rep.Acked, rep.Refused, rep.Queued, rep.QueuedIndex, rep.Cause)
}
