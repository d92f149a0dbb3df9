//go:build unix

package hostapi

// Attack test of issue 10 finding 5: open(2) of a FIFO waits for a writer,
// forever, and a host function is not interrupted by the call's deadline;
// a device is no file a plugin was granted either. Every method that opens
// must refuse what is not a regular file or a directory, at once, with a
// clear error and a deny event.

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardenproject/warden/policy"
)

// hangLimit is how long a call may take before the test calls it hung: far
// beyond any refusal on a loaded machine, and the point is only that the
// call ends (a hang is forever).
const hangLimit = 2 * time.Minute

// noHang runs f and fails the test if it has not returned within
// hangLimit; unblock then releases whatever it waits on, so that the test
// binary can end.
func noHang(t *testing.T, what string, unblock func(), f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangLimit):
		unblock()
		<-done
		t.Fatalf("%s hung for %v", what, hangLimit)
		return nil
	}
}

// unblockFIFO opens the FIFO for reading and writing, which completes any
// open waiting on its other end.
func unblockFIFO(p string) func() {
	return func() {
		if f, err := os.OpenFile(p, os.O_RDWR, 0); err == nil {
			time.AfterFunc(time.Second, func() { f.Close() })
		}
	}
}

// TestNonRegularFilesRefused: a FIFO and a socket inside the grant, and a
// character device (/dev/zero) by its name and through a symlink in the
// grant, are refused by fs.read, fs.write (replace and append), fs.list
// and OpenFile (read, write, read-write) with denied, a message that says
// what the file is, and a deny event by the gate; none hangs, and fs.stat
// still describes them (it opens nothing).
func TestNonRegularFilesRefused(t *testing.T) {
	e := newEnv(t)
	fifo := filepath.Join(e.data, "pipe")
	must(t, syscall.Mkfifo(fifo, 0o600))
	sock := filepath.Join(e.data, "sock")
	l, err := net.Listen("unix", sock)
	must(t, err)
	defer l.Close()
	zero := filepath.Join(e.data, "zero")
	must(t, os.Symlink("/dev/zero", zero))
	g, c := reviewGate(t, e, `version: 1
# the scratch root %[1]s holds the FIFO and the socket
rules:
  - id: all
    effect: allow
    resource: "filesystem:/**"
`, []policy.Permission{{Resource: "filesystem:/**", Actions: []string{"read", "write", "list"}}},
		"filesystem:/** read,write,list")
	ctx := context.Background()
	for _, tc := range []struct {
		name, path, kind string
	}{
		{"fifo", fifo, "a named pipe (FIFO)"},
		{"socket", sock, "a socket"},
		{"device", "/dev/zero", "a character device"},
		{"symlink to a device", zero, "a character device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			for _, m := range []struct {
				method string
				params map[string]any
			}{
				{"fs.read", map[string]any{"path": tc.path}},
				{"fs.write", map[string]any{"path": tc.path, "data": "eA=="}},
				{"fs.write", map[string]any{"path": tc.path, "data": "eA==", "append": true}},
				{"fs.list", map[string]any{"path": tc.path}},
			} {
				err := noHang(t, m.method+" "+tc.path, unblockFIFO(fifo), func() error {
					_, err := g.Call(ctx, c, m.method, "", mustJSON(m.params))
					return err
				})
				wantNotRegular(t, e, m.method, err, tc.kind)
			}
			for _, flag := range []int{os.O_RDONLY, os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_APPEND} {
				err := noHang(t, fmt.Sprintf("OpenFile(%s, %#x)", tc.path, flag), unblockFIFO(fifo), func() error {
					f, err := g.OpenFile(ctx, c, "", tc.path, flag, 0)
					if err == nil {
						b, _ := io.ReadAll(io.LimitReader(f, 16))
						f.Close()
						return fmt.Errorf("opened, read %q", b)
					}
					return err
				})
				wantNotRegular(t, e, ActionOpen, err, tc.kind)
			}
			for _, ev := range e.events() {
				if ev.Outcome == "intent" && strings.HasSuffix(ev.Resource, tc.path) {
					t.Fatalf("an intent was recorded for a refused open: %+v", ev)
				}
			}
			if _, err := g.Call(ctx, c, "fs.stat", "", mustJSON(map[string]any{"path": tc.path})); err != nil {
				t.Fatalf("fs.stat %s: %v", tc.path, err)
			}
		})
	}
}

func wantNotRegular(t *testing.T, e *env, action string, err error, kind string) {
	t.Helper()
	wantCode(t, err, CodeDenied)
	if !strings.Contains(err.Error(), "is "+kind+", not a regular file or directory") {
		t.Fatalf("%s: message %q, want it to say the file is %s", action, err, kind)
	}
	ev := e.wantDenyEvent(action, CodeDenied)
	if ev.Decision.By != "gate" || ev.Decision.Reason != reasonNotRegular {
		t.Fatalf("%s: deny event decision %+v", action, ev.Decision)
	}
}
