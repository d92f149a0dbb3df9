package adminaudit

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/store"
)

func openTestLedger(t *testing.T, dir string) *audit.Ledger {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(nil)
	l, err := audit.Open(filepath.Join(dir, "audit"), audit.WithSigner(hostkey.NewSigner(priv)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func grantEvent(plugin string) *audit.Event {
	ev := Event(store.Event{Type: store.EventGrantAdded, Grant: &store.Grant{ID: 7, Plugin: plugin,
		Resource: "filesystem:/tmp/x", Actions: []string{"read"}, Source: store.SourceUser}})
	ev.Actor = audit.Actor{Plugin: "warden"}
	return ev
}

func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// ledgerEvents returns the events of l whose actor is warden, in order.
func ledgerEvents(t *testing.T, l *audit.Ledger) []*audit.Event {
	t.Helper()
	var out []*audit.Event
	for e, err := range l.Read(0) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Event)
	}
	return out
}

func TestSpoolThenDrainKeepsOrderAndTime(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	dir := SpoolDir(filepath.Join(home, "audit"))
	if dir != filepath.Join(home, "audit.spool") {
		t.Fatalf("SpoolDir = %s", dir)
	}
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	var ids []string
	for i, p := range []string{"a", "b", "c"} {
		ev := grantEvent(p)
		ev.Time = t0.Add(time.Duration(i) * time.Second)
		id, err := Spool(dir, ev)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if n, err := Pending(dir); err != nil || n != 3 {
		t.Fatalf("Pending = %d, %v; want 3", n, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("spool dir mode: %v %v", fi, err)
	}

	l := openTestLedger(t, home)
	n, err := Drain(ctx, dir, l, audit.Actor{Plugin: "warden"})
	if err != nil || n != 3 {
		t.Fatalf("Drain = %d, %v; want 3", n, err)
	}
	if left := spoolFiles(t, dir); len(left) != 0 {
		t.Fatalf("spool not empty after drain: %v", left)
	}
	evs := ledgerEvents(t, l)
	if len(evs) != 3 {
		t.Fatalf("ledger has %d events, want 3", len(evs))
	}
	for i, ev := range evs {
		if ev.Detail["plugin"] != []string{"a", "b", "c"}[i] {
			t.Errorf("event %d is for %q: order lost", i, ev.Detail["plugin"])
		}
		if ev.Detail[DetailSpoolID] != ids[i] {
			t.Errorf("event %d spool_id %q, want %q", i, ev.Detail[DetailSpoolID], ids[i])
		}
		if want := t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano); ev.Detail[DetailSpooledAt] != want {
			t.Errorf("event %d spooled_at %q, want %q", i, ev.Detail[DetailSpooledAt], want)
		}
		if ev.Action != audit.ActionGrant || ev.Actor.Plugin != "warden" {
			t.Errorf("event %d = %+v", i, ev)
		}
	}
	// A second drain finds nothing.
	if n, err := Drain(ctx, dir, l, audit.Actor{}); err != nil || n != 0 {
		t.Fatalf("second Drain = %d, %v", n, err)
	}
}

// A drain that stops between the append and the delete (a crash) must not
// lose the event, and the next drain must not append it again.
func TestDrainInterruptedAfterAppend(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	dir := SpoolDir(filepath.Join(home, "audit"))
	id1, err := Spool(dir, grantEvent("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Spool(dir, grantEvent("b")); err != nil {
		t.Fatal(err)
	}
	l := openTestLedger(t, home)
	// Some unrelated event first, so the mark is not 0.
	if _, err := l.Append(ctx, &audit.Event{Action: "call"}); err != nil {
		t.Fatal(err)
	}

	testHookAfterAppend = func() bool { return true }
	n, err := Drain(ctx, dir, l, audit.Actor{})
	testHookAfterAppend = nil
	if err != nil || n != 1 {
		t.Fatalf("interrupted Drain = %d, %v; want 1", n, err)
	}
	left := spoolFiles(t, dir)
	if len(left) != 2 || !strings.HasPrefix(left[0], id1+".json.draining-1") {
		t.Fatalf("after the crash the spool holds %v; want the first event marked draining-1 and the second", left)
	}
	// Another host appends meanwhile.
	if _, err := l.Append(ctx, &audit.Event{Action: "call"}); err != nil {
		t.Fatal(err)
	}

	n, err = Drain(ctx, dir, l, audit.Actor{})
	if err != nil || n != 1 {
		t.Fatalf("re-drain = %d, %v; want 1 (only the second event)", n, err)
	}
	if left := spoolFiles(t, dir); len(left) != 0 {
		t.Fatalf("spool not empty: %v", left)
	}
	count := map[string]int{}
	for _, ev := range ledgerEvents(t, l) {
		if id := ev.Detail[DetailSpoolID]; id != "" {
			count[ev.Detail["plugin"]]++
		}
	}
	if count["a"] != 1 || count["b"] != 1 {
		t.Fatalf("spooled events in the ledger: %v; want each exactly once", count)
	}
}

// When the re-drain cannot find the first append (the ledger lost its
// unsynced tail, or the mark is stale), it appends again: never a loss, and a
// duplicate would carry the same spool_id.
func TestDrainMarkedButNotAppended(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	dir := SpoolDir(filepath.Join(home, "audit"))
	id, err := Spool(dir, grantEvent("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, id+".json"), filepath.Join(dir, id+".json.draining-0")); err != nil {
		t.Fatal(err)
	}
	l := openTestLedger(t, home)
	if n, err := Drain(ctx, dir, l, audit.Actor{}); err != nil || n != 1 {
		t.Fatalf("Drain = %d, %v; want 1", n, err)
	}
	evs := ledgerEvents(t, l)
	if len(evs) != 1 || evs[0].Detail[DetailSpoolID] != id {
		t.Fatalf("ledger = %+v", evs)
	}
}

// Attack: a file dropped into the spool that is not a spooled event is not
// appended as if it were, is not deleted, and is itself logged.
func TestDrainRefusesBadFiles(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	dir := SpoolDir(filepath.Join(home, "audit"))
	good, err := Spool(dir, grantEvent("a"))
	if err != nil {
		t.Fatal(err)
	}
	bad := "00000000000000000001-0000000000000000"
	if err := os.WriteFile(filepath.Join(dir, bad+".json"), []byte(`{"action":"grant","id":"x","time":"2025-01-01T00:00:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Ignored: not spool names, temporary files, a directory.
	for _, name := range []string{"notes.txt", ".tmp-" + good + ".json", "zzz.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l := openTestLedger(t, home)
	n, err := Drain(ctx, dir, l, audit.Actor{Plugin: "warden"})
	if err != nil || n != 1 {
		t.Fatalf("Drain = %d, %v; want 1", n, err)
	}
	evs := ledgerEvents(t, l)
	if len(evs) != 2 || evs[0].Action != ActionSpoolBad || evs[0].Outcome != audit.OutcomeError || evs[1].Detail[DetailSpoolID] != good {
		t.Fatalf("ledger = %+v", evs)
	}
	if _, err := os.Stat(filepath.Join(dir, bad+".json.bad")); err != nil {
		t.Fatalf("bad file not kept: %v", err)
	}
	if n, err := Drain(ctx, dir, l, audit.Actor{}); err != nil || n != 0 || l.Len() != 2 {
		t.Fatalf("second Drain = %d, %v, ledger %d", n, err, l.Len())
	}
}

func TestSpoolIDsSortByTime(t *testing.T) {
	now := time.Now()
	a, b := newSpoolID(now), newSpoolID(now)
	if !(a < b) || !validSpoolID(a) || !validSpoolID(b) {
		t.Fatalf("ids %s, %s", a, b)
	}
	for _, bad := range []string{"", "x", "0000000000000000000a-0000000000000000", "00000000000000000001-000000000000000G", "00000000000000000001_0000000000000000"} {
		if validSpoolID(bad) {
			t.Errorf("validSpoolID(%q) = true", bad)
		}
	}
}

func FuzzParseSpooled(f *testing.F) {
	ev := grantEvent("a")
	ev.Time = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ev.ID = "00000000000000000001-0123456789abcdef"
	good, _ := ev.AppendCanonical(nil)
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"action":"grant","id":"00000000000000000001-0123456789abcdef","time":"2025-01-01T00:00:00Z","detail":{"BAD KEY":"x"}}`))
	f.Add([]byte(`{"action":"","id":"00000000000000000001-0123456789abcdef","time":"2025-01-01T00:00:00Z"}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseSpooled(data)
		if err != nil {
			return
		}
		// Whatever parses must be appendable.
		ev.ID, ev.Time = "x-1", time.Unix(1, 0)
		if _, err := ev.AppendCanonical(nil); err != nil {
			t.Fatalf("ParseSpooled accepted an event the ledger refuses: %v", err)
		}
		if !validSpoolID(ev.Detail[DetailSpoolID]) {
			t.Fatalf("spool id %q", ev.Detail[DetailSpoolID])
		}
	})
}
