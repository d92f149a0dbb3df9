//go:build unix

package host

// A FIFO exists only on Unix; see TestAttackFIFOInGrant.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
)

// TestAttackFIFOInGrant is issue 10 finding 5 end to end: os.ReadFile and
// os.WriteFile in the guest, and fs.read and fs.write host calls, on a FIFO
// inside the grant all fail at once with the refusal (no hang: each call
// is given minutes, and the test unblocks the FIFO if one ever waits), each
// refusal is a deny event by the gate, and the call's tool.invoke event is
// written.
func TestAttackFIFOInGrant(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	data := filepath.Join(root, "data")
	h := fsAttackHost(t, Config{}, data, "read", "write")
	fifo := filepath.Join(data, "pipe")
	must(t, syscall.Mkfifo(fifo, 0o600))
	for _, tc := range []struct {
		tool string
		in   any
		want func(map[string]any) bool
	}{
		{"readfile", map[string]string{"path": fifo}, func(o map[string]any) bool { return o["errno"] == "permission" }},
		{"writefile", map[string]string{"path": fifo, "data": "x"}, func(o map[string]any) bool { return o["errno"] == "permission" }},
		{"host", map[string]any{"method": "fs.read", "params": map[string]string{"path": fifo}}, func(o map[string]any) bool { return o["code"] == "denied" }},
		{"host", map[string]any{"method": "fs.write", "params": map[string]string{"path": fifo, "data": "eA=="}}, func(o map[string]any) bool { return o["code"] == "denied" }},
	} {
		type result struct {
			out map[string]any
			evs []*audit.Event
		}
		done := make(chan result, 1)
		go func() {
			res, err := h.Invoke(context.Background(), "g", tc.tool, mustJSON(t, tc.in))
			if err != nil {
				done <- result{out: map[string]any{"invoke_error": err.Error()}}
				return
			}
			var out map[string]any
			_ = json.Unmarshal(res.Output, &out)
			evs := make([]*audit.Event, 0, len(res.Events))
			for _, i := range res.Events {
				if e, err := h.Ledger().Get(i); err == nil {
					evs = append(evs, e.Event)
				}
			}
			done <- result{out, evs}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(3 * time.Minute):
			// Release the host before failing, so the test binary ends.
			if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
				defer f.Close()
			}
			<-done
			t.Fatalf("%s %v on a FIFO hung the host", tc.tool, tc.in)
		}
		if !tc.want(r.out) {
			t.Fatalf("%s %v on a FIFO: %v", tc.tool, tc.in, r.out)
		}
		if !deniedBy(r.evs, "not a regular file or directory") {
			t.Fatalf("%s: no refusal event in %s", tc.tool, describe(r.evs))
		}
		if last := r.evs[len(r.evs)-1]; last.Action != ActionInvoke || last.Outcome != audit.OutcomeOK {
			t.Fatalf("%s: the call's last event is %+v, want its tool.invoke", tc.tool, last)
		}
	}
	if got := readVia(t, h, filepath.Join(data, "f.txt")); got != "granted data" {
		t.Fatalf("the granted file after the FIFO: %q", got)
	}
}
