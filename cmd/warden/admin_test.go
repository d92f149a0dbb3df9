package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/host"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/internal/adminaudit"
)

// holdLedger opens <home>/audit for writing, as a running host does, so that
// the CLI cannot.
func holdLedger(t *testing.T, home string) *audit.Ledger {
	t.Helper()
	ring, err := hostkey.Open(filepath.Join(home, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(filepath.Join(home, "audit"), audit.WithSigner(ring.Signer()))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// spooledEvents returns the administrative events in l that came through the
// spool, by spool id.
func spooledEvents(t *testing.T, l *audit.Ledger) map[string][]*audit.Event {
	t.Helper()
	out := map[string][]*audit.Event{}
	for e, err := range l.Read(0) {
		if err != nil {
			t.Fatal(err)
		}
		if id := e.Event.Detail[adminaudit.DetailSpoolID]; id != "" {
			out[id] = append(out[id], e.Event)
		}
	}
	return out
}

func spoolDirOf(home string) string { return adminaudit.SpoolDir(auditDir(home)) }

func pending(t *testing.T, home string) int {
	t.Helper()
	n, err := adminaudit.Pending(spoolDirOf(home))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// While another process holds the ledger, grant and revoke succeed, say that
// their events were spooled, and the spool holds them; the CLI drains them
// the next time it gets the ledger.
func TestGrantWhileLedgerHeldIsSpooled(t *testing.T) {
	home := t.TempDir()
	if code, _, errOut := runCLI(t, home, "grant", "p", "clipboard", "read", "--key", pendingKey); code != 0 {
		t.Fatalf("grant: %s", errOut)
	}
	held := holdLedger(t, home)
	before := held.Len()

	code, out, errOut := runCLI(t, home, "grant", "p", "clipboard", "write", "--key", pendingKey)
	if code != 0 || !strings.Contains(out, "grant 2") || !strings.Contains(errOut, "notice:") || !strings.Contains(errOut, "spooled") {
		t.Fatalf("grant while the ledger is held: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, home, "revoke", "--token", "jti-9"); code != 0 || !strings.Contains(errOut, "spooled") {
		t.Fatalf("revoke while the ledger is held: exit %d %s", code, errOut)
	}
	if n := pending(t, home); n != 2 {
		t.Fatalf("spool holds %d events, want 2", n)
	}
	if held.Len() != before {
		t.Fatal("the CLI appended to a ledger another process holds")
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}

	// The next CLI command that writes the ledger drains the spool first.
	if code, _, errOut := runCLI(t, home, "grant", "p", "clipboard", "read", "--key", pendingKey); code != 0 || strings.Contains(errOut, "notice") {
		t.Fatalf("grant after the host stopped: exit %d %s", code, errOut)
	}
	if n := pending(t, home); n != 0 {
		t.Fatalf("spool still holds %d events", n)
	}
	l := holdLedger(t, home)
	defer l.Close()
	sp := spooledEvents(t, l)
	if len(sp) != 2 {
		t.Fatalf("ledger holds %d spooled events, want 2: %v", len(sp), sp)
	}
	var order []string
	for e, err := range l.Read(before) {
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, e.Event.Detail["change"]+"/"+e.Event.Detail[adminaudit.DetailSpoolID])
	}
	if len(order) != 3 || !strings.HasPrefix(order[0], "grant.added/") || !strings.HasPrefix(order[1], "revoked/") || order[2] != "grant.added/" {
		t.Fatalf("events after the hold, in order: %v; want the two spooled ones, then the direct one", order)
	}
	for id, evs := range sp {
		if len(evs) != 1 {
			t.Fatalf("spooled event %s appears %d times", id, len(evs))
		}
	}
}

// A running host drains the spool at start: the event a CLI spooled while
// another host held the ledger is logged exactly once.
func TestHostDrainsSpool(t *testing.T) {
	home := t.TempDir()
	held := holdLedger(t, home)
	if code, _, errOut := runCLI(t, home, "revoke", "--plugin", "p", "--reason", "test"); code != 0 || !strings.Contains(errOut, "spooled") {
		t.Fatalf("revoke while the ledger is held: exit %d %s", code, errOut)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := host.New(context.Background(), host.Config{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	sp := spooledEvents(t, h.Ledger())
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if len(sp) != 1 {
		t.Fatalf("host logged %d spooled events, want 1", len(sp))
	}
	for _, evs := range sp {
		if len(evs) != 1 || evs[0].Action != audit.ActionRevoke || evs[0].Resource != "plugin:p" || evs[0].Detail["reason"] != "test" {
			t.Fatalf("spooled event = %+v", evs)
		}
	}
	if n := pending(t, home); n != 0 {
		t.Fatalf("spool still holds %d events", n)
	}
	des, err := os.ReadDir(spoolDirOf(home))
	if err != nil || len(des) != 0 {
		t.Fatalf("spool directory: %v %v", des, err)
	}
}

// With the host running (holding the ledger), a CLI change is spooled and
// the host logs it on Close's final drain — the same drain its refresh loop
// runs every interval.
func TestRunningHostLogsCLIChange(t *testing.T) {
	home := t.TempDir()
	h, err := host.New(context.Background(), host.Config{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, home, "grant", "p", "clipboard", "read", "--key", pendingKey)
	if code != 0 || !strings.Contains(errOut, "spooled") {
		h.Close()
		t.Fatalf("grant with a running host: exit %d %s", code, errOut)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	l := holdLedger(t, home)
	defer l.Close()
	if sp := spooledEvents(t, l); len(sp) != 1 {
		t.Fatalf("ledger holds %d spooled events, want 1", len(sp))
	}
	if n := pending(t, home); n != 0 {
		t.Fatalf("spool still holds %d events", n)
	}
}
