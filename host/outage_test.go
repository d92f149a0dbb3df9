//go:build linux

package host

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/testenv"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostapi"
)

// The ledger outage attack (issue 10, finding 7): the disk under warden's
// home fills (here for real, in a child process), calls fail closed with
// their results withheld, and once there is room again the same host serves
// again by itself, without a restart, with a ledger.outage event on record.
//
//   - TestHostResumesAfterLedgerDiskFull: home on a 16 MiB tmpfs in a new
//     user and mount namespace, filled up: the kernel's ENOSPC.
//   - TestHostResumesAfterLedgerFileSizeLimit: RLIMIT_FSIZE lowered below
//     the ledger segment's size: the kernel's EFBIG, no privilege needed.

const (
	hostOutageEnv     = "WARDEN_HOST_OUTAGE" // mode
	hostOutageDirEnv  = "WARDEN_HOST_OUTAGE_DIR"
	hostOutageWasmEnv = "WARDEN_HOST_OUTAGE_WASM"
	hostOutageCache   = "WARDEN_HOST_OUTAGE_CACHE"
	exitNoNamespace   = 7
)

type hostOutageReport struct {
	Withheld int               `json:"withheld"` // invocations refused while the disk was full
	Message  string            `json:"message"`  // what the first refused one said
	Outage   map[string]string `json:"outage"`   // the ledger.outage event's detail
}

// TestHostOutageChild is the child side of the host outage tests.
func TestHostOutageChild(t *testing.T) {
	mode := os.Getenv(hostOutageEnv)
	if mode == "" {
		t.Skip("child process of TestHostResumesAfterLedgerDiskFull and TestHostResumesAfterLedgerFileSizeLimit")
	}
	rep, err := runHostOutage(mode, os.Getenv(hostOutageDirEnv), os.Getenv(hostOutageWasmEnv), os.Getenv(hostOutageCache))
	if err != nil {
		fmt.Fprintln(os.Stderr, "host outage child:", err)
		if errors.Is(err, errNoNamespace) {
			os.Exit(exitNoNamespace)
		}
		os.Exit(3)
	}
	b, _ := json.Marshal(rep)
	fmt.Println("HOST-OUTAGE " + string(b))
}

var errNoNamespace = errors.New("cannot mount a tmpfs here")

func runHostOutage(mode, dir, wasmPath, cache string) (*hostOutageReport, error) {
	home := filepath.Join(dir, "home")
	var fill, free func() error
	switch mode {
	case "tmpfs":
		if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
			return nil, fmt.Errorf("%w: make mounts private: %v", errNoNamespace, err)
		}
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16m,mode=0700"); err != nil {
			return nil, fmt.Errorf("%w: mount on %s: %v", errNoNamespace, dir, err)
		}
		filler := filepath.Join(dir, "filler")
		fill = func() error {
			f, err := os.Create(filler)
			if err != nil {
				return err
			}
			defer f.Close()
			chunk := make([]byte, 64<<10)
			for {
				if _, err := f.Write(chunk); err != nil {
					if errors.Is(err, syscall.ENOSPC) {
						return nil
					}
					return err
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
			segs, _ := filepath.Glob(filepath.Join(home, "audit", "*.seg"))
			if len(segs) == 0 {
				return errors.New("no ledger segment")
			}
			fi, err := os.Stat(segs[len(segs)-1])
			if err != nil {
				return err
			}
			return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(fi.Size()) + 100, Max: saved.Max})
		}
		free = func() error { return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &saved) }
	default:
		return nil, fmt.Errorf("unknown mode %q", mode)
	}

	ctx := context.Background()
	h, err := New(ctx, Config{Home: home, CacheDir: cache, manualRefresh: true})
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(wasmPath)
	if err != nil {
		return nil, err
	}
	pdir := filepath.Join(dir, "plugin")
	man := `{"name": "steady", "version": "1.0.0", "description": "Echoes.", "entry": "plugin.wasm", "runtime": "wasm",
	  "publisher": {"name": "tests", "key_id": "ed25519:0123456789abcdef"},
	  "tools": [{"name": "echo", "description": "Echo.", "input_schema": {"type": "object"}}]}`
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(pdir, "plugin.wasm"), data, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(pdir, "manifest.json"), []byte(man), 0o644); err != nil {
		return nil, err
	}
	if _, err := h.Install(ctx, pdir, InstallOptions{}); err != nil {
		return nil, err
	}
	echo := func(i int) error {
		in := fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("p", 200))
		res, err := h.Invoke(ctx, "steady", "echo", json.RawMessage(in))
		if err == nil && string(res.Output) != in {
			return fmt.Errorf("echo returned %s", res.Output)
		}
		return err
	}
	if err := echo(0); err != nil {
		return nil, fmt.Errorf("before the disk filled: %w", err)
	}
	if err := fill(); err != nil {
		return nil, err
	}
	rep := &hostOutageReport{}
	// Calls fail closed: their results are withheld.
	for i := 1; ; i++ {
		if i == 10000 {
			return nil, errors.New("the ledger never ran out of room")
		}
		err := echo(i)
		if err == nil {
			continue // the write fitted in a block the disk still had
		}
		var he *hostapi.Error
		if !errors.As(err, &he) || he.Code != hostapi.CodeUnavailable || !errors.Is(err, audit.ErrStalled) {
			return nil, fmt.Errorf("a call on a full disk failed with %v; want unavailable from a stalled ledger", err)
		}
		rep.Withheld++
		rep.Message = he.Message
		break
	}
	for i := range 3 {
		if err := echo(100000 + i); !errors.Is(err, audit.ErrStalled) {
			return nil, fmt.Errorf("a call while the disk is still full: %v; want it withheld", err)
		}
		rep.Withheld++
	}
	if err := free(); err != nil {
		return nil, err
	}
	// The same host serves again by itself.
	deadline := time.Now().Add(time.Minute)
	for {
		err := echo(200000)
		if err == nil {
			break
		}
		if !errors.Is(err, audit.ErrStalled) {
			return nil, fmt.Errorf("after room returned: %w", err)
		}
		if time.Now().After(deadline) {
			return nil, errors.New("the host did not resume within a minute of the disk having room")
		}
		rep.Withheld++
		time.Sleep(10 * time.Millisecond)
	}
	for e, err := range h.Ledger().Read(0) {
		if err != nil {
			return nil, err
		}
		if e.Event.Action == audit.ActionLedgerOutage {
			rep.Outage = e.Event.Detail
		}
	}
	if rep.Outage == nil {
		return nil, errors.New("no ledger.outage event")
	}
	keys := h.Ledger().VerifierKeys()
	if err := h.Close(); err != nil {
		return nil, fmt.Errorf("close after the outage: %w", err)
	}
	l, err := audit.Open(filepath.Join(home, "audit"), audit.ReadOnly(), audit.WithVerifierKeys(keys...))
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if err := l.Verify(ctx, nil); err != nil {
		return nil, fmt.Errorf("verify after the outage: %w", err)
	}
	return rep, nil
}

func runHostOutageChild(t *testing.T, mode string, attr *syscall.SysProcAttr) (*hostOutageReport, bool) {
	t.Helper()
	wasmPath := guestWasm(t, attackSrc)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostOutageChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), hostOutageEnv+"="+mode, hostOutageDirEnv+"="+t.TempDir(),
		hostOutageWasmEnv+"="+wasmPath, hostOutageCache+"="+filepath.Join(testDir, "cache"))
	cmd.SysProcAttr = attr
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	if err := cmd.Start(); err != nil {
		if attr != nil {
			t.Logf("cannot start a child in a new user and mount namespace: %v", err)
			return nil, false
		}
		t.Fatal(err)
	}
	var rep *hostOutageReport
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "HOST-OUTAGE "); ok {
			rep = new(hostOutageReport)
			must(t, json.Unmarshal([]byte(s), rep))
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == exitNoNamespace {
		t.Logf("the child could not mount its tmpfs: %s", stderr.String())
		return nil, false
	}
	if err != nil || rep == nil {
		t.Fatalf("host outage child (%s): %v\n%s", mode, err, stderr.String())
	}
	return rep, true
}

func checkHostOutage(t *testing.T, rep *hostOutageReport, cause string) {
	t.Helper()
	if rep.Withheld < 4 || !strings.Contains(rep.Message, "withheld") || !strings.Contains(rep.Message, "resumes by itself") {
		t.Errorf("%d calls withheld; the first said %q", rep.Withheld, rep.Message)
	}
	if !strings.Contains(rep.Outage["cause"], cause) || rep.Outage["refused"] == "" || rep.Outage["refused"] == "0" {
		t.Errorf("ledger.outage %v; want cause %q and the refused events counted", rep.Outage, cause)
	}
	t.Logf("%d calls withheld while the disk was full; ledger.outage %v", rep.Withheld, rep.Outage)
}

func TestHostResumesAfterLedgerDiskFull(t *testing.T) {
	rep, ok := runHostOutageChild(t, "tmpfs", &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	})
	if !ok {
		testenv.Need(t, "a user and mount namespace to mount a small tmpfs in", errors.New("the child could not mount one (TestHostResumesAfterLedgerFileSizeLimit runs the same attack with a real EFBIG)"))
	}
	checkHostOutage(t, rep, "no space left on device")
}

func TestHostResumesAfterLedgerFileSizeLimit(t *testing.T) {
	rep, _ := runHostOutageChild(t, "fsize", nil)
	checkHostOutage(t, rep, "file too large")
}
