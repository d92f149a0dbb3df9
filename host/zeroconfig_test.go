package host

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/store"
)

// refreshHangAfter bounds the wait below. It is a hang detector, not a timing
// assertion: the default refresh interval is 2 s, and the tests assert what
// happened, never how fast.
const refreshHangAfter = 3 * time.Minute

// The zero Config cannot be built (Home has no safe default), and values
// that would mean "off" or nothing are refused by name rather than guessed:
// before issue 11, a negative RefreshInterval turned the background refresh
// off, so that a revocation by another process never reached the host.
func TestZeroConfigRefusedByField(t *testing.T) {
	ctx := context.Background()
	home := filepath.Join(t.TempDir(), "home")
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{}, "Config.Home"},
		{Config{Home: home, RefreshInterval: -1}, "Config.RefreshInterval"},
		{Config{Home: home, PoolSize: -1}, "Config.PoolSize"},
		{Config{Home: home, MaxMemoryMB: -1}, "Config.MaxMemoryMB"},
	} {
		h, err := New(ctx, tc.cfg)
		if err == nil {
			h.Close()
			t.Fatalf("New(%+v) succeeded; want an error naming %s", tc.cfg, tc.field)
		}
		if !strings.Contains(err.Error(), tc.field) {
			t.Fatalf("New(%+v): %v; want an error naming %s", tc.cfg, err, tc.field)
		}
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Fatalf("a refused Config left state behind: %v", err)
	}
}

// Attack (issue 11): a host built from a Config with nothing but its home
// keeps refreshing in the background, so a grant removed by another warden
// process (`warden grant --remove` while `warden mcp` runs) stops the
// plugin's reads without anyone calling refresh, and the refused read is in
// the ledger.
func TestZeroConfigHostRefreshes(t *testing.T) {
	ctx := context.Background()
	data, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	file := filepath.Join(data, "f.txt")
	must(t, os.WriteFile(file, []byte("granted data"), 0o644))
	home := filepath.Join(t.TempDir(), "home")
	h, err := New(ctx, Config{Home: home})
	must(t, err)
	t.Cleanup(func() { h.Close() })
	man := attackManifest("g", []map[string]any{{"resource": "filesystem:" + data, "actions": []string{"read"}, "reason": "test"}}, map[string]any{})
	_, err = h.Install(ctx, pluginDir(t, guestWasm(t, attackSrc), man), InstallOptions{
		Grants: []Grant{{Resource: "filesystem:" + data, Actions: []string{"read"}}}})
	must(t, err)

	read := func() (string, []uint64) {
		t.Helper()
		res, err := h.Invoke(ctx, "g", "readfile", mustJSON(t, map[string]string{"path": file}))
		must(t, err)
		var out struct{ Data, Errno string }
		must(t, json.Unmarshal(res.Output, &out))
		if out.Errno != "" {
			return "errno:" + out.Errno, res.Events
		}
		return out.Data, res.Events
	}
	if got, _ := read(); got != "granted data" {
		t.Fatalf("with the grant: %q", got)
	}

	// Another process removes every grant of the plugin.
	other, err := store.Open(ctx, store.Path(home))
	must(t, err)
	grants, err := other.ListGrants(ctx, "g")
	must(t, err)
	if len(grants) == 0 {
		t.Fatal("the install gave no grant")
	}
	for _, g := range grants {
		must(t, other.DeleteGrant(ctx, g.ID))
	}
	must(t, other.Close())

	deadline := time.Now().Add(refreshHangAfter)
	for {
		got, events := read()
		if got == "errno:permission" {
			denied := false
			for _, ev := range eventsOf(t, h, events) {
				if ev.Decision.Effect == audit.EffectDeny && ev.Resource == "filesystem:"+file {
					denied = true
				}
			}
			if !denied {
				t.Fatalf("the refused read left no deny event for filesystem:%s in the ledger", file)
			}
			return
		}
		if got != "granted data" {
			t.Fatalf("read after the grant was removed: %q", got)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the grant removed by another process still allowed reads after %v: the host does not refresh", refreshHangAfter)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
