package host

import (
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/internal/adminaudit"
)

// A running host appends what a CLI spools while it holds the ledger, on its
// refresh loop, without a restart.
func TestRefreshLoopDrainsSpool(t *testing.T) {
	h := newTestHost(t, Config{RefreshInterval: 5 * time.Millisecond})
	dir := adminaudit.SpoolDir(h.Ledger().Dir())
	id, err := adminaudit.Spool(dir, &audit.Event{Action: audit.ActionGrant, Actor: audit.Actor{Plugin: "warden"},
		Resource: "clipboard", Detail: map[string]string{"change": "grant.added"}})
	must(t, err)
	// Wait for the condition, not for a time: the deadline only stops a
	// broken loop from hanging the test.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := adminaudit.Pending(dir)
		must(t, err)
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refresh loop did not drain the spool")
		}
		time.Sleep(5 * time.Millisecond)
	}
	found := 0
	for e, err := range h.Ledger().Read(0) {
		must(t, err)
		if e.Event.Detail[adminaudit.DetailSpoolID] == id {
			found++
		}
	}
	if found != 1 {
		t.Fatalf("spooled event logged %d times, want 1", found)
	}
}
