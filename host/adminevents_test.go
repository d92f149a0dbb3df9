package host

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wardenproject/warden/audit"
)

// Each start logs the policy in force; the host key's creation is logged once,
// and a rotation made while the host was stopped is logged at the next start.
func TestStartLogsKeyAndPolicy(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	count := func(h *Host) map[string]int {
		n := map[string]int{}
		for i := uint64(0); i < h.Ledger().Len(); i++ {
			e, err := h.Ledger().Get(i)
			must(t, err)
			n[e.Event.Action]++
			if e.Event.Action == audit.ActionPolicyLoad && e.Event.Detail["path"] == "" {
				t.Errorf("policy.load without its source: %+v", e.Event)
			}
		}
		return n
	}
	h := newTestHost(t, Config{Home: home})
	must(t, h.Close())
	must(t, os.WriteFile(filepath.Join(home, "policy.yaml"), []byte("version: 1\n"), 0o600))
	h = newTestHost(t, Config{Home: home})
	must(t, h.Close())
	if _, err := h.ring.Rotate(); err != nil {
		t.Fatal(err)
	}
	h = newTestHost(t, Config{Home: home})
	n := count(h)
	if n[audit.ActionKeyCreate] != 2 || n[audit.ActionKeyRotate] != 1 || n[audit.ActionPolicyLoad] != 3 {
		t.Fatalf("events by action: %v (want 2 key.create, 1 key.rotate, 3 policy.load)", n)
	}
}
